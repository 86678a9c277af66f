//! The `[smtp]` section of `backproof.toml`: how reports are sent.

use std::path::Path;
use std::time::Duration;

use lettre::message::Mailbox;
use serde::Deserialize;
use toml::Spanned;

use super::error::ConfigError;
use super::secret::{self, Secret, SecretKeys};

/// Raw `[smtp]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: Spanned<String>,
    pub port: Option<Spanned<u16>>,
    pub security: Option<Spanned<Security>>,
    pub username: Option<Spanned<String>>,
    pub password: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    /// PEM file with an extra CA certificate to trust (an MSP's internal relay).
    pub ca_file: Option<Spanned<String>>,
    pub from: Spanned<String>,
    pub reply_to: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    /// Limit on the whole conversation for one message; default 4 × `timeout`.
    pub send_timeout: Option<Spanned<String>>,
}

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP (only for a relay on the same host or a trusted network).
    None,
    /// Plain connection upgraded with STARTTLS; refuses a server that cannot.
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

/// Validated SMTP settings.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<(String, Secret)>,
    /// Extra CA certificate (PEM) to trust.
    pub ca_pem: Option<Vec<u8>>,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// Limit on connecting to the relay.
    pub timeout: Duration,
    /// Limit on the whole conversation for one message (connect, TLS, login, every
    /// command, the data): a relay that stops answering cannot hold a delivery longer.
    pub send_timeout: Duration,
}

/// The default `send_timeout` is this many times `timeout`.
pub const SEND_TIMEOUT_FACTOR: u32 = 4;

impl SmtpConfig {
    /// Validates the raw table; errors and warnings name `smtp.<key>`.
    pub fn build(
        raw: &RawSmtp,
        file: &Path,
        source: &str,
        errors: &mut Vec<ConfigError>,
        warnings: &mut Vec<ConfigError>,
    ) -> Option<SmtpConfig> {
        let before = errors.len();
        let mut err = |span: std::ops::Range<usize>, key: &str, message: String| {
            errors.push(ConfigError::at_key(
                file,
                source,
                span,
                format!("smtp.{key}"),
                message,
            ));
        };
        let security = raw
            .security
            .as_ref()
            .map(|s| *s.get_ref())
            .unwrap_or(Security::Starttls);
        let port = raw
            .port
            .as_ref()
            .map(|p| *p.get_ref())
            .unwrap_or(match security {
                Security::None => 25,
                Security::Starttls => 587,
                Security::Tls => 465,
            });
        let mailbox =
            |v: &Spanned<String>,
             key: &str,
             err: &mut dyn FnMut(std::ops::Range<usize>, &str, String)| {
                match super::address::mailbox(v.get_ref()) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        err(v.span(), key, e);
                        None
                    }
                }
            };
        let from = mailbox(&raw.from, "from", &mut err);
        let reply_to = raw
            .reply_to
            .as_ref()
            .and_then(|r| mailbox(r, "reply_to", &mut err));
        let mut duration = |v: &Option<Spanned<String>>, key: &str, default: Duration| match v {
            None => default,
            Some(t) => match humantime::parse_duration(t.get_ref().trim()) {
                Ok(d) if d >= Duration::from_secs(1) => d,
                _ => {
                    err(
                        t.span(),
                        key,
                        format!("`{}` is not a duration of 1s or more", t.get_ref()),
                    );
                    default
                }
            },
        };
        let timeout = duration(&raw.timeout, "timeout", Duration::from_secs(30));
        let send_timeout = duration(
            &raw.send_timeout,
            "send_timeout",
            timeout * SEND_TIMEOUT_FACTOR,
        );
        let ca_pem = raw.ca_file.as_ref().and_then(|f| {
            let path = super::load::folder_of(file).join(f.get_ref());
            match std::fs::read(&path) {
                Ok(bytes)
                    if lettre::transport::smtp::client::Certificate::from_pem(&bytes).is_ok() =>
                {
                    Some(bytes)
                }
                Ok(_) => {
                    err(
                        f.span(),
                        "ca_file",
                        format!("{} holds no PEM certificate", path.display()),
                    );
                    None
                }
                Err(e) => {
                    err(
                        f.span(),
                        "ca_file",
                        format!("cannot read {}: {e}", path.display()),
                    );
                    None
                }
            }
        });
        let has_password =
            raw.password.is_some() || raw.password_file.is_some() || raw.password_env.is_some();
        let credentials = match (&raw.username, has_password) {
            (None, false) => None,
            (None, true) => {
                let span = [&raw.password, &raw.password_file, &raw.password_env]
                    .into_iter()
                    .flatten()
                    .next()
                    .map(|s| s.span())
                    .unwrap_or(raw.host.span());
                err(
                    span,
                    "username",
                    "a password is given but no `username`".into(),
                );
                None
            }
            (Some(user), _) => {
                match secret::resolve(SecretKeys {
                    name: "password",
                    base: super::load::folder_of(file),
                    file: raw.password_file.as_ref(),
                    env: raw.password_env.as_ref(),
                    inline: raw.password.as_ref(),
                }) {
                    Ok((secret, warning)) => {
                        if let Some(w) = warning {
                            warnings.push(ConfigError::at_key(
                                file,
                                source,
                                w.span.unwrap_or(user.span()),
                                format!("smtp.{}", w.key),
                                w.message,
                            ));
                        }
                        Some((user.get_ref().clone(), secret))
                    }
                    Err(p) => {
                        err(p.span.unwrap_or(user.span()), &p.key, p.message);
                        None
                    }
                }
            }
        };
        if security == Security::None && credentials.is_some() {
            warnings.push(ConfigError::at_key(
                file,
                source,
                raw.host.span(),
                "smtp.security",
                "the SMTP password would travel unencrypted; use security = \"starttls\" or \"tls\"",
            ));
        }
        if errors.len() != before {
            return None;
        }
        Some(SmtpConfig {
            host: raw.host.get_ref().trim().to_string(),
            port,
            security,
            credentials,
            ca_pem,
            from: from?,
            reply_to,
            timeout,
            send_timeout,
        })
    }
}

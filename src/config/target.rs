//! Turning a raw `[[targets]]` entry into a validated [`Location`].

use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::error::ConfigError;
use super::location::{
    Encryption, Location, S3Location, SmbLocation, TargetUrl, has_userinfo, redact_userinfo,
};
use super::raw::RawConnection;
use super::secret::{self, SecretKeys};

/// Default limit for one S3 request or SMB operation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Collects the errors and warnings of one target entry.
pub struct Checker<'a> {
    pub file: &'a Path,
    pub source: &'a str,
    /// `targets[N]`, prefixed to every key.
    pub prefix: String,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
}

impl Checker<'_> {
    fn err<T>(&mut self, value: &Spanned<T>, key: &str, message: impl Into<String>) {
        let e = ConfigError::at_key(
            self.file,
            self.source,
            value.span(),
            format!("{}.{key}", self.prefix),
            message,
        );
        self.errors.push(e);
    }

    fn err_at_url(&mut self, url: &Spanned<TargetUrl>, message: impl Into<String>) {
        self.err(url, "url", message);
    }

    /// Validates `raw` into a location; `None` if it has errors (recorded in `self`).
    pub fn location(&mut self, raw: &RawConnection) -> Option<Location> {
        let errors_before = self.errors.len();
        let scheme = raw.url.get_ref().scheme();
        let s3_keys = [
            ("endpoint", raw.endpoint.as_ref().map(Spanned::span)),
            ("region", raw.region.as_ref().map(Spanned::span)),
            ("path_style", raw.path_style.as_ref().map(Spanned::span)),
            (
                "access_key_id",
                raw.access_key_id.as_ref().map(Spanned::span),
            ),
            (
                "secret_access_key",
                raw.secret_access_key.as_ref().map(Spanned::span),
            ),
            (
                "secret_access_key_file",
                raw.secret_access_key_file.as_ref().map(Spanned::span),
            ),
            (
                "secret_access_key_env",
                raw.secret_access_key_env.as_ref().map(Spanned::span),
            ),
        ];
        let smb_keys = [
            ("username", raw.username.as_ref().map(Spanned::span)),
            ("domain", raw.domain.as_ref().map(Spanned::span)),
            ("password", raw.password.as_ref().map(Spanned::span)),
            (
                "password_file",
                raw.password_file.as_ref().map(Spanned::span),
            ),
            ("password_env", raw.password_env.as_ref().map(Spanned::span)),
            ("encryption", raw.encryption.as_ref().map(Spanned::span)),
        ];
        let misplaced = |keys: &[(&str, Option<std::ops::Range<usize>>)], wanted: &str| {
            keys.iter()
                .filter_map(|(k, span)| {
                    span.clone().map(|s| (k.to_string(), s, wanted.to_string()))
                })
                .collect::<Vec<_>>()
        };
        let mut wrong = Vec::new();
        if scheme != "s3" {
            wrong.extend(misplaced(&s3_keys, "s3"));
        }
        if scheme != "smb" {
            wrong.extend(misplaced(&smb_keys, "smb"));
        }
        if scheme == "file"
            && let Some(t) = &raw.timeout
        {
            wrong.push(("timeout".into(), t.span(), "s3:// and smb".into()));
        }
        for (key, span, wanted) in wrong {
            self.errors.push(ConfigError::at_key(
                self.file,
                self.source,
                span,
                format!("{}.{key}", self.prefix),
                format!("`{key}` applies to {wanted}:// targets only; this target is {scheme}://"),
            ));
        }
        let timeout = self.timeout(raw);

        let location = match raw.url.get_ref().clone() {
            TargetUrl::Local(path) => Some(Location::Local(path)),
            TargetUrl::S3 { bucket, prefix } => self.s3(raw, bucket, prefix, timeout),
            TargetUrl::Smb {
                host,
                port,
                share,
                path,
            } => self.smb(raw, host, port, share, path, timeout),
        };
        (self.errors.len() == errors_before)
            .then_some(location)
            .flatten()
    }

    fn timeout(&mut self, raw: &RawConnection) -> Duration {
        let Some(t) = &raw.timeout else {
            return DEFAULT_TIMEOUT;
        };
        match humantime::parse_duration(t.get_ref().trim()) {
            Ok(d) if d >= Duration::from_secs(1) && d <= Duration::from_secs(3600) => d,
            Ok(_) => {
                self.err(t, "timeout", "must be between 1s and 1h");
                DEFAULT_TIMEOUT
            }
            Err(e) => {
                self.err(
                    t,
                    "timeout",
                    format!(
                        "`{}` is not a duration ({e}); write for example \"30s\"",
                        t.get_ref()
                    ),
                );
                DEFAULT_TIMEOUT
            }
        }
    }

    pub(super) fn secret(
        &mut self,
        keys: SecretKeys<'_>,
        anchor: &Spanned<TargetUrl>,
    ) -> Option<secret::Secret> {
        match secret::resolve(keys) {
            Ok((secret, warning)) => {
                if let Some(w) = warning {
                    self.warnings.push(self.problem(w, anchor));
                }
                Some(secret)
            }
            Err(problem) => {
                let e = self.problem(problem, anchor);
                self.errors.push(e);
                None
            }
        }
    }

    fn problem(&self, p: secret::SecretProblem, anchor: &Spanned<TargetUrl>) -> ConfigError {
        ConfigError::at_key(
            self.file,
            self.source,
            p.span.unwrap_or_else(|| anchor.span()),
            format!("{}.{}", self.prefix, p.key),
            p.message,
        )
    }

    fn s3(
        &mut self,
        raw: &RawConnection,
        bucket: String,
        prefix: String,
        timeout: Duration,
    ) -> Option<Location> {
        let endpoint = match &raw.endpoint {
            None => None,
            Some(e) => {
                let text = e.get_ref().trim().trim_end_matches('/').to_string();
                let shown = redact_userinfo(&text);
                match url::Url::parse(&text) {
                    _ if has_userinfo(&text) => {
                        self.err(
                            e,
                            "endpoint",
                            format!("`{shown}`: put no credentials in the endpoint; use `access_key_id` and a secret file"),
                        );
                        None
                    }
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                        Some(text)
                    }
                    _ => {
                        self.err(
                            e,
                            "endpoint",
                            format!("`{shown}` is not an http:// or https:// server URL"),
                        );
                        None
                    }
                }
            }
        };
        let Some(access_key_id) = &raw.access_key_id else {
            self.err_at_url(&raw.url, "an s3:// target needs `access_key_id` and a secret (`secret_access_key_file` or `secret_access_key_env`)");
            return None;
        };
        let secret = self.secret(
            SecretKeys {
                name: "secret_access_key",
                base: super::load::folder_of(self.file),
                file: raw.secret_access_key_file.as_ref(),
                env: raw.secret_access_key_env.as_ref(),
                inline: raw.secret_access_key.as_ref(),
            },
            &raw.url,
        )?;
        Some(Location::S3(S3Location {
            bucket,
            prefix,
            endpoint,
            region: raw
                .region
                .as_ref()
                .map(|r| r.get_ref().clone())
                .unwrap_or_else(|| "us-east-1".into()),
            path_style: raw
                .path_style
                .as_ref()
                .map(|p| *p.get_ref())
                .unwrap_or(false),
            access_key_id: access_key_id.get_ref().clone(),
            secret_access_key: secret,
            timeout,
        }))
    }

    fn smb(
        &mut self,
        raw: &RawConnection,
        host: String,
        port: u16,
        share: String,
        path: String,
        timeout: Duration,
    ) -> Option<Location> {
        let Some(username) = &raw.username else {
            self.err_at_url(&raw.url, "an smb:// target needs `username` and a password (`password_file` or `password_env`)");
            return None;
        };
        let password = self.secret(
            SecretKeys {
                name: "password",
                base: super::load::folder_of(self.file),
                file: raw.password_file.as_ref(),
                env: raw.password_env.as_ref(),
                inline: raw.password.as_ref(),
            },
            &raw.url,
        )?;
        Some(Location::Smb(SmbLocation {
            host,
            port,
            share,
            path,
            username: username.get_ref().clone(),
            domain: raw
                .domain
                .as_ref()
                .map(|d| d.get_ref().clone())
                .unwrap_or_else(|| "WORKGROUP".into()),
            password,
            encryption: raw
                .encryption
                .as_ref()
                .map(|e| *e.get_ref())
                .unwrap_or(Encryption::Preferred),
            timeout,
        }))
    }
}

//! Alert hooks in the configuration: a job's dead-man's switch (`ping_url`,
//! `ping_format`) and the daemon's heartbeat (`[daemon] heartbeat_url`,
//! `heartbeat_interval`).
//!
//! Ping URLs often carry a secret (the UUID of a Healthchecks check, the token of an Uptime
//! Kuma push monitor): [`PingUrl`] never prints more than its scheme and host, and no error
//! message here repeats the URL.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

/// How a monitor expects to be pinged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PingFormat {
    /// Healthchecks (and compatible): `<url>/start`, `<url>`, `<url>/fail`, the run's text
    /// summary as the body.
    #[default]
    Healthchecks,
    /// Uptime Kuma push monitor: `<url>?status=up|down&msg=...`.
    UptimeKuma,
}

/// A monitor's URL. `Debug` and `Display` show only the scheme and host: the path and
/// query usually hold the check's secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PingUrl(url::Url);

impl PingUrl {
    /// The full URL, for the HTTP client only. Never log or format it.
    pub fn expose(&self) -> &url::Url {
        &self.0
    }

    /// Parses an `http(s)://` URL; the error never repeats the URL.
    pub fn parse(text: &str) -> Result<PingUrl, String> {
        match url::Url::parse(text.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(PingUrl(u)),
            Ok(_) => Err("must be an http:// or https:// URL with a host".into()),
            Err(e) => Err(format!("is not a URL ({e})")),
        }
    }
}

impl fmt::Display for PingUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}/…",
            self.0.scheme(),
            self.0.host_str().unwrap_or("?")
        )
    }
}

impl fmt::Debug for PingUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PingUrl({self})")
    }
}

/// A job's dead-man's switch.
#[derive(Debug, Clone, PartialEq)]
pub struct Ping {
    pub url: PingUrl,
    pub format: PingFormat,
}

/// The daemon's heartbeat: pinged every `interval` while every part of it is healthy.
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    pub url: PingUrl,
    pub format: PingFormat,
    pub interval: Duration,
}

/// The default `heartbeat_interval`.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The job's `ping_url` / `ping_format`, checked.
pub fn job_ping(
    url: &Option<Spanned<String>>,
    format: &Option<Spanned<PingFormat>>,
    file: &Path,
    source: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Ping> {
    let Some(url) = url else {
        if let Some(f) = format {
            errors.push(ConfigError::at_key(
                file,
                source,
                f.span(),
                "ping_format",
                "needs ping_url",
            ));
        }
        return None;
    };
    match PingUrl::parse(url.get_ref()) {
        Ok(u) => Some(Ping {
            url: u,
            format: format.as_ref().map(|f| *f.get_ref()).unwrap_or_default(),
        }),
        Err(message) => {
            errors.push(ConfigError::at_key(
                file,
                source,
                url.span(),
                "ping_url",
                message,
            ));
            None
        }
    }
}

/// `[daemon] heartbeat_url`, `heartbeat_format`, `heartbeat_interval`, checked.
pub fn heartbeat(
    url: &Option<Spanned<String>>,
    format: &Option<Spanned<PingFormat>>,
    interval: &Option<Spanned<String>>,
    file: &Path,
    source: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Heartbeat> {
    let mut err = |span, key: &str, message: String| {
        errors.push(ConfigError::at_key(
            file,
            source,
            span,
            format!("daemon.{key}"),
            message,
        ));
    };
    let every = match interval {
        None => DEFAULT_HEARTBEAT_INTERVAL,
        Some(i) => match humantime::parse_duration(i.get_ref().trim()) {
            Ok(d) if d >= Duration::from_secs(1) => d,
            Ok(_) => {
                err(i.span(), "heartbeat_interval", "must be at least 1s".into());
                DEFAULT_HEARTBEAT_INTERVAL
            }
            Err(e) => {
                err(
                    i.span(),
                    "heartbeat_interval",
                    format!("`{}` is not a duration ({e})", i.get_ref()),
                );
                DEFAULT_HEARTBEAT_INTERVAL
            }
        },
    };
    let Some(url) = url else {
        if let Some(i) = interval {
            err(i.span(), "heartbeat_interval", "needs heartbeat_url".into());
        }
        if let Some(f) = format {
            err(f.span(), "heartbeat_format", "needs heartbeat_url".into());
        }
        return None;
    };
    match PingUrl::parse(url.get_ref()) {
        Ok(u) => Some(Heartbeat {
            url: u,
            format: format.as_ref().map(|f| *f.get_ref()).unwrap_or_default(),
            interval: every,
        }),
        Err(message) => {
            err(url.span(), "heartbeat_url", message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_url_never_shows_its_secret() {
        let u = PingUrl::parse("https://hc-ping.com/0f5e1c2a-secret-uuid?x=token").unwrap();
        assert_eq!(u.to_string(), "https://hc-ping.com/…");
        assert!(!format!("{u:?}").contains("secret"));
        let e = PingUrl::parse("ftp://host/secret-uuid").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        let e = PingUrl::parse("not a url secret-uuid").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }
}

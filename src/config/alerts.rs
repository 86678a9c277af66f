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

/// What a webhook posts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// The event as JSON (`schemas/webhook-v1.json`), signed per Standard Webhooks.
    #[default]
    Generic,
    /// A Slack incoming webhook: `{"text": ...}`.
    Slack,
    /// A Microsoft Teams workflow webhook: an Adaptive Card message.
    Teams,
    /// An ntfy topic: the text as the body, `Title`, `Priority` and `Tags` headers.
    Ntfy,
}

/// The events a webhook can be sent.
pub const WEBHOOK_EVENTS: &[&str] = &[
    "run.finished",
    "problem.opened",
    "problem.reminder",
    "problem.closed",
    "problem.acknowledged",
    "daemon.missed_schedule",
];

/// `[[webhooks]]` in `backproof.toml`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// A label for logs (default `webhooks[N]`).
    pub name: Option<Spanned<String>>,
    pub url: Spanned<String>,
    /// A file holding the Standard Webhooks secret (`whsec_` and base64).
    pub secret_file: Option<Spanned<String>>,
    pub events: Option<Spanned<Vec<String>>>,
    pub kind: Option<Spanned<WebhookKind>>,
}

/// A validated webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub name: String,
    /// Often a secret itself (Slack and Teams URLs are): never logged.
    pub url: PingUrl,
    pub kind: WebhookKind,
    /// The HMAC key (the secret's base64 part, decoded).
    pub secret: Option<super::Secret>,
    pub events: Vec<String>,
}

impl Webhook {
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }
}

/// The `[[webhooks]]` entries, checked; a relative `secret_file` is relative to `base`.
pub fn webhooks(
    raw: &[RawWebhook],
    base: &Path,
    file: &Path,
    source: &str,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigError>,
) -> Vec<Webhook> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for (i, w) in raw.iter().enumerate() {
        let key = |k: &str| format!("webhooks[{}].{k}", i + 1);
        let before = errors.len();
        let url = PingUrl::parse(w.url.get_ref())
            .map_err(|m| {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    w.url.span(),
                    key("url"),
                    m,
                ))
            })
            .ok();
        let kind = w.kind.as_ref().map(|k| *k.get_ref()).unwrap_or_default();
        let events = match &w.events {
            // Every event but run.finished (one per run: noisy in a chat or a PSA).
            None => WEBHOOK_EVENTS[1..].iter().map(|e| e.to_string()).collect(),
            Some(list) => {
                for e in list.get_ref() {
                    if !WEBHOOK_EVENTS.contains(&e.as_str()) {
                        errors.push(ConfigError::at_key(
                            file,
                            source,
                            list.span(),
                            key("events"),
                            format!(
                                "`{e}` is not an event; known: {}",
                                WEBHOOK_EVENTS.join(", ")
                            ),
                        ));
                    }
                }
                list.get_ref().clone()
            }
        };
        let secret = match &w.secret_file {
            None if kind == WebhookKind::Generic => {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    w.url.span(),
                    key("secret_file"),
                    "a generic webhook is signed: give secret_file, a file holding a Standard Webhooks secret (whsec_ and base64 of 24 to 64 random bytes, e.g. `echo whsec_$(openssl rand -base64 32)`)",
                ));
                None
            }
            None => None,
            Some(p) => {
                let path = base.join(p.get_ref());
                let mut problem = |m: String| {
                    errors.push(ConfigError::at_key(
                        file,
                        source,
                        p.span(),
                        key("secret_file"),
                        m,
                    ))
                };
                match std::fs::read_to_string(&path) {
                    Err(e) => {
                        problem(format!("cannot read {}: {e}", path.display()));
                        None
                    }
                    Ok(text) => {
                        let decoded = text
                            .trim()
                            .strip_prefix("whsec_")
                            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
                        match decoded {
                            Some(k) if (24..=64).contains(&k.len()) => {
                                if let Some(mode) = super::secret::readable_by_everyone(&path) {
                                    warnings.push(ConfigError::at_key(
                                        file,
                                        source,
                                        p.span(),
                                        key("secret_file"),
                                        format!(
                                            "{} can be read by every user of this machine (mode {mode:04o}); `chmod 600` it",
                                            path.display()
                                        ),
                                    ));
                                }
                                // Kept as base64 text in a Secret: never printed.
                                Some(super::Secret::new(
                                    base64::engine::general_purpose::STANDARD.encode(k),
                                ))
                            }
                            _ => {
                                problem(format!(
                                    "{} does not hold a Standard Webhooks secret (whsec_ and base64 of 24 to 64 bytes)",
                                    path.display()
                                ));
                                None
                            }
                        }
                    }
                }
            }
        };
        let name = w
            .name
            .as_ref()
            .map(|n| n.get_ref().clone())
            .unwrap_or_else(|| format!("webhooks[{}]", i + 1));
        if out.iter().any(|o: &Webhook| o.name == name) {
            errors.push(ConfigError::at_key(
                file,
                source,
                w.url.span(),
                key("name"),
                format!("a webhook named `{name}` is already defined"),
            ));
        }
        if let (Some(url), true) = (url, errors.len() == before) {
            out.push(Webhook {
                name,
                url,
                kind,
                secret,
                events,
            });
        }
    }
    out
}

/// `[alerts]` in `backproof.toml` (defaults) or in a job file (its own values).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// How often an open, unacknowledged problem is reminded of (default 24h).
    pub remind_every: Option<Spanned<String>>,
    /// After how long an open, unacknowledged problem goes to `escalate_to` too.
    pub escalate_after: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "super::raw::emails_opt")]
    pub escalate_to: Option<Vec<String>>,
}

/// How a job's open problems are followed up.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPolicy {
    pub remind_every: Duration,
    pub escalate_after: Option<Duration>,
    pub escalate_to: Vec<String>,
}

pub const DEFAULT_REMIND_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The job's `[alerts]` over the global one's, checked.
pub fn alert_policy(
    job: Option<&RawAlerts>,
    global: &AlertPolicy,
    file: &Path,
    source: &str,
    errors: &mut Vec<ConfigError>,
) -> AlertPolicy {
    let Some(raw) = job else {
        return global.clone();
    };
    let mut duration = |v: &Option<Spanned<String>>, key: &str| -> Option<Duration> {
        let v = v.as_ref()?;
        match humantime::parse_duration(v.get_ref().trim()) {
            Ok(d) if d >= Duration::from_secs(1) => Some(d),
            Ok(_) => {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    v.span(),
                    format!("alerts.{key}"),
                    "must be at least 1s",
                ));
                None
            }
            Err(e) => {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    v.span(),
                    format!("alerts.{key}"),
                    format!("`{}` is not a duration ({e})", v.get_ref()),
                ));
                None
            }
        }
    };
    let remind_every = duration(&raw.remind_every, "remind_every").unwrap_or(global.remind_every);
    let escalate_after = duration(&raw.escalate_after, "escalate_after").or(global.escalate_after);
    let escalate_to = raw
        .escalate_to
        .clone()
        .unwrap_or_else(|| global.escalate_to.clone());
    if escalate_after.is_some() && escalate_to.is_empty() {
        errors.push(ConfigError::file(
            file,
            "alerts.escalate_after needs alerts.escalate_to = [\"manager@msp.example\"]",
        ));
    }
    AlertPolicy {
        remind_every,
        escalate_after,
        escalate_to,
    }
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy {
            remind_every: DEFAULT_REMIND_EVERY,
            escalate_after: None,
            escalate_to: Vec::new(),
        }
    }
}

/// `[technicians_by_severity]` of a job: who gets what, instead of `technicians`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBySeverity {
    /// Failures, errors, recoveries, reminders, closings, missed runs (e.g. the PSA).
    #[serde(default, deserialize_with = "super::raw::emails_opt")]
    pub fail: Option<Vec<String>>,
    /// Warnings and routine passes (e.g. a softer NOC address).
    #[serde(default, deserialize_with = "super::raw::emails_opt")]
    pub warn: Option<Vec<String>>,
}

/// Who gets a job's messages by severity (each defaults to `technicians`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BySeverity {
    pub fail: Option<Vec<String>>,
    pub warn: Option<Vec<String>>,
}

impl super::Job {
    /// The technicians who get a message of `severity`: `fail` gets failures, errors and
    /// passes that close problems; `warn` gets warnings and routine passes.
    pub fn technicians_for(&self, severity: Severity) -> &[String] {
        let list = match severity {
            Severity::Fail => &self.technicians_by_severity.fail,
            Severity::Warn => &self.technicians_by_severity.warn,
        };
        list.as_deref().unwrap_or(&self.technicians)
    }
}

/// Which list of `technicians_by_severity` a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Failures, errors, and passes that close problems.
    Fail,
    /// Warnings and routine passes.
    Warn,
}

/// `[[maintenance]]` of a job: a recurring window (`schedule` + `duration`) or a one-off
/// (`from` + `to`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    pub schedule: Option<super::Schedule>,
    pub duration: Option<Spanned<String>>,
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<String>>,
}

/// A maintenance window: runs happen and are recorded, alerts about problems opened inside
/// are held until it ends (and sent then if the problem is still open).
#[derive(Debug, Clone, PartialEq)]
pub enum Maintenance {
    Recurring {
        schedule: Box<super::Schedule>,
        duration: Duration,
    },
    OneOff {
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    },
}

impl PartialEq for super::Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// `2026-12-01 20:00` (in `tz`) or RFC 3339.
fn parse_time(text: &str, tz: chrono_tz::Tz) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    let t = text.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&chrono::Utc));
    }
    let naive = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M").ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&chrono::Utc))
}

/// The `[[maintenance]]` entries of a job, checked.
pub fn maintenance(
    raw: &[RawMaintenance],
    tz: chrono_tz::Tz,
    file: &Path,
    source: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<Maintenance> {
    let mut out = Vec::new();
    for (i, m) in raw.iter().enumerate() {
        let key = |k: &str| format!("maintenance[{}].{k}", i + 1);
        let mut err = |span: Option<std::ops::Range<usize>>, k: &str, message: String| {
            errors.push(match span {
                Some(s) => ConfigError::at_key(file, source, s, key(k), message),
                None => ConfigError {
                    file: file.to_path_buf(),
                    line: None,
                    key: Some(key(k)),
                    message,
                },
            })
        };
        match (&m.schedule, &m.duration, &m.from, &m.to) {
            (Some(schedule), Some(d), None, None) => {
                match humantime::parse_duration(d.get_ref().trim()) {
                    Ok(duration) if !duration.is_zero() => out.push(Maintenance::Recurring {
                        schedule: Box::new(schedule.clone()),
                        duration,
                    }),
                    _ => err(
                        Some(d.span()),
                        "duration",
                        format!("`{}` is not a duration such as \"6h\"", d.get_ref()),
                    ),
                }
            }
            (None, None, Some(from), Some(to)) => {
                let f = parse_time(from.get_ref(), tz);
                let t = parse_time(to.get_ref(), tz);
                match (f, t) {
                    (Some(f), Some(t)) if f < t => out.push(Maintenance::OneOff { from: f, to: t }),
                    (Some(_), Some(_)) => err(Some(to.span()), "to", "must be after `from`".into()),
                    (None, _) => err(
                        Some(from.span()),
                        "from",
                        format!(
                            "`{}` is not a time such as \"2026-12-01 20:00\"",
                            from.get_ref()
                        ),
                    ),
                    (_, None) => err(
                        Some(to.span()),
                        "to",
                        format!(
                            "`{}` is not a time such as \"2026-12-02 06:00\"",
                            to.get_ref()
                        ),
                    ),
                }
            }
            _ => err(
                None,
                "schedule",
                "give either schedule = \"0 22 * * 6\" and duration = \"6h\", or from and to"
                    .into(),
            ),
        }
    }
    out
}

impl super::Job {
    /// The maintenance window in force at `t`, as (start, end), if any.
    pub fn window_at(
        &self,
        t: chrono::DateTime<chrono::Utc>,
    ) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
        self.maintenance.iter().find_map(|m| match m {
            Maintenance::OneOff { from, to } => (*from <= t && t < *to).then_some((*from, *to)),
            Maintenance::Recurring { schedule, duration } => {
                let start = schedule.last_at_or_before(self.timezone, t)?;
                let end = start + chrono::Duration::from_std(*duration).ok()?;
                (t < end).then_some((start, end))
            }
        })
    }
}

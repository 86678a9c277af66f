//! The configuration files exactly as written: strict serde structs.
//!
//! Unknown keys are errors (`deny_unknown_fields`). Values that have a syntax of their own
//! (durations, sizes, globs, cron, URLs, addresses) are checked while parsing, so the TOML
//! parser reports their line; cross-field rules are checked in [`super::load`].

use std::time::Duration;

use super::options::{FollowSymlinks, Format, Notify};
use serde::{Deserialize, Deserializer, de::Error as _};
use toml::Spanned;

use super::location::{Encryption, TargetUrl};
use super::schedule::Schedule;

/// `backproof.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGlobal {
    pub data_dir: Option<Spanned<String>>,
    pub scratch_dir: Option<Spanned<String>>,
    pub jobs_dir: Option<Spanned<String>>,
    #[serde(default)]
    pub policy: RawPolicy,
    pub smtp: Option<super::smtp::RawSmtp>,
    #[serde(default)]
    pub digest: RawDigest,
    /// Time zone of the schedules (IANA name); default the system's.
    pub timezone: Option<Spanned<String>>,
    #[serde(default)]
    pub daemon: RawDaemon,
    /// Signed webhooks and chat presets (see `super::alerts`).
    #[serde(default)]
    pub webhooks: Vec<super::alerts::RawWebhook>,
    /// Reminders and escalation of open problems, for every job.
    pub alerts: Option<super::alerts::RawAlerts>,
}

/// `[daemon]`: the long-running service.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    /// Address of the local API, `127.0.0.1:7878` by default.
    pub listen: Option<Spanned<String>>,
    /// Runs going on at once, over all jobs.
    pub max_concurrent_runs: Option<Spanned<u32>>,
    /// Run a job once soon after start when a scheduled run was missed.
    pub catch_up: Option<bool>,
    /// How soon after start, e.g. "1m".
    pub catch_up_delay: Option<Spanned<String>>,
    /// How long the scheduler, a run or the delivery worker may make no progress before
    /// the daemon counts as stuck (and stops answering the systemd watchdog).
    pub stall_timeout: Option<Spanned<String>>,
    /// How late a scheduled run may be before its job counts as having missed it.
    pub missed_grace: Option<Spanned<String>>,
    /// Dead-man's switch of the daemon itself (see `super::alerts`).
    pub heartbeat_url: Option<Spanned<String>>,
    pub heartbeat_format: Option<Spanned<super::alerts::PingFormat>>,
    pub heartbeat_interval: Option<Spanned<String>>,
    /// TLS for the API and pages (PEM files, relative to this file); needed to listen
    /// on an address other machines reach.
    pub tls_cert: Option<Spanned<String>>,
    pub tls_key: Option<Spanned<String>>,
    /// Retention: runs older than this are pruned from the catalog, e.g. "400d".
    pub keep_runs: Option<Spanned<String>>,
    /// Retention: at most this many runs are kept per job.
    pub max_runs_per_job: Option<Spanned<u64>>,
}

/// `[digest]`: the weekly summary for business owners.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDigest {
    /// When the daemon sends it (5-field cron, local time); default Monday 07:00.
    pub schedule: Option<Schedule>,
}

/// `[budget]` of a job: bytes its runs may read from its targets.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    #[serde(default, deserialize_with = "byte_size")]
    pub per_run: Option<u64>,
    #[serde(default, deserialize_with = "byte_size")]
    pub per_week: Option<u64>,
}

/// One file in `jobs.d/`: one client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    pub client: Spanned<String>,
    #[serde(default, deserialize_with = "emails")]
    pub owners: Vec<String>,
    #[serde(default, deserialize_with = "emails")]
    pub technicians: Vec<String>,
    pub schedule: Schedule,
    #[serde(default)]
    pub notify: Notify,
    /// Also send every emailed run report to the owners.
    #[serde(default)]
    pub report_to_owners: bool,
    /// This client's weekly summary schedule, if not the global one.
    pub digest_schedule: Option<Schedule>,
    /// Time zone of this job's schedules, if not the global one.
    pub timezone: Option<Spanned<String>>,
    /// Limits on bytes read from the targets (cloud download costs).
    #[serde(default)]
    pub budget: RawBudget,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub targets: Vec<RawTarget>,
    /// Dead-man's switch pinged at each run's start and end (see `super::alerts`).
    pub ping_url: Option<Spanned<String>>,
    pub ping_format: Option<Spanned<super::alerts::PingFormat>>,
    /// This job's reminders and escalation.
    pub alerts: Option<super::alerts::RawAlerts>,
    /// Who gets what, by severity, instead of `technicians`.
    pub technicians_by_severity: Option<super::alerts::RawBySeverity>,
    /// Maintenance windows: alerts held while one is in force.
    #[serde(default)]
    pub maintenance: Vec<super::alerts::RawMaintenance>,
}

/// One `[[targets]]` entry. Connection keys apply to one scheme each; using one with
/// another scheme is an error (see `super::target`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub name: Spanned<String>,
    pub url: Spanned<TargetUrl>,
    #[serde(default)]
    pub policy: RawPolicy,
    /// Limit for one request (S3) or operation (SMB), e.g. "30s".
    pub timeout: Option<Spanned<String>>,
    // S3
    pub endpoint: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub path_style: Option<Spanned<bool>>,
    pub access_key_id: Option<Spanned<String>>,
    pub secret_access_key: Option<Spanned<String>>,
    pub secret_access_key_file: Option<Spanned<String>>,
    pub secret_access_key_env: Option<Spanned<String>>,
    // SMB
    pub username: Option<Spanned<String>>,
    pub domain: Option<Spanned<String>>,
    pub password: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub encryption: Option<Spanned<Encryption>>,
    /// The password of a restic repository (keyed mode); on file:// and s3:// targets
    /// `password_file` / `password_env` may be used for it instead.
    pub restic_password: Option<Spanned<String>>,
    pub restic_password_file: Option<Spanned<String>>,
    pub restic_password_env: Option<Spanned<String>>,
    /// Known files planted in the client's data, restored on every run.
    #[serde(default)]
    pub canaries: Vec<RawCanary>,
    /// What the target holds: plain backup files, or a backup repository.
    #[serde(default)]
    pub format: Format,
    /// Validation of restored files beyond their hash.
    #[serde(default)]
    pub validate: Vec<RawValidate>,
    /// Where the live data is, to compare sampled files with (optional).
    pub source: Option<RawConnection>,
}

/// Where something is and how to reach it: a target's URL and connection keys, or a
/// `[targets.source]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnection {
    pub url: Spanned<TargetUrl>,
    pub timeout: Option<Spanned<String>>,
    pub endpoint: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub path_style: Option<Spanned<bool>>,
    pub access_key_id: Option<Spanned<String>>,
    pub secret_access_key: Option<Spanned<String>>,
    pub secret_access_key_file: Option<Spanned<String>>,
    pub secret_access_key_env: Option<Spanned<String>>,
    pub username: Option<Spanned<String>>,
    pub domain: Option<Spanned<String>>,
    pub password: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub encryption: Option<Spanned<Encryption>>,
}

impl RawTarget {
    /// The target's own connection keys.
    pub fn connection(&self) -> RawConnection {
        RawConnection {
            url: self.url.clone(),
            timeout: self.timeout.clone(),
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            path_style: self.path_style.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            secret_access_key_file: self.secret_access_key_file.clone(),
            secret_access_key_env: self.secret_access_key_env.clone(),
            username: self.username.clone(),
            domain: self.domain.clone(),
            password: self.password.clone(),
            password_file: self.password_file.clone(),
            password_env: self.password_env.clone(),
            encryption: self.encryption.clone(),
        }
    }
}

/// `[[targets.validate]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValidate {
    /// Glob of the files this applies to.
    #[serde(deserialize_with = "one_glob")]
    pub files: String,
    pub kind: Spanned<ValidateKind>,
    /// For `kind = "command"`: the program and its arguments; `{file}` is the restored copy.
    pub command: Option<Spanned<Vec<String>>>,
    /// For `kind = "command"`: how long it may run, default 10 minutes.
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidateKind {
    Zip,
    Gzip,
    Tar,
    #[serde(rename = "tar.gz")]
    TarGz,
    Sqlite,
    Command,
}

fn one_glob<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let p = String::deserialize(d)?;
    super::policy::PathFilter::compile(&p).map_err(D::Error::custom)?;
    Ok(p)
}

/// `[[targets.canaries]]`: a file with the BLAKE3 it must have.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCanary {
    pub path: String,
    #[serde(deserialize_with = "blake3_hex")]
    pub blake3: String,
}

fn blake3_hex<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?.trim().to_ascii_lowercase();
    if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(D::Error::custom(format!(
            "`{s}` is not a BLAKE3 hash (64 hexadecimal digits, as b3sum prints)"
        )));
    }
    Ok(s)
}

/// A `[policy]` table: every key optional, a target's overrides its job's, which
/// overrides the global one, which overrides the built-in defaults.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    #[serde(default, deserialize_with = "max_age")]
    pub max_age: Option<MaxAge>,
    #[serde(default, deserialize_with = "positive")]
    pub sample_files: Option<u64>,
    #[serde(default, deserialize_with = "byte_size")]
    pub sample_bytes: Option<u64>,
    #[serde(default, deserialize_with = "globs")]
    pub include: Option<Vec<String>>,
    #[serde(default, deserialize_with = "globs")]
    pub exclude: Option<Vec<String>>,
    #[serde(default, deserialize_with = "percent")]
    pub count_drop_percent: Option<f64>,
    #[serde(default, deserialize_with = "percent")]
    pub size_drop_percent: Option<f64>,
    #[serde(default, deserialize_with = "percent")]
    pub file_shrink_percent: Option<f64>,
    #[serde(default, deserialize_with = "concurrency")]
    pub concurrency: Option<u64>,
    /// Files that must never change once written.
    #[serde(default, deserialize_with = "globs")]
    pub immutable: Option<Vec<String>>,
    /// Checksum manifests to check sampled files against (`SHA256SUMS`, `*.b3`...).
    #[serde(default, deserialize_with = "globs")]
    pub manifests: Option<Vec<String>>,
    /// What signs of ransomware in a run yield: `warn`, `fail` or `off`.
    pub ransomware: Option<Ransomware>,
    /// Share of sampled files (with a baseline) changed in one run that is a sign.
    #[serde(default, deserialize_with = "percent")]
    pub ransomware_changed_percent: Option<f64>,
    /// Share of files compared with the source allowed to differ (warning, not failure).
    #[serde(default, deserialize_with = "percent")]
    pub source_differ_percent: Option<f64>,
    /// How long the backup software keeps files: older ones may vanish quietly.
    #[serde(default, deserialize_with = "retention")]
    pub retention: Option<Duration>,
    /// Which symbolic links a local target follows.
    pub follow_symlinks: Option<FollowSymlinks>,
    /// restic repositories: files removed by a prune (or forget) are expected.
    pub allow_prune: Option<bool>,
    /// How sampled files are restored: `stream` (hashed as they stream) or `disk`.
    pub restore: Option<super::RestoreMode>,
}

/// `ransomware = "warn" | "fail" | "off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ransomware {
    Warn,
    Fail,
    Off,
}

/// `max_age = "26h"` or `max_age = "off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxAge {
    Off,
    Limit(Duration),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrString {
    Int(i64),
    Float(f64),
    Str(String),
}

fn max_age<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MaxAge>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().eq_ignore_ascii_case("off") {
        return Ok(Some(MaxAge::Off));
    }
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d.is_zero() => Err(D::Error::custom(
            "a zero max_age would fail every run; write \"off\" to disable the freshness check",
        )),
        Ok(d) => Ok(Some(MaxAge::Limit(d))),
        Err(e) => Err(D::Error::custom(format!(
            "`{s}` is not a duration ({e}); write for example \"26h\", \"8d\" or \"off\""
        ))),
    }
}

fn retention<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d.is_zero() => Err(D::Error::custom(
            "a zero retention would let every file vanish quietly; leave `retention` out instead",
        )),
        Ok(d) => Ok(Some(d)),
        Err(e) => Err(D::Error::custom(format!(
            "`{s}` is not a duration ({e}); write for example \"30d\" or \"12w\""
        ))),
    }
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let n = i64::deserialize(d)?;
    if n < 1 {
        return Err(D::Error::custom(format!("must be at least 1, not {n}")));
    }
    Ok(Some(n as u64))
}

fn concurrency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let n = i64::deserialize(d)?;
    if !(1..=64).contains(&n) {
        return Err(D::Error::custom(format!(
            "must be between 1 and 64, not {n}"
        )));
    }
    Ok(Some(n as u64))
}

fn byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let bytes = match IntOrString::deserialize(d)? {
        IntOrString::Int(n) if n > 0 => n as u64,
        IntOrString::Str(s) => s
            .trim()
            .parse::<bytesize::ByteSize>()
            .map_err(|e| {
                D::Error::custom(format!(
                    "`{s}` is not a size ({e}); write for example \"2GiB\" or \"500MB\""
                ))
            })?
            .as_u64(),
        _ => return Err(D::Error::custom("must be a positive size such as \"2GiB\"")),
    };
    if bytes == 0 {
        return Err(D::Error::custom("must be larger than zero"));
    }
    Ok(Some(bytes))
}

fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let p = match IntOrString::deserialize(d)? {
        IntOrString::Int(n) => n as f64,
        IntOrString::Float(f) => f,
        IntOrString::Str(s) => {
            return Err(D::Error::custom(format!(
                "`{s}` is not a number; write a percentage as a number, e.g. 10"
            )));
        }
    };
    if !(0.0..=100.0).contains(&p) {
        return Err(D::Error::custom(format!(
            "a percentage between 0 and 100, not {p}"
        )));
    }
    Ok(Some(p))
}

fn globs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let patterns = Vec::<String>::deserialize(d)?;
    for p in &patterns {
        super::policy::PathFilter::compile(p).map_err(D::Error::custom)?;
    }
    Ok(Some(patterns))
}

fn emails<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    for a in &list {
        if a.parse::<lettre::Address>().is_err() || !a.contains('.') {
            return Err(D::Error::custom(format!(
                "`{a}` is not an email address (expected name@example.com)"
            )));
        }
        // Exactly as the report composer will read it.
        super::address::mailbox(a).map_err(D::Error::custom)?;
    }
    Ok(list)
}

/// An optional list of email addresses, checked like `technicians`.
pub(super) fn emails_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    emails(d).map(Some)
}

//! The validated configuration: what the rest of the program reads.

use std::path::PathBuf;

use super::daemon::DaemonConfig;
use super::{
    AlertPolicy, Budget, BySeverity, ConfigError, FileValidator, Format, Location, Maintenance,
    Notify, Ping, Policy, Schedule, Secret, Severity, SmtpConfig, Webhook,
};

/// Where the configuration is looked for when neither `--config` nor
/// `$BACKPROOF_CONFIG` says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/backproof/backproof.toml";
/// Where the catalog lives when `data_dir` is not set.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/backproof";

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The global file this was loaded from.
    pub file: PathBuf,
    pub data_dir: PathBuf,
    /// Parent of the per-run scratch folders.
    pub scratch_dir: PathBuf,
    pub jobs_dir: PathBuf,
    /// Jobs sorted by name.
    pub jobs: Vec<Job>,
    /// How reports are sent; `None` writes them as `.eml` files under `data_dir/mail`.
    pub smtp: Option<SmtpConfig>,
    /// Default schedule of the weekly owner summary.
    pub digest_schedule: Schedule,
    /// Time zone of schedules without their own.
    pub timezone: chrono_tz::Tz,
    pub daemon: DaemonConfig,
    /// `[[webhooks]]`: signed JSON or chat messages about alert events.
    pub webhooks: Vec<Webhook>,
    /// Things that work but should be changed (a secret written inline).
    pub warnings: Vec<ConfigError>,
}

/// Monday 07:00, local time.
pub const DEFAULT_DIGEST_SCHEDULE: &str = "0 7 * * 1";

impl Config {
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// One client: what to verify, when, and who hears about it.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job file's name without `.toml`; used on the command line.
    pub name: String,
    pub file: PathBuf,
    /// Display name of the client.
    pub client: String,
    pub owners: Vec<String>,
    pub technicians: Vec<String>,
    pub schedule: Schedule,
    pub notify: Notify,
    pub report_to_owners: bool,
    /// When this client's weekly summary is sent.
    pub digest_schedule: Schedule,
    /// Time zone of `schedule` and `digest_schedule`.
    pub timezone: chrono_tz::Tz,
    /// Egress limits: bytes read per run and per 7 days, over all targets.
    pub budget: Budget,
    pub targets: Vec<TargetSpec>,
    /// Dead-man's switch pinged at each run's start and end.
    pub ping: Option<Ping>,
    /// The `[[webhooks]]` of the global file: told of this job's events.
    pub webhooks: Vec<Webhook>,
    /// Reminders and escalation of this job's open problems.
    pub alerts: AlertPolicy,
    /// `[technicians_by_severity]`: replaces `technicians` for fail or warn messages.
    pub technicians_by_severity: BySeverity,
    /// `[[maintenance]]` windows.
    pub maintenance: Vec<Maintenance>,
}

impl Job {
    /// Nobody hears about this job: no technicians and no owners, so its alerts and its
    /// weekly summary go nowhere.
    pub fn is_unheard(&self) -> bool {
        self.alert_technicians().is_empty() && self.owners.is_empty()
    }

    /// The technicians alerted of failures (`technicians_by_severity.fail`, else
    /// `technicians`).
    pub fn alert_technicians(&self) -> &[String] {
        self.technicians_for(Severity::Fail)
    }

    /// Who is emailed at once when a run fails: the technicians, and the owners with
    /// `report_to_owners = true`.
    pub fn alert_recipients(&self) -> Vec<&str> {
        let owners = self.owners.iter().filter(|_| self.report_to_owners);
        self.alert_technicians()
            .iter()
            .chain(owners)
            .map(String::as_str)
            .collect()
    }

    /// The warning for a job whose problems nobody (or only the weekly summary) hears of.
    pub fn recipients_warning(&self) -> Option<String> {
        if self.is_unheard() {
            Some(
                "nobody hears about this job: it has no technicians and no owners, so its failures are emailed to no one; add technicians = [\"noc@msp.example\"]".into(),
            )
        } else if self.alert_recipients().is_empty() {
            Some(
                "no technicians: a failure is emailed to no one at once and only shows in the owners' weekly summary; add technicians = [...] (or report_to_owners = true)".into(),
            )
        } else {
            None
        }
    }
}

/// One place where a client's backups are.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    pub name: String,
    pub location: Location,
    pub policy: Policy,
    /// Files that must be present with exactly this BLAKE3 (path, hex hash).
    pub canaries: Vec<Canary>,
    pub format: Format,
    /// Validation of restored files beyond their hash, by glob (the first match applies).
    pub validators: Vec<FileValidator>,
    /// Where the live data is, for the source spot check.
    pub source: Option<Location>,
    /// The password of a restic repository target: checked with it too (keyed mode).
    pub restic_password: Option<Secret>,
}

/// A known file an MSP plants in the client's data so it travels into every backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canary {
    /// Path relative to the target root.
    pub path: String,
    pub blake3: String,
}

//! Configuration: the global `backproof.toml` and one TOML file per client in `jobs.d/`.
//!
//! [`load`] reads everything, checks everything and reports all errors of all files
//! together, each naming its file, line and key. What comes out is validated: the rest of
//! the program never sees a raw value.

mod dirs;
mod error;
mod location;
mod policy;
mod raw;
mod restic;
mod schedule;
mod secret;
mod smtp;
mod suggest;
mod target;
mod validator;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use dirs::{FolderProblem, check_folders};
pub use error::{ConfigError, ConfigErrors};
pub use location::{Encryption, Location, S3Location, SmbLocation, TargetUrl};
pub use policy::{PathFilter, Policy};
pub use raw::{FollowSymlinks, Format, Notify, RawBudget as Budget};
pub use schedule::Schedule;
pub use secret::Secret;
pub use smtp::{Security, SmtpConfig};
pub use validator::{FileValidator, Validator};

use raw::{RawGlobal, RawJob, RawPolicy};

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
    /// Things that work but should be changed (a secret written inline).
    pub warnings: Vec<ConfigError>,
}

/// Monday 07:00, local time.
pub const DEFAULT_DIGEST_SCHEDULE: &str = "0 7 * * 1";

/// Settings of `backproof daemon`.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    pub listen: std::net::SocketAddr,
    pub max_concurrent_runs: usize,
    pub catch_up: bool,
    pub catch_up_delay: std::time::Duration,
    /// How long a part of the daemon may make no progress before it counts as stuck.
    pub stall_timeout: std::time::Duration,
    /// How late a scheduled run may be before its job has missed it.
    pub missed_grace: std::time::Duration,
}

/// The system's time zone (from the `TZ` variable or /etc/localtime), else UTC.
pub fn system_timezone() -> chrono_tz::Tz {
    std::env::var("TZ")
        .ok()
        .and_then(|t| t.trim_start_matches(':').parse().ok())
        .or_else(|| iana_time_zone::get_timezone().ok()?.parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

fn parse_timezone(
    v: &Option<toml::Spanned<String>>,
    file: &Path,
    source: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<chrono_tz::Tz> {
    let v = v.as_ref()?;
    match v.get_ref().parse::<chrono_tz::Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            errors.push(ConfigError::at_key(
                file,
                source,
                v.span(),
                "timezone",
                format!(
                    "`{}` is not an IANA time zone such as \"Europe/Berlin\"",
                    v.get_ref()
                ),
            ));
            None
        }
    }
}

fn daemon_config(
    raw: &raw::RawDaemon,
    file: &Path,
    source: &str,
    errors: &mut Vec<ConfigError>,
) -> DaemonConfig {
    let mut err = |span, key: &str, message: String| {
        errors.push(ConfigError::at_key(
            file,
            source,
            span,
            format!("daemon.{key}"),
            message,
        ));
    };
    let listen = match &raw.listen {
        None => std::net::SocketAddr::from(([127, 0, 0, 1], 7878)),
        Some(l) => match l.get_ref().parse::<std::net::SocketAddr>() {
            Ok(a) if a.ip().is_loopback() => a,
            Ok(a) => {
                err(
                    l.span(),
                    "listen",
                    format!(
                        "{a} is not a loopback address; the API serves this machine only (use an SSH tunnel or a reverse proxy to reach it from elsewhere)"
                    ),
                );
                std::net::SocketAddr::from(([127, 0, 0, 1], 7878))
            }
            Err(e) => {
                err(
                    l.span(),
                    "listen",
                    format!("`{}` is not an address:port ({e})", l.get_ref()),
                );
                std::net::SocketAddr::from(([127, 0, 0, 1], 7878))
            }
        },
    };
    let max = match &raw.max_concurrent_runs {
        None => 2,
        Some(m) if (1..=64).contains(m.get_ref()) => *m.get_ref() as usize,
        Some(m) => {
            err(
                m.span(),
                "max_concurrent_runs",
                "must be between 1 and 64".into(),
            );
            2
        }
    };
    let mut duration = |v: &Option<toml::Spanned<String>>, key: &str, default: u64| {
        let default = std::time::Duration::from_secs(default);
        match v {
            None => default,
            Some(d) => match humantime::parse_duration(d.get_ref().trim()) {
                Ok(d) => d,
                Err(e) => {
                    err(
                        d.span(),
                        key,
                        format!("`{}` is not a duration ({e})", d.get_ref()),
                    );
                    default
                }
            },
        }
    };
    let delay = duration(&raw.catch_up_delay, "catch_up_delay", 60);
    let stall_timeout = duration(&raw.stall_timeout, "stall_timeout", 30 * 60);
    let missed_grace = duration(&raw.missed_grace, "missed_grace", 15 * 60);
    DaemonConfig {
        listen,
        max_concurrent_runs: max,
        catch_up: raw.catch_up.unwrap_or(true),
        catch_up_delay: delay,
        stall_timeout,
        missed_grace,
    }
}

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
}

impl Job {
    /// Nobody hears about this job: no technicians and no owners, so its alerts and its
    /// weekly summary go nowhere.
    pub fn is_unheard(&self) -> bool {
        self.technicians.is_empty() && self.owners.is_empty()
    }

    /// Who is emailed at once when a run fails: the technicians, and the owners with
    /// `report_to_owners = true`.
    pub fn alert_recipients(&self) -> Vec<&str> {
        let owners = self.owners.iter().filter(|_| self.report_to_owners);
        self.technicians
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

/// The folder of a configuration file: relative paths written in the file are relative
/// to it (never to the current folder, which is `/` under systemd).
fn folder_of(file: &Path) -> &Path {
    file.parent().unwrap_or(Path::new("/"))
}

/// Loads and validates the global file at `path` and every job file of its `jobs_dir`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let path = absolute.as_path();
    let source = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors(vec![ConfigError::file(path, format!("cannot read: {e}"))]))?;
    let mut errors = Vec::new();
    // Unknown keys are reported and left out; the rest is still checked.
    let Some(raw) = suggest::parse::<RawGlobal>(path, &source, &mut errors) else {
        return Err(ConfigErrors(errors));
    };

    let base = folder_of(path).to_path_buf();
    let resolve = |v: &Option<toml::Spanned<String>>, default: PathBuf| match v {
        Some(s) => base.join(s.get_ref()),
        None => default,
    };
    let data_dir = resolve(&raw.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    let scratch_dir = resolve(&raw.scratch_dir, data_dir.join("scratch"));
    let jobs_dir = resolve(&raw.jobs_dir, base.join("jobs.d"));
    for (key, value) in [
        ("data_dir", &raw.data_dir),
        ("scratch_dir", &raw.scratch_dir),
    ] {
        if let Some(v) = value
            && v.get_ref().trim().is_empty()
        {
            errors.push(ConfigError::at_key(
                path,
                &source,
                v.span(),
                key,
                "must not be empty",
            ));
        }
    }

    let mut jobs = Vec::new();
    let mut warnings = Vec::new();
    let smtp = raw
        .smtp
        .as_ref()
        .and_then(|s| SmtpConfig::build(s, path, &source, &mut errors, &mut warnings));
    let timezone =
        parse_timezone(&raw.timezone, path, &source, &mut errors).unwrap_or_else(system_timezone);
    let daemon = daemon_config(&raw.daemon, path, &source, &mut errors);
    let digest_schedule = raw.digest.schedule.clone().unwrap_or_else(|| {
        DEFAULT_DIGEST_SCHEDULE
            .parse()
            .expect("the default schedule is valid")
    });
    match job_files(&jobs_dir) {
        Ok(files) => {
            for file in files {
                match load_job(
                    &file,
                    &raw.policy,
                    &digest_schedule,
                    timezone,
                    &mut warnings,
                ) {
                    Ok(job) => jobs.push(job),
                    Err(mut errs) => errors.append(&mut errs),
                }
            }
        }
        Err(e) => {
            let mut err = match &raw.jobs_dir {
                Some(v) => ConfigError::at_key(path, &source, v.span(), "jobs_dir", ""),
                None => ConfigError::file(path, ""),
            };
            err.message = format!("cannot read the jobs folder {}: {e}", jobs_dir.display());
            errors.push(err);
        }
    }

    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Config {
        file: path.to_path_buf(),
        data_dir,
        scratch_dir,
        jobs_dir,
        jobs,
        smtp,
        digest_schedule,
        timezone,
        daemon,
        warnings,
    })
}

/// The `*.toml` files of the jobs folder, sorted by name.
fn job_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The validators of target `t` (the `index`-th, from 0); errors name their keys.
fn validators(
    t: &raw::RawTarget,
    file: &Path,
    source: &str,
    index: usize,
    errors: &mut Vec<ConfigError>,
) -> Vec<FileValidator> {
    use raw::ValidateKind as K;
    let mut out = Vec::new();
    for (n, v) in t.validate.iter().enumerate() {
        let key = |k: &str| format!("targets[{}].validate[{}].{k}", index + 1, n + 1);
        let validator = match (*v.kind.get_ref(), &v.command) {
            (K::Command, None) => {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    v.kind.span(),
                    key("command"),
                    "kind = \"command\" needs command = [\"program\", \"arg\", \"{file}\"]",
                ));
                continue;
            }
            (K::Command, Some(c)) if c.get_ref().is_empty() || c.get_ref()[0].is_empty() => {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    c.span(),
                    key("command"),
                    "names no program",
                ));
                continue;
            }
            (K::Command, Some(c)) => {
                let timeout = match &v.timeout {
                    None => std::time::Duration::from_secs(600),
                    Some(t) => match humantime::parse_duration(t.get_ref().trim()) {
                        Ok(d) if !d.is_zero() => d,
                        _ => {
                            errors.push(ConfigError::at_key(
                                file,
                                source,
                                t.span(),
                                key("timeout"),
                                format!("`{}` is not a duration such as \"5m\"", t.get_ref()),
                            ));
                            continue;
                        }
                    },
                };
                let mut argv = c.get_ref().clone();
                // `scripts/check.sh` is beside the job file; `pg_restore` is looked up in PATH.
                if argv[0].contains('/') {
                    argv[0] = folder_of(file).join(&argv[0]).display().to_string();
                }
                Validator::Command { argv, timeout }
            }
            (_, Some(c)) => {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    c.span(),
                    key("command"),
                    "only kind = \"command\" takes a command",
                ));
                continue;
            }
            (K::Zip, None) => Validator::Zip,
            (K::Gzip, None) => Validator::Gzip,
            (K::Tar, None) => Validator::Tar,
            (K::TarGz, None) => Validator::TarGz,
            (K::Sqlite, None) => Validator::Sqlite,
        };
        out.push(FileValidator {
            files: PathFilter::new(vec![v.files.clone()], Vec::new())
                .expect("validated while parsing"),
            validator,
        });
    }
    out
}

/// A valid job or target name: letters, digits, `-`, `_`, `.`; not starting with `.`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn load_job(
    file: &Path,
    global: &RawPolicy,
    digest_schedule: &Schedule,
    timezone: chrono_tz::Tz,
    warnings: &mut Vec<ConfigError>,
) -> Result<Job, Vec<ConfigError>> {
    let source = std::fs::read_to_string(file)
        .map_err(|e| vec![ConfigError::file(file, format!("cannot read: {e}"))])?;
    let mut errors = Vec::new();
    let Some(raw) = suggest::parse::<RawJob>(file, &source, &mut errors) else {
        return Err(errors);
    };

    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    if !valid_name(&name) {
        errors.push(ConfigError::file(
            file,
            format!(
                "the job name `{name}` comes from the file name; use only letters, digits, '-', '_' and '.'"
            ),
        ));
    }
    if raw.client.get_ref().trim().is_empty() {
        errors.push(ConfigError::at_key(
            file,
            &source,
            raw.client.span(),
            "client",
            "must name the client",
        ));
    }
    if raw.targets.is_empty() {
        errors.push(ConfigError {
            file: file.to_path_buf(),
            line: None,
            key: Some("targets".into()),
            message: "a job needs at least one [[targets]] entry".into(),
        });
    }

    let job_tz = parse_timezone(&raw.timezone, file, &source, &mut errors).unwrap_or(timezone);
    let mut seen = BTreeSet::new();
    let mut targets = Vec::new();
    for (i, t) in raw.targets.iter().enumerate() {
        let tname = t.name.get_ref().clone();
        let key = format!("targets[{}].name", i + 1);
        if !valid_name(&tname) {
            errors.push(ConfigError::at_key(
                file,
                &source,
                t.name.span(),
                key,
                format!("`{tname}` is not a valid target name; use only letters, digits, '-', '_' and '.'"),
            ));
        } else if !seen.insert(tname.clone()) {
            errors.push(ConfigError::at_key(
                file,
                &source,
                t.name.span(),
                key,
                format!("a target named `{tname}` is already defined in this job"),
            ));
        }
        let mut checker = target::Checker {
            file,
            source: &source,
            prefix: format!("targets[{}]", i + 1),
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        let mut connection = t.connection();
        let restic_password = restic::password(&mut checker, t, &mut connection);
        let location = checker.location(&connection);
        let live = t.source.as_ref().and_then(|s| {
            let mut c = target::Checker {
                file,
                source: &source,
                prefix: format!("targets[{}].source", i + 1),
                errors: Vec::new(),
                warnings: Vec::new(),
            };
            let l = c.location(s);
            errors.append(&mut c.errors);
            warnings.append(&mut c.warnings);
            l
        });
        errors.append(&mut checker.errors);
        warnings.append(&mut checker.warnings);
        if let Some(location) = location {
            targets.push(TargetSpec {
                name: tname,
                location,
                policy: Policy::resolve(&[&t.policy, &raw.policy, global]),
                canaries: t
                    .canaries
                    .iter()
                    .map(|c| Canary {
                        path: c.path.trim_start_matches('/').to_string(),
                        blake3: c.blake3.clone(),
                    })
                    .collect(),
                source: live,
                validators: validators(t, file, &source, i, &mut errors),
                format: t.format,
                restic_password,
            });
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    let job = Job {
        name,
        file: file.to_path_buf(),
        client: raw.client.into_inner().trim().to_string(),
        owners: raw.owners,
        technicians: raw.technicians,
        schedule: raw.schedule,
        notify: raw.notify,
        report_to_owners: raw.report_to_owners,
        digest_schedule: raw
            .digest_schedule
            .unwrap_or_else(|| digest_schedule.clone()),
        timezone: job_tz,
        budget: raw.budget,
        targets,
    };
    if let Some(w) = job.recipients_warning() {
        warnings.push(ConfigError::file(file, w));
    }
    Ok(job)
}

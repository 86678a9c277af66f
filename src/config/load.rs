//! Loading: the global file, then every job file of its `jobs_dir`, all errors of all
//! files gathered, each naming its file, line and key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::raw::{RawGlobal, RawJob, RawPolicy};
use super::{
    AlertPolicy, Budget, BySeverity, Canary, Config, ConfigError, ConfigErrors, DEFAULT_DATA_DIR,
    DEFAULT_DIGEST_SCHEDULE, Job, Policy, Schedule, SmtpConfig, TargetSpec, alerts, restic, target,
};

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

/// The folder of a configuration file: relative paths written in the file are relative
/// to it (never to the current folder, which is `/` under systemd).
pub(super) fn folder_of(file: &Path) -> &Path {
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
    let Some(raw) = super::suggest::parse::<RawGlobal>(path, &source, &mut errors) else {
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
    let daemon = super::daemon::daemon_config(&raw.daemon, &base, path, &source, &mut errors);
    let global_alerts = alerts::alert_policy(
        raw.alerts.as_ref(),
        &AlertPolicy::default(),
        path,
        &source,
        &mut errors,
    );
    let webhooks = alerts::webhooks(
        &raw.webhooks,
        &base,
        path,
        &source,
        &mut errors,
        &mut warnings,
    );
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
                    &global_alerts,
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
    for job in &mut jobs {
        job.webhooks.clone_from(&webhooks);
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
        webhooks,
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
    global_alerts: &AlertPolicy,
    global: &RawPolicy,
    digest_schedule: &Schedule,
    timezone: chrono_tz::Tz,
    warnings: &mut Vec<ConfigError>,
) -> Result<Job, Vec<ConfigError>> {
    let source = std::fs::read_to_string(file)
        .map_err(|e| vec![ConfigError::file(file, format!("cannot read: {e}"))])?;
    let mut errors = Vec::new();
    let Some(raw) = super::suggest::parse::<RawJob>(file, &source, &mut errors) else {
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

    let ping = alerts::job_ping(&raw.ping_url, &raw.ping_format, file, &source, &mut errors);
    let alert_policy = alerts::alert_policy(
        raw.alerts.as_ref(),
        global_alerts,
        file,
        &source,
        &mut errors,
    );
    let job_tz = parse_timezone(&raw.timezone, file, &source, &mut errors).unwrap_or(timezone);
    let maintenance = alerts::maintenance(&raw.maintenance, job_tz, file, &source, &mut errors);
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
                validators: super::validator::validators(t, file, &source, i, &mut errors),
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
        budget: Budget {
            per_run: raw.budget.per_run,
            per_week: raw.budget.per_week,
        },
        targets,
        ping,
        webhooks: Vec::new(),
        alerts: alert_policy,
        technicians_by_severity: raw
            .technicians_by_severity
            .map(|b| BySeverity {
                fail: b.fail,
                warn: b.warn,
            })
            .unwrap_or_default(),
        maintenance,
    };
    if let Some(w) = job.recipients_warning() {
        warnings.push(ConfigError::file(file, w));
    }
    Ok(job)
}

//! Getting started: `backproof init` writes a commented configuration and one example job,
//! and a command run with no configuration file says where it looked and what to do.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::parser::ValueSource;

use crate::config::DEFAULT_CONFIG_PATH;

/// Where `--config` came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConfigFrom {
    /// `--config PATH`.
    Flag,
    /// `$BACKPROOF_CONFIG`.
    Env,
    /// Neither: the default path.
    #[default]
    Default,
}

impl ConfigFrom {
    pub fn of(matches: &clap::ArgMatches) -> ConfigFrom {
        // `--config` is global: it may have been given after the subcommand.
        let mut m = Some(matches);
        let mut found = None;
        while let Some(here) = m {
            match here.value_source("config") {
                Some(ValueSource::CommandLine) => return ConfigFrom::Flag,
                Some(ValueSource::EnvVariable) => found = Some(ConfigFrom::Env),
                _ => {}
            }
            m = here.subcommand().map(|(_, sub)| sub);
        }
        found.unwrap_or_default()
    }
}

/// The error for a command that needs a configuration when there is no file at `path`.
pub fn missing_config(path: &Path, from: ConfigFrom) -> anyhow::Error {
    let how = match from {
        ConfigFrom::Flag => "given with --config",
        ConfigFrom::Env => "from $BACKPROOF_CONFIG",
        ConfigFrom::Default => "the default",
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    let init = if path == Path::new(DEFAULT_CONFIG_PATH) {
        "backproof init".to_string()
    } else {
        format!("backproof --config {} init", path.display())
    };
    anyhow::anyhow!(
        "no configuration file at {} ({how}).\n\
         backproof reads --config PATH, else $BACKPROOF_CONFIG, else {DEFAULT_CONFIG_PATH}.\n\
         To start, `{init}` writes a commented backproof.toml and an example job in {}.",
        path.display(),
        folder.display()
    )
}

/// The commented global configuration `init` writes. `data_dir` is filled in.
const CONFIG: &str = r#"# backproof configuration. Job files, one per client, go in jobs.d/ beside this file.
# Check it with `backproof check-config`; see README.md for every key.

# The catalog (runs, baselines, coverage) and the evidence files.
data_dir = "{data_dir}"
# Where sampled files are restored to, one folder per run, removed afterwards.
# Needs room for the largest sampled file. Default: <data_dir>/scratch
# scratch_dir = "/var/tmp/backproof"
# Job files, one per client. Default: jobs.d beside this file.
# jobs_dir = "jobs.d"

# Defaults for every job and target; a job's [policy] and a target's [targets.policy]
# override them key by key.
[policy]
max_age = "26h"        # the newest backup must be younger than this (RPO)
sample_files = 10      # files test-restored per run...
sample_bytes = "1GiB"  # ...and bytes (the newest file is always restored)

# Email. Without an [smtp] section reports are written as .eml files to <data_dir>/mail.
# [smtp]
# host = "smtp.example.com"
# port = 587
# security = "starttls"
# username = "backproof@msp.example"
# password_file = "secrets/smtp"
# from = "backproof <backproof@msp.example>"
"#;

/// The example job `init` writes.
pub const EXAMPLE_JOB: &str = r#"# One file per client. The job name is the file name: `backproof run example-client`.
# Edit it for a real client (or add one with `backproof job add`), then
# `backproof check-config --connect`.

# Display name of the client, used in reports.
client = "Example Client"
# Business owners: receive the weekly plain-language summary.
owners = ["owner@example.com"]
# Technicians: receive alerts and per-run reports.
technicians = ["noc@msp.example"]
# When the daemon verifies this client: 5-field cron (minute hour day month weekday).
schedule = "30 6 * * *"

# Where the backups are: a folder (or mounted NAS/USB), s3://bucket/prefix/ or
# smb://server/share/path (see README.md for their keys).
[[targets]]
name = "nas"
url = "file:///srv/backups/example-client"
"#;

/// Name of the example job file.
pub const EXAMPLE_JOB_FILE: &str = "example-client.toml";

/// `backproof init`: writes `backproof.toml` and `jobs.d/example-client.toml` in `dir`
/// (default: the folder of `config`), refusing to overwrite either.
pub fn init(config: &Path, dir: Option<PathBuf>) -> Result<u8> {
    let (dir, file) = match dir {
        Some(d) => (d.clone(), d.join("backproof.toml")),
        None => (
            config.parent().unwrap_or(Path::new(".")).to_path_buf(),
            config.to_path_buf(),
        ),
    };
    let jobs = dir.join("jobs.d");
    let example = jobs.join(EXAMPLE_JOB_FILE);
    for existing in [&file, &example] {
        if existing.exists() {
            bail!(
                "{} already exists: init writes only new files (move it away to start over)",
                existing.display()
            );
        }
    }
    // The system-wide place keeps its data in /var/lib; anywhere else, beside the file.
    let data_dir = if file == Path::new(DEFAULT_CONFIG_PATH) {
        crate::config::DEFAULT_DATA_DIR
    } else {
        "data"
    };
    std::fs::create_dir_all(&jobs).with_context(|| format!("creating {}", jobs.display()))?;
    write_new(&file, &CONFIG.replace("{data_dir}", data_dir))?;
    write_new(&example, EXAMPLE_JOB)?;
    let with_config = if file == Path::new(DEFAULT_CONFIG_PATH) {
        String::new()
    } else {
        format!(" --config {}", file.display())
    };
    println!("wrote {}", file.display());
    println!("wrote {}", example.display());
    println!("next:");
    println!("  1. edit {} for a real client", example.display());
    println!("     (or add one: backproof{with_config} job add NAME --client \"Name\" --url URL)");
    println!("  2. backproof{with_config} check-config --connect");
    println!("  3. backproof{with_config} run example-client");
    Ok(0)
}

/// Writes `text` to a file that must not exist yet.
fn write_new(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

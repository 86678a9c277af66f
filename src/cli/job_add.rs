//! `backproof job add NAME --client "…" --url URL`: scaffolds a job file for a new client
//! with one target, checks the whole configuration with it, and connects to the target.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Arguments of `backproof job add`.
#[derive(Debug, clap::Args)]
pub struct JobAdd {
    /// The job's name, which is its file name: jobs.d/NAME.toml (letters, digits, - _ .).
    pub name: String,
    /// The client's display name, used in reports.
    #[arg(long)]
    pub client: String,
    /// Where the backups are: /path, file:///path, s3://bucket/prefix/, smb://server/share/path.
    #[arg(long)]
    pub url: String,
    /// Name of the target in reports.
    #[arg(long, default_value = "main")]
    pub target_name: String,
    /// Who gets alerts and run reports (repeat for more).
    #[arg(long = "technician", value_name = "EMAIL")]
    pub technicians: Vec<String>,
    /// Who gets the weekly summary (repeat for more).
    #[arg(long = "owner", value_name = "EMAIL")]
    pub owners: Vec<String>,
    /// When the daemon verifies this client (5-field cron).
    #[arg(long, default_value = "30 6 * * *")]
    pub schedule: String,
    /// S3: the access key id.
    #[arg(long)]
    pub access_key_id: Option<String>,
    /// S3: the server of an S3-compatible service (https://...); also sets path_style.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// S3: the bucket's region.
    #[arg(long)]
    pub region: Option<String>,
    /// SMB: the user name on the share.
    #[arg(long)]
    pub username: Option<String>,
    /// S3 or SMB: a file holding the secret key or password (readable only by backproof).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
}

/// Writes the job file, checks the configuration with it (removing the file again if it
/// makes the configuration invalid), then connects to the new target.
pub async fn job_add(config_path: &Path, args: JobAdd) -> Result<u8> {
    // The configuration must be valid before: then any error after is the new file's.
    let config = crate::app::setup::load(config_path)?;
    let text = job_text(&args)?;
    let file = config.jobs_dir.join(format!("{}.toml", args.name));
    if file.exists() {
        bail!(
            "{} already exists: edit it, or choose another job name",
            file.display()
        );
    }
    std::fs::write(&file, text).map_err(|e| anyhow::anyhow!("writing {}: {e}", file.display()))?;
    let config = match crate::config::load(config_path) {
        Ok(c) => c,
        Err(errors) => {
            let _ = std::fs::remove_file(&file);
            eprint!("{errors}");
            eprintln!(
                "{} was not kept: fix the arguments above and try again",
                file.display()
            );
            return Ok(2);
        }
    };
    println!("wrote {}", file.display());
    for w in config.warnings.iter().filter(|w| w.file == file) {
        eprintln!("warning: {w}");
    }
    let code = super::commands::check_connections(&config, Some(&args.name)).await?;
    if code == 0 {
        println!(
            "job {} is ready: `backproof run {}` verifies it now; the daemon runs it on \"{}\"",
            args.name, args.name, args.schedule
        );
    } else {
        println!(
            "the job file is kept: fix the target above in {}, then `backproof check-config --connect`",
            file.display()
        );
    }
    Ok(code)
}

/// A TOML string, quoted and escaped.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The job file's text; refuses a URL whose scheme needs settings that were not given.
fn job_text(a: &JobAdd) -> Result<String> {
    let mut t = format!(
        "# Job {name}: written by `backproof job add`. See README.md for every key.\n\n\
         client = {client}\n\
         # Business owners: receive the weekly plain-language summary.\n\
         owners = {owners}\n\
         # Technicians: receive alerts and per-run reports.\n\
         technicians = {technicians}\n\
         # When the daemon verifies this client: 5-field cron (minute hour day month weekday).\n\
         schedule = {schedule}\n\n\
         # Overrides of the global [policy], e.g. max_age = \"26h\", sample_files = 10.\n\
         # [policy]\n\n\
         [[targets]]\n\
         name = {target}\n\
         url = {url}\n",
        name = a.name,
        client = quoted(&a.client),
        owners = list(&a.owners),
        technicians = list(&a.technicians),
        schedule = quoted(&a.schedule),
        target = quoted(&a.target_name),
        url = quoted(&a.url),
    );
    let secret = a
        .secret_file
        .as_ref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
    let secret = secret.as_ref().map(|p| quoted(&p.display().to_string()));
    if a.url.starts_with("s3://") {
        let (Some(key), Some(secret)) = (&a.access_key_id, &secret) else {
            bail!(
                "an s3:// target needs --access-key-id ID and --secret-file FILE (a file holding the secret access key)"
            );
        };
        t += &format!(
            "access_key_id = {}\nsecret_access_key_file = {secret}\n",
            quoted(key)
        );
        if let Some(e) = &a.endpoint {
            t += &format!("endpoint = {}\npath_style = true\n", quoted(e));
        }
        if let Some(r) = &a.region {
            t += &format!("region = {}\n", quoted(r));
        }
    } else if a.url.starts_with("smb://") {
        let (Some(user), Some(secret)) = (&a.username, &secret) else {
            bail!(
                "an smb:// target needs --username USER and --secret-file FILE (a file holding the password)"
            );
        };
        t += &format!("username = {}\npassword_file = {secret}\n", quoted(user));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: &str) -> JobAdd {
        JobAdd {
            name: "acme".into(),
            client: "Acme \"Dental\"".into(),
            url: url.into(),
            target_name: "main".into(),
            technicians: vec!["noc@msp.example".into()],
            owners: vec![],
            schedule: "30 6 * * *".into(),
            access_key_id: None,
            endpoint: None,
            region: None,
            username: None,
            secret_file: None,
        }
    }

    #[test]
    fn values_are_quoted_and_remote_targets_need_their_credentials() {
        let t = job_text(&args("/srv/b")).unwrap();
        let parsed: toml::Value = toml::from_str(&t).unwrap();
        assert_eq!(parsed["client"].as_str(), Some("Acme \"Dental\""));
        assert_eq!(parsed["targets"][0]["url"].as_str(), Some("/srv/b"));
        let e = job_text(&args("s3://bucket/")).unwrap_err().to_string();
        assert!(e.contains("--access-key-id"), "{e}");
        let e = job_text(&args("smb://nas/share")).unwrap_err().to_string();
        assert!(e.contains("--username"), "{e}");
    }
}

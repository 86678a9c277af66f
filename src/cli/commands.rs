//! What each subcommand does.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::catalog::{Catalog, CatalogError};
use crate::config::{self, Config};
use crate::evidence::{RunEvidence, Trigger};
use crate::progress::{Progress, RunState};
use crate::report;
use crate::scratch::ScratchDir;
use crate::verify::{RunRequest, Verifier};

use super::remote::Remote;
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use super::{Cli, Command};

pub async fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::CheckConfig { connect } => {
            let code = check_config(&cli.config)?;
            if code == 0 && connect {
                return check_connections(&load(&cli.config)?).await;
            }
            Ok(code)
        }
        Command::Run {
            job,
            target,
            json,
            seed,
        } => {
            let config = load(&cli.config)?;
            let req = RunRequest {
                target,
                seed,
                trigger: Trigger::Manual,
                run_id: None,
                progress: None,
            };
            let code = run(&config, &job, req, json).await;
            // The run is recorded: let its dead-man's switch ping go out (bounded).
            crate::hooks::ping::settle().await;
            code
        }
        Command::Show { run_id, json } => show(&cli.config, &run_id, json).await,
        Command::History { job, limit } => history(&cli.config, &job, limit).await,
        Command::Demo { dir } => super::demo::demo(dir).await,
        Command::Digest { job, send } => super::mail::digest(&load(&cli.config)?, &job, send).await,
        Command::SendTestEmail { address } => {
            let config = load(&cli.config)?;
            // Without [smtp] the message is written to <data_dir>/mail.
            if config.smtp.is_none() {
                ensure_folders(&config)?;
            }
            super::mail::send_test_email(&config, &address).await
        }
        Command::Outbox { retry } => super::mail::outbox(&load(&cli.config)?, retry).await,
        Command::Status { json } => status(&load(&cli.config)?, json).await,
        Command::Ack {
            job,
            target,
            problem,
            reason,
            until,
            by,
        } => {
            let config = load(&cli.config)?;
            let until = match until {
                Some(u) => Some(
                    crate::ack::parse_until(&u, config.timezone, chrono::Utc::now())
                        .map_err(|e| anyhow!("--until: {e}"))?,
                ),
                None => None,
            };
            let req = crate::ack::AckRequest {
                target,
                problem,
                reason,
                until,
                by: by.unwrap_or_else(current_user),
            };
            ack(&config, &job, &req).await
        }
        Command::Check { job, format, .. } => {
            Ok(super::check::check(&cli.config, job.as_deref(), format).await)
        }
        Command::Daemon => crate::daemon::run(&cli.config).await,
        Command::VerifyEvidence { job } => verify_evidence(&load(&cli.config)?, &job).await,
    }
}

/// Loads the configuration; all its errors become one error listing each of them.
pub fn load(path: &Path) -> Result<Config> {
    config::load(path).map_err(|errors| anyhow!("{}", errors.to_string().trim_end()))
}

fn check_config(path: &Path) -> Result<u8> {
    let config = match config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprint!("{errors}");
            return Ok(2);
        }
    };
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    let mut unusable = 0;
    for p in config::check_folders(&config, &command_line()) {
        match p {
            // Root may check; commands that write refuse.
            config::FolderProblem::OtherOwner { .. } => {
                eprintln!("warning: {}: {p}", config.file.display())
            }
            _ => {
                unusable += 1;
                eprintln!("error: {}: {p}", config.file.display());
            }
        }
    }
    if unusable > 0 {
        eprintln!(
            "{}: the configuration is readable, but backproof cannot work in its folders",
            config.file.display()
        );
        return Ok(2);
    }
    println!("{}: configuration is valid", config.file.display());
    println!(
        "data_dir {}, scratch_dir {}, jobs_dir {}",
        config.data_dir.display(),
        config.scratch_dir.display(),
        config.jobs_dir.display()
    );
    println!("{}", email_line(&config));
    if config.jobs.is_empty() {
        println!("no job files (*.toml) in {}", config.jobs_dir.display());
    }
    for job in &config.jobs {
        let targets = job
            .targets
            .iter()
            .map(|t| format!("{} ({})", t.name, t.location))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "{}: {}; schedule \"{}\"; {} technician(s), {} owner(s); targets: {targets}",
            job.name,
            job.client,
            job.schedule,
            job.technicians.len(),
            job.owners.len()
        );
    }
    Ok(0)
}

/// Where reports go, for `check-config`.
fn email_line(config: &Config) -> String {
    match &config.smtp {
        Some(s) => format!(
            "email: via {}:{} from {}; connecting may take {}, one message's whole delivery {}",
            s.host,
            s.port,
            s.from,
            humantime::format_duration(s.timeout),
            humantime::format_duration(s.send_timeout)
        ),
        None => format!(
            "email: no [smtp] section, so nothing is emailed: messages are written as .eml files to {}",
            config.data_dir.join("mail").display()
        ),
    }
}

/// Opens every target and reads the start of its listing: reachability, credentials,
/// bucket/share/folder, without verifying anything. Exit 0 if all answer, else 2.
async fn check_connections(config: &Config) -> Result<u8> {
    use futures::StreamExt;
    let mut failed = 0;
    for job in &config.jobs {
        for spec in &job.targets {
            let started = std::time::Instant::now();
            let outcome = async {
                let target = crate::target::open(spec).await?;
                let first = target.list().next().await.transpose()?;
                Ok::<_, crate::target::TargetError>(first)
            };
            let name = format!("{}/{}", job.name, spec.name);
            match outcome.await {
                Ok(Some(_)) => println!(
                    "{name}: reachable ({}), listed in {} ms",
                    spec.location,
                    started.elapsed().as_millis()
                ),
                Ok(None) => {
                    failed += 1;
                    println!(
                        "{name}: reachable but EMPTY ({}): a run would not verify anything",
                        spec.location
                    );
                }
                Err(e) => {
                    failed += 1;
                    println!("{name}: ERROR: {e}");
                }
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 2 })
}

/// The command line as the user typed it, for "run it as that user" hints.
fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Refuses to write in `data_dir` or `scratch_dir` when this user cannot, or should not
/// (root in another user's folder): the error says what to do instead.
fn ensure_folders(config: &Config) -> Result<()> {
    let problems = config::check_folders(config, &command_line());
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    bail!(
        "refusing to write in the data folders:\n  {}",
        list.join("\n  ")
    )
}

/// Whether a running daemon holds the catalog (then talk to it and write nothing here).
/// Used only when this process must not open the catalog itself.
fn daemon_holds_catalog(data_dir: &Path) -> bool {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(data_dir.join("backproof.lock")) else {
        return false;
    };
    match file.try_lock_shared() {
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            holder
                .lines()
                .any(|l| l.starts_with("command ") && l.split_whitespace().any(|w| w == "daemon"))
        }
        // Free (released when `file` is dropped) or not lockable: no daemon.
        _ => false,
    }
}

/// Opens the catalog and cleans up after runs that died (crash, `kill -9`): we hold the
/// lock, so any run still marked running is an orphan, and so is any scratch folder of
/// this installation. A run whose finished record the catalog lost (damage at the end of
/// its log) is put back from its evidence file, and the loss is noted in its history.
pub fn open_catalog(config: &Config) -> Result<Catalog> {
    ensure_folders(config)?;
    let catalog = Catalog::open(&config.data_dir)?;
    recover_lost_runs(config, &catalog)?;
    for id in catalog.interrupt_unfinished()? {
        tracing::warn!(run_id = %id, "run did not finish (process stopped); recorded as interrupted");
    }
    let swept =
        ScratchDir::sweep_orphans(&config.scratch_dir, catalog.installation(), |_| false)
            .with_context(|| format!("cleaning scratch folder {}", config.scratch_dir.display()))?;
    if swept > 0 {
        tracing::warn!(count = swept, "removed scratch folders of interrupted runs");
    }
    Ok(catalog)
}

/// Puts back finished runs the catalog lost (damage: a torn end of its log, a damaged
/// segment), from their evidence files, and notes the loss in the job's history. A loss
/// shows as the job's newest finished run (named beside its evidence files) missing or
/// unfinished in the catalog, or as a run left "running" whose evidence file is finished.
fn recover_lost_runs(config: &Config, catalog: &Catalog) -> Result<()> {
    use crate::evidence::RunStatus;
    let evidence = config.data_dir.join("evidence");
    let unfinished = catalog.unfinished()?;
    for job in &config.jobs {
        let dir = evidence.join(&job.name);
        let last = std::fs::read_to_string(dir.join(crate::verify::LAST_RUN_MARK)).ok();
        let lost_last = match &last {
            Some(id) => catalog
                .run(id.trim())?
                .is_none_or(|ev| ev.status != RunStatus::Finished),
            None => false,
        };
        let stuck = unfinished
            .iter()
            .any(|ev| ev.job == job.name && dir.join(format!("{}.json", ev.run_id)).exists());
        if !lost_last && !stuck {
            continue;
        }
        let mut restored = Vec::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(doc) = serde_json::from_slice::<RunEvidence>(&bytes) else {
                continue;
            };
            let known = catalog.run(&doc.run_id)?;
            if doc.status == RunStatus::Finished
                && doc.job == job.name
                && known.is_none_or(|k| k.status != RunStatus::Finished)
            {
                restored.push((doc, bytes));
            }
        }
        if restored.is_empty() {
            continue;
        }
        restored.sort_by(|a, b| (a.0.started_at, &a.0.run_id).cmp(&(b.0.started_at, &b.0.run_id)));
        let ids: Vec<&str> = restored.iter().map(|(d, _)| d.run_id.as_str()).collect();
        let note = format!(
            "the catalog had lost the finished record of {} run(s) ({}), probably through damage to its database; they were put back from their evidence files in {}. What those runs changed in the catalog (the listing later runs compare with, baselines, open problems) may be lost",
            ids.len(),
            ids.join(", "),
            dir.display()
        );
        tracing::error!(job = %job.name, "{note}");
        for (doc, bytes) in &restored {
            catalog.restore_run(doc, bytes)?;
        }
        // The problems the newest restored run left open stay open.
        if let Some((newest, _)) = restored.last()
            && catalog
                .last_finished_run(&job.name)?
                .is_some_and(|l| l.run_id == newest.run_id)
        {
            for t in &newest.targets {
                for p in &t.problems {
                    catalog.reopen_problem(&job.name, &t.name, p)?;
                }
            }
        }
        catalog.note(&job.name, &note)?;
        catalog.flush()?;
    }
    Ok(())
}

/// Opens the catalog, or says that a daemon holds it (`None`): then talk to its API.
pub fn catalog_or_daemon(config: &Config) -> Result<Option<Catalog>> {
    if !config::check_folders(config, "").is_empty() && daemon_holds_catalog(&config.data_dir) {
        return Ok(None);
    }
    match open_catalog(config) {
        Ok(c) => Ok(Some(c)),
        Err(e) => match e.downcast_ref::<CatalogError>() {
            Some(CatalogError::Locked { holder, .. }) if holder.contains(" daemon") => Ok(None),
            _ => Err(e),
        },
    }
}

pub async fn run(config: &Config, job_name: &str, mut req: RunRequest, json: bool) -> Result<u8> {
    let job = find_job(config, job_name)?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let Some(catalog) = catalog_or_daemon(config)? else {
        return run_in_daemon(config, job_name, req.target.as_deref(), json).await;
    };
    let verifier = Verifier::new(config, catalog.clone());
    let progress = Arc::new(Progress::new("", job_name));
    req.progress = Some(progress.clone());
    let bar = (!json).then(|| {
        let p = progress.clone();
        tokio::spawn(super::follow::follow(move || {
            let p = p.clone();
            async move { Ok(p.snapshot()) }
        }))
    });
    // The run id is chosen here, so that a run that panics can still be recorded.
    let run_id = match &req.run_id {
        Some(id) => id.clone(),
        None => verifier.new_run_id()?,
    };
    req.run_id = Some(run_id.clone());
    let (target, trigger) = (req.target.clone(), req.trigger);
    let outcome = tokio::select! {
        r = AssertUnwindSafe(verifier.run(job, req)).catch_unwind() => match r {
            Ok(r) => r.map_err(anyhow::Error::from),
            Err(panic) => {
                let message = crate::verify::panic_message(&*panic);
                eprintln!("run {run_id} stopped on an internal error: {message}");
                match verifier.record_crash(job, &run_id, target.as_deref(), trigger, &message) {
                    Ok(Some(done)) => Ok(done),
                    Ok(None) => Err(anyhow!("run {run_id} was recorded before the internal error")),
                    Err(e) => Err(e.into()),
                }
            }
        },
        _ = tokio::signal::ctrl_c() => {
            // The run's future is dropped here, which removes its scratch folder.
            progress.finish(RunState::Interrupted, None);
            let ids = catalog.interrupt_unfinished()?;
            catalog.flush()?;
            eprintln!("interrupted: run {} recorded as interrupted (not verified)", ids.join(", "));
            return Ok(2);
        }
    };
    progress.finish(
        RunState::Finished,
        outcome.as_ref().ok().and_then(|d| d.evidence.verdict),
    );
    if let Some(bar) = bar {
        let _ = bar.await;
    }
    let done = outcome?;
    let ev = &done.evidence;
    if json {
        println!("{}", serde_json::to_string_pretty(ev)?);
    } else {
        print!("{}", report::run_summary(ev, Some(&done.evidence_file)));
        println!("Evidence BLAKE3: {}", done.hash);
    }
    if let Some(to) = &done.emailed_to {
        super::mail::deliver_now(config, &catalog, &to.join(", ")).await;
    }
    crate::hooks::webhook::deliver_now(&catalog, &config.webhooks).await;
    Ok(ev.effective_verdict().exit_code())
}

/// `backproof run` while the daemon runs: the daemon verifies, we follow its progress.
async fn run_in_daemon(config: &Config, job: &str, target: Option<&str>, json: bool) -> Result<u8> {
    let remote = Remote::connect(config)?;
    let run_id = remote.start(job, target).await?;
    if !json {
        eprintln!("run {run_id} started by the daemon (Ctrl-C stops watching, not the run)");
    }
    let last = super::follow::follow(|| remote.progress(&run_id)).await?;
    let ev = match remote.show(&run_id).await {
        Ok(ev) => ev,
        Err(_) if last.state == RunState::Interrupted => {
            eprintln!("run {run_id} was interrupted before it started");
            return Ok(2);
        }
        Err(e) => return Err(e),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&ev)?);
    } else {
        let file = config
            .data_dir
            .join("evidence")
            .join(job)
            .join(format!("{run_id}.json"));
        print!(
            "{}",
            report::run_summary(&ev, file.exists().then_some(file.as_path()))
        );
    }
    Ok(ev.effective_verdict().exit_code())
}

async fn status(config: &Config, json: bool) -> Result<u8> {
    let status = match catalog_or_daemon(config)? {
        Some(catalog) => crate::status::collect(config, &catalog, None)?,
        None => Remote::connect(config)?.status().await?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", report::status_table(&status));
    }
    Ok(status.exit_code())
}

/// Who runs this command: the user behind `sudo`, else the login name.
fn current_user() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| format!("uid {}", unsafe { libc::getuid() }))
}

async fn ack(config: &Config, job: &str, req: &crate::ack::AckRequest) -> Result<u8> {
    find_job(config, job)?;
    let acked = match catalog_or_daemon(config)? {
        Some(catalog) => {
            let acked = crate::ack::acknowledge(config, &catalog, job, req, chrono::Utc::now())?;
            crate::hooks::webhook::deliver_now(&catalog, &config.webhooks).await;
            acked
        }
        None => Remote::connect(config)?.ack(job, req).await?,
    };
    if acked.is_empty() {
        println!("job {job} has no open problem to acknowledge");
        return Ok(0);
    }
    let until = req
        .until
        .map(|u| format!(" until {}", u.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_else(|| " until fixed".into());
    for a in &acked {
        println!(
            "acknowledged [BP-{}] {} on {}{until} by {}: {}",
            a.key,
            a.kind.label(),
            a.target,
            req.by,
            report::shown(&a.summary)
        );
    }
    Ok(0)
}

/// Checks a job's evidence chain and files: here, or in the daemon when it holds the
/// catalog.
async fn verify_evidence(config: &Config, job: &str) -> Result<u8> {
    find_job(config, job)?;
    let check = match catalog_or_daemon(config)? {
        Some(catalog) => {
            let evidence_dir = config.data_dir.join("evidence");
            crate::chain::verify(&catalog, job, &evidence_dir)?
        }
        None => Remote::connect(config)?.verify_evidence(job).await?,
    };
    let Some((first, more)) = check.problems.split_first() else {
        println!(
            "evidence chain of {job} is intact: {} document{}, each equal to its evidence file{}",
            check.documents,
            if check.documents == 1 { "" } else { "s" },
            check
                .head
                .map(|h| format!(", newest {h}"))
                .unwrap_or_default()
        );
        return Ok(0);
    };
    println!(
        "evidence chain of {job} is BROKEN at run {}: {}",
        first.run_id, first.reason
    );
    for p in more {
        println!("  also at run {}: {}", p.run_id, p.reason);
    }
    Ok(1)
}

pub fn find_job<'a>(config: &'a Config, name: &str) -> Result<&'a config::Job> {
    config.job(name).ok_or_else(|| {
        let known: Vec<&str> = config.jobs.iter().map(|j| j.name.as_str()).collect();
        anyhow!(
            "no job named `{name}` in {} (jobs: {})",
            config.jobs_dir.display(),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )
    })
}

async fn show(config_path: &Path, run_id: &str, json: bool) -> Result<u8> {
    let config = load(config_path)?;
    // Open the catalog only where this user may write; else read without writing.
    let local = if config::check_folders(&config, "").is_empty() {
        match Catalog::open(&config.data_dir) {
            Ok(catalog) => Some(catalog),
            Err(CatalogError::Locked { .. }) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let (ev, file) = match local {
        Some(catalog) => {
            let ev = catalog
                .run(run_id)?
                .ok_or_else(|| anyhow!("no run `{run_id}` in the catalog"))?;
            let file = Verifier::new(&config, catalog).evidence_path(&ev.job, run_id);
            (ev, file)
        }
        // Another process holds the catalog (or this user may not write here): ask the
        // daemon, else read the evidence files finished runs leave.
        None => {
            let from_daemon = match Remote::connect(&config) {
                Ok(r) => r.show(run_id).await.ok(),
                Err(_) => None,
            };
            match from_daemon {
                Some(ev) => {
                    let file = config
                        .data_dir
                        .join("evidence")
                        .join(&ev.job)
                        .join(format!("{run_id}.json"));
                    (ev, file)
                }
                None => find_evidence_file(&config.data_dir, run_id)?,
            }
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&ev)?);
    } else {
        print!(
            "{}",
            report::run_summary(&ev, file.exists().then_some(file.as_path()))
        );
    }
    Ok(0)
}

fn find_evidence_file(data_dir: &Path, run_id: &str) -> Result<(RunEvidence, PathBuf)> {
    if !run_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        bail!("`{run_id}` is not a run id");
    }
    let dir = data_dir.join("evidence");
    for job in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = job?.path().join(format!("{run_id}.json"));
        if path.is_file() {
            let bytes = std::fs::read(&path)?;
            let ev = serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            return Ok((ev, path));
        }
    }
    bail!(
        "no evidence file for run `{run_id}` under {}",
        dir.display()
    )
}

async fn history(config_path: &Path, job_name: &str, limit: usize) -> Result<u8> {
    let config = load(config_path)?;
    find_job(&config, job_name)?;
    let (runs, notes) = match catalog_or_daemon(&config)? {
        Some(catalog) => {
            let mut runs = Vec::new();
            for id in catalog.run_ids_of_job(job_name)?.into_iter().take(limit) {
                if let Some(ev) = catalog.run(&id)? {
                    runs.push(ev);
                }
            }
            (runs, catalog.notes(job_name)?)
        }
        None => (
            Remote::connect(&config)?.history(job_name, limit).await?,
            Vec::new(),
        ),
    };
    if runs.is_empty() {
        println!("job {job_name} has no runs yet");
    } else {
        print!("{}", report::history_table(&runs));
    }
    for note in notes {
        println!("note: {note}");
    }
    Ok(0)
}

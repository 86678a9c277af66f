//! What each subcommand does.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use futures::FutureExt;

use crate::app::runs::RunService;
use crate::app::setup::{command_line, ensure_folders, find_job, load};
use crate::app::{Access, Remote};
use crate::config::{self, Config};
use crate::evidence::Trigger;
use crate::progress::{Progress, RunState};
use crate::report;
use crate::verify::{Crash, RunRequest, Verifier};

use super::{Cli, Command};

pub async fn dispatch(cli: Cli) -> Result<u8> {
    let needs_config = !matches!(
        cli.command,
        Command::Demo { .. } | Command::Init { .. } | Command::Completions { .. } | Command::Man
    );
    if needs_config && !cli.config.exists() {
        return Err(super::init::missing_config(&cli.config, cli.config_from));
    }
    match cli.command {
        Command::CheckConfig { connect } => {
            let code = check_config(&cli.config)?;
            if code == 0 && connect {
                return check_connections(&load(&cli.config)?, None).await;
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
            let Some(job) = job else {
                return Ok(list_jobs(&config));
            };
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
        Command::Show { run_id, json } => show(&load(&cli.config)?, &run_id, json).await,
        Command::History { job, limit, all } => {
            let limit = if all { usize::MAX } else { limit };
            history(&load(&cli.config)?, &job, limit).await
        }
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
        Command::Outbox {
            retry,
            pending,
            limit,
            all,
        } => {
            let query = crate::app::outbox_page::OutboxQuery {
                limit: (!all).then_some(limit),
                pending,
            };
            super::mail::outbox(&load(&cli.config)?, retry, query).await
        }
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
        Command::Compact => compact(&load(&cli.config)?).await,
        Command::Init { dir } => super::init::init(&cli.config, dir),
        Command::Job(super::JobCommand::Add(args)) => {
            super::job_add::job_add(&cli.config, args).await
        }
        Command::User(command) => super::user::user(&load(&cli.config)?, command).await,
        Command::Watch { run_id } => super::watch::watch(&load(&cli.config)?, &run_id).await,
        Command::Completions { shell } => super::completions::completions(shell),
        Command::Man => super::completions::man(),
    }
}

/// `backproof run` without a job: which jobs there are (exit 2, as for bad usage).
fn list_jobs(config: &Config) -> u8 {
    if config.jobs.is_empty() {
        eprintln!(
            "which job? there is none yet in {}: add one with `backproof job add NAME --client \"Name\" --url URL`",
            config.jobs_dir.display()
        );
        return 2;
    }
    eprintln!("which job? `backproof run JOB`, with JOB one of:");
    let width = config.jobs.iter().map(|j| j.name.len()).max().unwrap_or(0);
    for job in &config.jobs {
        eprintln!(
            "  {:<width$}  {} ({})",
            job.name,
            job.client,
            crate::format::plural(job.targets.len() as u64, "target")
        );
    }
    2
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
            "{}: {}; schedule \"{}\"; {}, {}; targets: {targets}",
            job.name,
            job.client,
            job.schedule,
            crate::format::plural(job.technicians.len() as u64, "technician"),
            crate::format::plural(job.owners.len() as u64, "owner")
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
pub(super) async fn check_connections(config: &Config, only: Option<&str>) -> Result<u8> {
    use futures::StreamExt;
    let mut failed = 0;
    for job in config
        .jobs
        .iter()
        .filter(|j| only.is_none_or(|o| j.name == o))
    {
        for spec in &job.targets {
            let started = std::time::Instant::now();
            let outcome = async {
                let target = crate::storage::open(spec).await?;
                let first = target.list().next().await.transpose()?;
                Ok::<_, crate::storage::TargetError>(first)
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

pub async fn run(config: &Config, job_name: &str, mut req: RunRequest, json: bool) -> Result<u8> {
    let job = find_job(config, job_name)?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let config = Arc::new(config.clone());
    let local = match crate::app::connect(&config)? {
        Access::Local(local) => local,
        Access::Remote(remote) => {
            return run_in_daemon(&config, &remote, job_name, req.target.as_deref(), json).await;
        }
    };
    let catalog = local.catalog;
    let verifier = RunService::new(&config, Verifier::new(&config, catalog.clone()));
    let progress = Arc::new(Progress::new("", job_name));
    // Here no slot is waited for: the run starts now (queued is the daemon's word).
    progress.update(|s| s.state = RunState::Running);
    req.progress = Some(progress.clone());
    let mut bar = (!json).then(|| {
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
    // One listener for the whole command: a signal that arrives between the run's end
    // and the deliveries below is kept for them, not lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let outcome = tokio::select! {
        r = AssertUnwindSafe(verifier.run(job, req)).catch_unwind() => match r {
            Ok(r) => r.map_err(anyhow::Error::from),
            Err(panic) => {
                let message = crate::verify::panic_message(&*panic);
                progress.finish(RunState::Interrupted, None);
                if let Some(bar) = bar.take() {
                    let _ = bar.await;
                }
                eprintln!("run {run_id} stopped on an internal error: {message}");
                let crash = Crash { run_id: &run_id, target: target.as_deref(), trigger, message: &message };
                match verifier.record_crash(job, crash) {
                    Ok(Some(done)) => Ok(done),
                    Ok(None) => Err(anyhow!("run {run_id} was recorded before the internal error")),
                    Err(e) => Err(e.into()),
                }
            }
        },
        _ = &mut ctrl_c => {
            // The run's future is dropped here, which removes its scratch folder.
            progress.finish(RunState::Interrupted, None);
            // The bar clears itself on seeing the end: the message gets a line of its own.
            if let Some(bar) = bar.take() {
                let _ = bar.await;
            }
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
        // The run is over: stop the bar now rather than at its next poll (up to 200 ms
        // away); dropping it clears it.
        bar.abort();
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
    let (code, run_id) = (ev.effective_verdict().exit_code(), ev.run_id.clone());
    let after = async move {
        if let Some(to) = &done.emailed_to {
            super::mail::deliver_now(&config, &catalog, &to.join(", ")).await;
        }
        crate::hooks::webhook::deliver_now(&catalog, &config.webhooks).await;
        // The run is recorded and reported: a catalog that grew well past what it holds
        // is compacted now (it needs the only handle), not at the start of a later command.
        drop(verifier);
        // Said on stderr: the command lingers after its report while the copy is made.
        let starting =
            || eprintln!("compacting the catalog (its file has doubled since the last time)...");
        let compacted = tokio::task::spawn_blocking(move || {
            crate::app::setup::compact_if_needed(catalog, chrono::Utc::now(), starting)
        })
        .await;
        match compacted {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("{e:#}"),
            Err(e) => tracing::error!("catalog compaction stopped: {e}"),
        }
    };
    // Ctrl-C still works once the run is recorded. What it cuts short is safe to leave:
    // a message being sent stays in the outbox (retried once this attempt's claim lapses,
    // as after a crash), and a compaction stopped at any point leaves the catalog whole at
    // the next start.
    tokio::select! {
        () = after => {}
        _ = &mut ctrl_c => eprintln!(
            "interrupted after run {run_id} was recorded: what was not delivered stays in the outbox (backproof outbox; a report cut short is retried once its delivery claim lapses)"
        ),
    }
    Ok(code)
}

/// `backproof run` while the daemon runs: the daemon verifies, we follow its progress.
async fn run_in_daemon(
    config: &Config,
    remote: &Remote,
    job: &str,
    target: Option<&str>,
    json: bool,
) -> Result<u8> {
    let run_id = remote.start(job, target).await?;
    if !json {
        eprintln!("run {run_id} started by the daemon (Ctrl-C stops watching, not the run)");
    }
    super::watch::follow_run(config, remote, &run_id, json, false).await
}

async fn status(config: &Config, json: bool) -> Result<u8> {
    let access = crate::app::connect(&Arc::new(config.clone()))?;
    let status = access.service().status().await?;
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
    let access = crate::app::connect(&Arc::new(config.clone()))?;
    let acked = access.service().ack(job, req).await?;
    if let crate::app::Access::Local(local) = &access {
        crate::hooks::webhook::deliver_now(&local.catalog, &config.webhooks).await;
    }
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
            crate::format::shown(&a.summary)
        );
    }
    Ok(0)
}

/// `backproof compact`: the catalog rewritten now, whatever its size (and the inventory
/// chunk files no index names removed).
async fn compact(config: &Config) -> Result<u8> {
    let catalog = crate::app::setup::open_catalog(config)?;
    let done = tokio::task::spawn_blocking(move || -> Result<crate::catalog::Compaction> {
        catalog.sweep_inventory()?;
        let copy = catalog.prepare_compaction()?;
        let done = copy.stats;
        drop(catalog.swap_in(copy)?);
        Ok(done)
    })
    .await??;
    println!(
        "catalog compacted: {} -> {}, {} records copied and checked, in {}",
        crate::format::human_bytes(done.bytes_before),
        crate::format::human_bytes(done.bytes_after),
        done.records,
        crate::format::human_duration(done.took.as_secs_f64()),
    );
    Ok(0)
}

/// Checks a job's evidence chain and files: here, or in the daemon when it holds the
/// catalog.
async fn verify_evidence(config: &Config, job: &str) -> Result<u8> {
    find_job(config, job)?;
    let access = crate::app::connect(&Arc::new(config.clone()))?;
    let check = access.service().verify_evidence(job).await?;
    let pruned = check.pruned.as_ref().map(|p| {
        format!(
            "\n{} up to {} were pruned by retention; the chain starts from {}",
            crate::format::plural(p.runs, "older run"),
            p.through_run,
            match (&p.anchor_run, &p.anchor_hash) {
                (Some(run), Some(hash)) => format!(
                    "the seal of run {run} (BLAKE3 {hash}), which the oldest remaining document must carry"
                ),
                _ => "its first remaining document".into(),
            }
        )
    });
    let Some((first, more)) = check.problems.split_first() else {
        println!(
            "evidence chain of {job} is intact: {}, each equal to its evidence file{}{}",
            crate::format::plural(check.documents as u64, "document"),
            check
                .head
                .map(|h| format!(", newest {h}"))
                .unwrap_or_default(),
            pruned.unwrap_or_default()
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
    if let Some(p) = pruned {
        println!("{}", p.trim_start());
    }
    Ok(1)
}

async fn show(config: &Config, run_id: &str, json: bool) -> Result<u8> {
    let shown = crate::app::show(&Arc::new(config.clone()), run_id).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&shown.evidence)?);
    } else {
        print!(
            "{}",
            report::run_summary(&shown.evidence, shown.file.as_deref())
        );
    }
    Ok(0)
}

async fn history(config: &Config, job: &str, limit: usize) -> Result<u8> {
    find_job(config, job)?;
    let access = crate::app::connect(&Arc::new(config.clone()))?;
    // One more than asked, to know whether there are more.
    let mut history = access
        .service()
        .history(job, limit.saturating_add(1))
        .await?;
    let more = history.runs.len() > limit;
    history.runs.truncate(limit);
    if history.runs.is_empty() {
        println!("job {job} has no runs yet");
    } else {
        print!("{}", report::history_table(&history.runs));
    }
    if more {
        println!(
            "(the newest {}; older ones with --limit N or --all)",
            crate::format::plural(limit as u64, "run")
        );
    }
    for note in history.notes {
        println!("note: {note}");
    }
    Ok(0)
}

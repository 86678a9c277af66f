//! `backproof daemon`: the long-running service.
//!
//! - [`scheduler`] fires each job's runs and weekly summaries, and catches up missed runs;
//! - `runs` carries runs out (bounded parallelism, one run per job at a time);
//! - `api` serves the local HTTP API the CLI talks to while the daemon holds the catalog
//!   (with the pages; over TLS when `daemon.tls_cert` is set, see `tls`);
//! - an outbox worker delivers queued email every minute and right after each run;
//! - `health` watches that the main loop, the runs and the delivery worker make
//!   progress: it answers the systemd watchdog only while they do, records the daemon's
//!   heartbeat in the catalog, and alerts about jobs that missed a scheduled run.
//!
//! Lifecycle: readiness is signalled to systemd once the configuration, the catalog, the
//! API and the scheduler are up. SIGHUP reloads the configuration (an invalid one is
//! refused and the running one kept). SIGTERM (or Ctrl-C) cancels the runs in flight,
//! records them as interrupted, removes their scratch folders and exits within
//! [`SHUTDOWN_GRACE`].

pub(crate) mod api;
pub mod clock;
pub(crate) mod health;
mod heartbeat;
pub mod remind;
pub(crate) mod runs;
pub mod scheduler;
mod tls;
mod webhook_worker;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::runs::RunService;
use crate::config::Config;
use crate::evidence::Trigger;
use crate::mail::{Mailer, Sender, outbox};
use crate::verify::Verifier;

use clock::{Clock, SystemClock};
use runs::{RunManager, StartError};
use scheduler::Fire;

/// How long runs get to stop after SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often the outbox is looked at when nothing wakes the worker.
const OUTBOX_INTERVAL: Duration = Duration::from_secs(60);

/// Reads the API token, creating it (mode 0600) on first start.
fn ensure_token(data_dir: &Path) -> Result<String> {
    let path = crate::app::setup::token_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => anyhow::bail!("{} is empty: remove it to get a new token", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let token: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(token.as_bytes())?;
    f.sync_all()?;
    tracing::info!(path = %path.display(), "created the API token file");
    Ok(token)
}

/// Where the command line reaches the API, for the lock record: the listening address
/// (loopback for an unspecified one), with `https://` when it is served over TLS.
fn api_address(daemon: &crate::config::DaemonConfig) -> String {
    let mut addr = daemon.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    match daemon.tls {
        Some(_) => format!("https://{addr}"),
        None => addr.to_string(),
    }
}

/// Runs the daemon until SIGTERM or Ctrl-C.
pub async fn run(config_path: &Path) -> Result<u8> {
    let config = Arc::new(crate::app::setup::load(config_path)?);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let me = crate::catalog::LockRecord::daemon(api_address(&config.daemon));
    let catalog = crate::app::setup::open_catalog_as(&config, &me)?;
    // Before anything else holds it: compaction needs the catalog's only handle. It
    // reads and writes the whole catalog once, so systemd is told to wait for it.
    let starting = || {
        let _ = sd_notify::notify(&[
            sd_notify::NotifyState::Status("compacting the catalog"),
            sd_notify::NotifyState::ExtendTimeoutUsec(15 * 60 * 1_000_000),
        ]);
    };
    let compacted = tokio::task::spawn_blocking(move || {
        crate::app::setup::compact_if_needed(catalog, chrono::Utc::now(), starting)
    })
    .await;
    let catalog = match compacted {
        Ok(result) => result?,
        // The catalog went with the panic (its lock too): open it again, uncompacted.
        Err(e) => {
            tracing::error!(error = %e, "catalog compaction stopped on an internal error; going on without it");
            crate::app::setup::open_catalog_as(&config, &me)?
        }
    };
    let token = ensure_token(&config.data_dir)?;
    let tls = match &config.daemon.tls {
        Some(files) => {
            // Served beyond this machine: people sign in with their own accounts.
            if catalog.users()?.is_empty() {
                anyhow::bail!(
                    "daemon.tls_cert is set but there is no user account to sign in with: add one first (backproof user add NAME --role admin)"
                );
            }
            Some(tls::acceptor(files)?)
        }
        None => None,
    };
    let runs = RunService::new(&config, Verifier::new(&config, catalog.clone()));
    let manager = RunManager::new(runs, config.clone());
    let health = Arc::new(health::Health::default());

    let listener = tokio::net::TcpListener::bind(config.daemon.listen)
        .await
        .with_context(|| format!("cannot listen on {} (daemon.listen)", config.daemon.listen))?;
    let api_state = Arc::new(api::ApiState {
        manager: manager.clone(),
        token: token.clone(),
        health: health.clone(),
    });
    let services: crate::web::Services = {
        let api_state = api_state.clone();
        Arc::new(move || Box::new(api::local(&api_state)) as Box<dyn crate::app::Service>)
    };
    let app = api::router(api_state)
        .merge(crate::web::router(Arc::new(crate::web::WebState::new(
            services,
            Arc::new(api::WebRuns(manager.clone())),
            token,
            tls.is_some(),
        ))))
        // The peer's address: `/metrics` is open to loopback only.
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let stop = manager.cancel.clone();
    tokio::spawn(async move {
        let stopped = async move { stop.cancelled().await };
        let served = match tls {
            Some(acceptor) => {
                use axum::serve::ListenerExt;
                let listener = tls::TlsListener::new(listener, acceptor)?.tap_io(|_| {});
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            }
            None => {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            }
        };
        if let Err(e) = &served {
            tracing::error!(error = %e, "the API server stopped");
        }
        served
    });
    tokio::spawn(outbox_worker(manager.clone(), health.clone()));
    tokio::spawn(webhook_worker::run(manager.clone()));
    tokio::spawn(heartbeat::run(manager.clone(), health.clone()));
    tokio::spawn(retention_worker(manager.clone()));

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (tx, mut fires) = mpsc::channel(256);
    let now = clock.now();
    for job in &config.jobs {
        // A job the daemon has never scheduled starts with its latest due slot handled.
        if catalog.last_slot(&job.name)?.is_none()
            && let Some(due) = job.schedule.last_at_or_before(job.timezone, now)
        {
            catalog.set_last_slot(&job.name, due)?;
        }
    }
    let missed = scheduler::missed(&config, now, &|job| catalog.last_slot(job).ok().flatten());
    for (job, slot) in &missed {
        tracing::warn!(job = %job, slot = %slot, "a scheduled run was missed while the daemon was down; it runs once soon");
        alert_missed(&manager, &config, job, *slot, true);
    }
    {
        let (m, wake) = (manager.clone(), manager.mail.clone());
        tokio::spawn(remind::run(
            move || m.config(),
            catalog.clone(),
            clock.clone(),
            manager.cancel.clone(),
            move || wake.notify_one(),
        ));
    }
    let mut schedules = CancellationToken::new();
    scheduler::start(
        &config,
        clock.clone(),
        tx.clone(),
        missed,
        schedules.clone(),
    );

    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let watchdog = sd_notify::watchdog_enabled();
    tracing::info!(
        jobs = config.jobs.len(),
        api = %config.daemon.listen,
        watchdog = ?watchdog,
        "backproof daemon ready"
    );
    // Health is looked at twice per watchdog interval (at most every 30 s).
    let tick = watchdog
        .map(|w| w / 2)
        .unwrap_or(Duration::from_secs(30))
        .clamp(Duration::from_millis(100), Duration::from_secs(30));
    tokio::spawn(health::watch(
        manager.clone(),
        health.clone(),
        tick,
        watchdog.is_some(),
    ));
    let mut beat = tokio::time::interval(tick);

    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut config = config;
    loop {
        tokio::select! {
            _ = beat.tick() => {
                health.beat(health::Part::Scheduler);
                test_stall_point("scheduler");
            }
            Some(fire) = fires.recv() => handle(&manager, &config, fire),
            _ = hangup.recv() => {
                if let Some(new) = reload(config_path, &config) {
                    schedules.cancel();
                    schedules = CancellationToken::new();
                    scheduler::start(&new, clock.clone(), tx.clone(), Vec::new(), schedules.clone());
                    manager.set_config(new.clone());
                    config = new;
                }
            }
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }

    tracing::info!("stopping: runs in flight are interrupted");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    schedules.cancel();
    manager.cancel.cancel();
    manager.tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, manager.tasks.wait())
        .await
        .is_err()
    {
        tracing::error!("runs did not stop within {SHUTDOWN_GRACE:?}; exiting anyway");
    }
    catalog.interrupt_unfinished()?;
    catalog.flush()?;
    Ok(0)
}

/// Loads the configuration again; `None` (and an error in the log) if it is invalid or
/// changes what cannot change while running.
fn reload(path: &Path, current: &Config) -> Option<Arc<Config>> {
    match crate::config::load(path) {
        Err(errors) => {
            tracing::error!(
                "configuration reload refused, the running configuration stays: {}",
                errors.to_string().trim_end().replace('\n', " ")
            );
            None
        }
        Ok(new)
            if new.data_dir != current.data_dir
                || new.daemon.listen != current.daemon.listen
                || new.daemon.tls != current.daemon.tls =>
        {
            tracing::error!(
                "configuration reload refused: data_dir, daemon.listen and the TLS files only change with a restart"
            );
            None
        }
        Ok(new) => {
            for w in &new.warnings {
                tracing::warn!("{w}");
            }
            if new.daemon.max_concurrent_runs != current.daemon.max_concurrent_runs {
                tracing::warn!("daemon.max_concurrent_runs changes with the next restart");
            }
            tracing::info!(jobs = new.jobs.len(), "configuration reloaded");
            Some(Arc::new(new))
        }
    }
}

fn handle(manager: &Arc<RunManager>, config: &Config, fire: Fire) {
    match fire {
        Fire::Run {
            job,
            slot,
            catch_up,
        } => {
            let catalog = manager.catalog();
            if let Err(e) = catalog
                .set_last_slot(&job, slot)
                .and_then(|()| catalog.flush())
            {
                tracing::error!(job = %job, error = %e, "could not record the scheduled slot");
            }
            match manager.start(&job, None, Trigger::Schedule) {
                Ok(run_id) => {
                    tracing::info!(job = %job, run_id = %run_id, catch_up, "scheduled run started")
                }
                Err(e @ StartError::AlreadyRunning { .. }) => {
                    tracing::warn!(job = %job, "scheduled run skipped: {e}");
                }
                Err(e) => tracing::error!(job = %job, error = %e, "scheduled run not started"),
            }
        }
        Fire::Digest { job, .. } => {
            let Some(j) = config.job(&job) else { return };
            let sender = Sender::from_config(config);
            match crate::mail::digest::enqueue(manager.catalog(), &sender, j, chrono::Utc::now()) {
                Ok(Some(_)) => manager.mail.notify_one(),
                Ok(None) => tracing::debug!(job = %job, "no owners: no weekly summary"),
                Err(e) => tracing::error!(job = %job, error = %e, "weekly summary not queued"),
            }
        }
    }
}

/// Queues an alert to the technicians of `job` about the missed slot `slot` (once: the
/// Message-ID is the job and slot).
pub(crate) fn alert_missed(
    manager: &RunManager,
    config: &Config,
    job: &str,
    slot: chrono::DateTime<chrono::Utc>,
    catching_up: bool,
) {
    let Some(j) = config.job(job) else { return };
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let event = crate::hooks::event::missed(j, slot, &host, catching_up);
    crate::hooks::webhook::queue(manager.catalog(), j, &[event]);
    let to: Vec<String> = j.alert_recipients().iter().map(|s| s.to_string()).collect();
    if to.is_empty() {
        return;
    }
    let subject = format!(
        "[MISSED] {}: the scheduled backup check did not run",
        j.client
    );
    let text = format!(
        "The backup check of {} (job {job}) scheduled for {} did not run on {host}{}. Until it runs, the backups are not verified. Check that the backproof daemon is running (systemctl status backproof) and its log (journalctl -u backproof).",
        j.client,
        slot.format("%Y-%m-%d %H:%M UTC"),
        if catching_up {
            ": the daemon was not running then. It runs now, once"
        } else {
            ""
        }
    );
    let sender = Sender::from_config(config);
    let key = format!("missed-{job}-{}", slot.format("%Y%m%d%H%M"));
    let composed = match crate::mail::compose::notice(&sender, &to, &subject, &text, &key) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(job, error = %e, "the missed-run alert could not be composed");
            return;
        }
    };
    let item = outbox::item(
        crate::catalog::MailKind::Alert,
        Some(job),
        None,
        &sender,
        composed,
        chrono::Utc::now(),
    );
    let catalog = manager.catalog();
    let known = catalog
        .outbox()
        .map(|items| items.iter().any(|i| i.message_id == item.message_id))
        .unwrap_or(false);
    if known {
        return;
    }
    match catalog.put_outbox(&item).and_then(|()| catalog.flush()) {
        Ok(()) => manager.mail.notify_one(),
        Err(e) => tracing::error!(job, error = %e, "the missed-run alert could not be queued"),
    }
}

/// A hook for tests, compiled only into debug builds: while the file named by
/// `BACKPROOF_TEST_STALL_FILE` exists and holds `part`, that part of the daemon blocks
/// (as a real hang would), so a test can see the watchdog stop. Release builds ignore it.
fn test_stall_point(part: &str) {
    #[cfg(debug_assertions)]
    if let Some(file) = std::env::var_os("BACKPROOF_TEST_STALL_FILE") {
        while std::fs::read_to_string(&file).is_ok_and(|t| t.trim() == part) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = part;
}

/// Delivers the outbox now, then every minute and whenever a run queued a message. Each
/// message's delivery has a deadline, so a stalled relay delays the worker by that much
/// at most; a panic in a round is logged and the next round goes on.
/// How often the daemon prunes old runs of every job (see `crate::app::retention`).
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// Batches of runs pruned per job and pass: a backlog goes over a few passes.
const RETENTION_BATCHES: usize = 5;

/// Prunes old runs a minute after start, then every [`RETENTION_INTERVAL`].
async fn retention_worker(manager: Arc<RunManager>) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = manager.cancel.cancelled() => return,
        }
        wait = RETENTION_INTERVAL;
        let (config, catalog) = (manager.config(), manager.catalog().clone());
        let pass = tokio::task::spawn_blocking(move || {
            crate::app::retention::prune_all(&config, &catalog, RETENTION_BATCHES)
        });
        match pass.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("retention could not prune old runs: {e}"),
            Err(e) => tracing::error!("retention stopped on an internal error: {e}"),
        }
    }
}

async fn outbox_worker(manager: Arc<RunManager>, health: Arc<health::Health>) {
    use futures::FutureExt;
    loop {
        health.delivering(true);
        let config = manager.config();
        match Mailer::new(&config) {
            Ok(mailer) => {
                let round = std::panic::AssertUnwindSafe(outbox::deliver(
                    manager.catalog(),
                    &mailer,
                    false,
                ))
                .catch_unwind()
                .await;
                match round {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "outbox delivery failed"),
                    Err(panic) => tracing::error!(
                        panic = %crate::verify::panic_message(&*panic),
                        "outbox delivery stopped on an internal error; the next round retries"
                    ),
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot send email"),
        }
        let stall = tokio::task::spawn_blocking(|| test_stall_point("delivery"));
        let _ = stall.await;
        health.delivering(false);
        tokio::select! {
            _ = tokio::time::sleep(OUTBOX_INTERVAL) => {}
            _ = manager.mail.notified() => {}
            _ = manager.cancel.cancelled() => return,
        }
    }
}

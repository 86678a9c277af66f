//! Retention: forgetting old runs so that the catalog's size stays bounded.
//!
//! A run is pruned (its record, its place in the job's history and its evidence file)
//! when it is older than `[daemon] keep_runs` (400 days by default) or beyond the newest
//! `[daemon] max_runs_per_job` (1,000) of its job. Only a job's *oldest* runs go, oldest
//! first, and pruning stops at the first run that must stay, so that what remains of the
//! evidence chain is whole: the catalog records the last pruned document's hash as the
//! chain's anchor (`backproof verify-evidence` checks from it and says so). A run stays,
//! and with it every newer one, while:
//! - it started less than 8 days ago (the weekly summary and the egress budget read
//!   them), or it is still running;
//! - it is the job's newest finished run (the status and the next run's seal);
//! - an open problem (acknowledged or not) was opened or last seen by it;
//! - a message waiting in the outbox reports on it.
//!
//! Work is bounded: at most [`BATCH`] runs per catalog transaction.

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};

use crate::catalog::{Catalog, CatalogError};
use crate::config::Config;
use crate::evidence::{RunEvidence, RunStatus};

use super::evidence_files::evidence_path;

/// Runs pruned per transaction.
pub const BATCH: usize = 200;

/// Runs this recent always stay (the weekly summary and the egress budget read them).
pub const RECENT_DAYS: i64 = 8;

/// What retention keeps.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub keep: Duration,
    pub max_runs_per_job: u64,
}

impl Retention {
    pub fn of(config: &Config) -> Retention {
        Retention {
            keep: Duration::from_std(config.daemon.keep_runs).unwrap_or(Duration::MAX),
            max_runs_per_job: config.daemon.max_runs_per_job,
        }
    }
}

/// Prunes up to `batches` × [`BATCH`] of `job`'s oldest runs that retention lets go,
/// removing their evidence files after the catalog forgot them. `in_outbox`: the runs
/// the outbox reports on, read here (only if a run might go) when not given. Returns how
/// many runs were pruned.
pub fn prune_job(
    catalog: &Catalog,
    data_dir: &std::path::Path,
    job: &str,
    policy: Retention,
    in_outbox: Option<&HashSet<String>>,
    now: DateTime<Utc>,
    batches: usize,
) -> Result<usize, CatalogError> {
    let mut keep: HashSet<String> = HashSet::new();
    let mut outbox_read = false;
    if let Some(runs) = in_outbox {
        keep.extend(runs.iter().cloned());
        outbox_read = true;
    }
    for (_, p) in catalog.job_problems(job)? {
        keep.insert(p.opened_run);
        keep.insert(p.last_seen_run);
    }
    if let Some(last) = catalog.summary(job)?.and_then(|s| s.last) {
        keep.insert(last.run_id);
    }
    let recent = now - Duration::days(RECENT_DAYS);
    let old = now
        .checked_sub_signed(policy.keep)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut excess =
        (catalog.newest_run_ids(job).count() as u64).saturating_sub(policy.max_runs_per_job);
    let mut pruned = 0;
    for _ in 0..batches {
        let mut batch: Vec<(RunEvidence, Vec<u8>)> = Vec::new();
        for id in catalog.oldest_run_ids(job, BATCH)? {
            let Some((ev, doc)) = catalog.run_with_document(&id)? else {
                break;
            };
            let old_enough = ev.status != RunStatus::Running
                && ev.started_at < recent
                && (ev.started_at < old || excess > 0);
            if old_enough && !outbox_read {
                keep.extend(catalog.outbox_runs()?);
                outbox_read = true;
            }
            let may_go = old_enough && !keep.contains(&ev.run_id);
            if !may_go {
                break;
            }
            excess = excess.saturating_sub(1);
            batch.push((ev, doc));
        }
        if batch.is_empty() {
            break;
        }
        if !catalog.prune_runs(job, &batch)? {
            // Another pass pruned some of them meanwhile: it has the job in hand.
            break;
        }
        catalog.flush()?;
        pruned += batch.len();
        for (ev, _) in &batch {
            remove_file(evidence_path(data_dir, job, &ev.run_id));
        }
        if batch.len() < BATCH {
            break;
        }
    }
    if pruned > 0 {
        tracing::info!(job, runs = pruned, "retention pruned old runs");
    }
    Ok(pruned)
}

/// Prunes every job of `config` (the daemon's periodic pass).
pub fn prune_all(
    config: &Config,
    catalog: &Catalog,
    batches: usize,
) -> Result<usize, CatalogError> {
    let in_outbox = catalog.outbox_runs()?;
    let policy = Retention::of(config);
    let now = Utc::now();
    let mut pruned = 0;
    for job in &config.jobs {
        pruned += prune_job(
            catalog,
            &config.data_dir,
            &job.name,
            policy,
            Some(&in_outbox),
            now,
            batches,
        )?;
    }
    Ok(pruned)
}

fn remove_file(path: PathBuf) {
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            file = %path.display(),
            "could not remove the evidence file of a pruned run: {e}"
        ),
    }
}

//! The status of every client at a glance: the data behind `backproof status`, the same
//! whether read from the catalog directly or from the daemon's API. Ages are relative to
//! the moment the status is collected, never to when a run checked.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError, Delivery};
use crate::config::Config;
use crate::evidence::{ProblemKind, RunStatus, Verdict};

/// The state of one client, worst first when sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientState {
    /// A proven problem is open and nobody acknowledged it.
    Problem,
    /// A scheduled run did not happen (the daemon was down or stuck).
    Missed,
    /// The last run could not verify (or there was none).
    NotVerified,
    /// Open problems, all acknowledged.
    Acknowledged,
    /// Verified, with warnings.
    Warn,
    Ok,
}

impl ClientState {
    pub fn label(self) -> &'static str {
        match self {
            ClientState::Problem => "PROBLEM",
            ClientState::Missed => "MISSED",
            ClientState::NotVerified => "NOT VERIFIED",
            ClientState::Acknowledged => "ACKED",
            ClientState::Warn => "WARN",
            ClientState::Ok => "OK",
        }
    }
}

/// The worst open problem of a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorstProblem {
    pub target: String,
    pub kind: ProblemKind,
    pub key: String,
    pub summary: String,
    pub since: DateTime<Utc>,
    pub acknowledged: bool,
}

/// One job's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusRow {
    pub job: String,
    pub client: String,
    pub state: ClientState,
    pub last_run: Option<String>,
    pub last_started: Option<DateTime<Utc>>,
    /// Verdict of the last finished run.
    pub verdict: Option<Verdict>,
    /// The oldest "newest backup" over the targets at the last finished run, and its age
    /// now.
    pub newest_backup: Option<DateTime<Utc>>,
    pub newest_backup_age_seconds: Option<u64>,
    /// The worst open problem (unacknowledged ones first), or the reason the last run
    /// could not verify.
    pub worst_problem: Option<WorstProblem>,
    pub open_problems: usize,
    pub acknowledged_problems: usize,
    /// Why the last finished run could not verify, if it could not.
    pub not_verified_reason: Option<String>,
    /// Only when the daemon is running: nothing else runs jobs on schedule.
    pub next_run: Option<DateTime<Utc>>,
    /// The run going on now, if the daemon is running one.
    pub running: Option<String>,
    /// A scheduled run that did not happen (more than `missed_grace` late).
    #[serde(default)]
    pub missed_slot: Option<DateTime<Utc>>,
    /// Nobody is alerted when the job fails (no technicians, owners not sent reports).
    #[serde(default)]
    pub nobody_notified: bool,
    /// Share of the targets' bytes test-restored and verified in the last 30 days, at the
    /// last finished run.
    #[serde(default)]
    pub coverage_30d: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub at: DateTime<Utc>,
    pub daemon_running: bool,
    /// When the daemon last said it was alive and every part of it made progress.
    #[serde(default)]
    pub daemon_last_alive: Option<DateTime<Utc>>,
    pub rows: Vec<StatusRow>,
    pub outbox_queued: usize,
    pub outbox_rejected: usize,
    /// Webhook messages still to go, and refused for good.
    #[serde(default)]
    pub webhooks_queued: usize,
    #[serde(default)]
    pub webhooks_rejected: usize,
}

impl Status {
    /// 0 every client verified, 1 a client has an open unacknowledged problem, 2 a client
    /// could not be verified (a proven problem ranks above a missing proof).
    pub fn exit_code(&self) -> u8 {
        let worst = self.rows.iter().map(|r| r.state).min();
        match worst {
            Some(ClientState::Problem) => 1,
            Some(ClientState::Missed | ClientState::NotVerified) => 2,
            _ => 0,
        }
    }
}

/// The latest scheduled slot of `job` that is more than `missed_grace` past and that the
/// daemon never handled: a missed run. `None` when the job is on time (or was never
/// scheduled by a daemon).
pub fn missed_slot(
    config: &Config,
    catalog: &crate::catalog::Catalog,
    job: &crate::config::Job,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let grace = chrono::Duration::from_std(config.daemon.missed_grace).ok()?;
    let due = job.schedule.last_at_or_before(job.timezone, now - grace)?;
    let last = catalog.last_slot(&job.name).ok().flatten()?;
    (last < due).then_some(due)
}

/// Which run of a job the daemon is running, if any.
pub type Running<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Collects the status; `running` tells which run of a job is going on, if any, and is
/// `None` when no daemon is running.
pub fn collect(
    config: &Config,
    catalog: &Catalog,
    running: Option<Running<'_>>,
) -> Result<Status, CatalogError> {
    let now = Utc::now();
    let mut rows = Vec::new();
    for job in &config.jobs {
        let last = catalog.last_finished_run(&job.name)?;
        let newest = last.as_ref().and_then(|ev| {
            ev.targets
                .iter()
                .filter_map(|t| t.inventory.as_ref()?.newest.as_ref())
                .map(|n| n.modified)
                .min()
        });
        let problems = catalog.job_problems(&job.name)?;
        let acked = |p: &crate::catalog::ProblemRecord| {
            p.ack
                .as_ref()
                .is_some_and(|a| a.until.is_none_or(|u| u > now))
        };
        let worst = problems
            .iter()
            .min_by_key(|(_, p)| (acked(p), p.kind.tier(), p.kind))
            .map(|(target, p)| WorstProblem {
                target: target.clone(),
                kind: p.kind,
                key: p.kind.key(&job.name, target),
                summary: p.summary.clone(),
                since: p.opened_at,
                acknowledged: acked(p),
            });
        let acknowledged = problems.iter().filter(|(_, p)| acked(p)).count();
        let verdict = last
            .as_ref()
            .filter(|e| e.status == RunStatus::Finished)
            .map(|e| e.effective_verdict());
        let not_verified_reason = last
            .as_ref()
            .filter(|_| verdict == Some(Verdict::Error))
            .and_then(|e| {
                e.targets
                    .iter()
                    .find(|t| t.verdict == Verdict::Error)
                    .map(|t| format!("{}: {}", t.name, t.summary))
            });
        let (verified, total) = last
            .iter()
            .flat_map(|e| &e.targets)
            .filter_map(|t| {
                Some((
                    t.coverage.as_ref()?.verified_bytes_30d,
                    t.inventory.as_ref()?.bytes,
                ))
            })
            .fold((0u64, 0u64), |(v, b), (tv, tb)| (v + tv, b + tb));
        let coverage_30d = (total > 0).then(|| verified as f64 / total as f64);
        let missed = missed_slot(config, catalog, job, now);
        let state = match (&worst, verdict) {
            (Some(w), _) if !w.acknowledged => ClientState::Problem,
            (_, Some(Verdict::Fail)) => ClientState::Problem,
            _ if missed.is_some() => ClientState::Missed,
            (_, None | Some(Verdict::Error)) => ClientState::NotVerified,
            (Some(_), _) => ClientState::Acknowledged,
            (None, Some(Verdict::Warn)) => ClientState::Warn,
            (None, Some(Verdict::Pass)) => ClientState::Ok,
        };
        rows.push(StatusRow {
            job: job.name.clone(),
            client: job.client.clone(),
            state,
            last_run: last.as_ref().map(|e| e.run_id.clone()),
            last_started: last.as_ref().map(|e| e.started_at),
            verdict,
            newest_backup: newest,
            newest_backup_age_seconds: newest
                .and_then(|m| now.signed_duration_since(m).to_std().ok())
                .map(|a| a.as_secs()),
            worst_problem: worst,
            open_problems: problems.len(),
            acknowledged_problems: acknowledged,
            not_verified_reason,
            next_run: running
                .is_some()
                .then(|| job.schedule.next_after(job.timezone, now))
                .flatten(),
            running: running.and_then(|r| r(&job.name)),
            missed_slot: missed,
            nobody_notified: job.alert_recipients().is_empty(),
            coverage_30d,
        });
    }
    rows.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.client.cmp(&b.client)));
    let items = catalog.outbox()?;
    let webhooks = catalog.webhooks()?;
    Ok(Status {
        at: now,
        daemon_running: running.is_some(),
        daemon_last_alive: catalog.heartbeat()?,
        rows,
        outbox_queued: items
            .iter()
            .filter(|i| i.delivery == Delivery::Pending)
            .count(),
        outbox_rejected: items
            .iter()
            .filter(|i| matches!(i.delivery, Delivery::Rejected { .. }))
            .count(),
        webhooks_queued: webhooks
            .iter()
            .filter(|i| i.delivery == Delivery::Pending)
            .count(),
        webhooks_rejected: webhooks
            .iter()
            .filter(|i| matches!(i.delivery, Delivery::Rejected { .. }))
            .count(),
    })
}

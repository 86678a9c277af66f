//! The status of every client at a glance: the data behind `backproof status`, the same
//! whether read from the catalog directly or from the daemon's API. Ages are relative to
//! the moment the status is collected, never to when a run checked.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError};
pub use crate::catalog::{Durations, duration_bounds};
use crate::config::Config;
use crate::evidence::{ProblemKind, Verdict};

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
    /// Each target at the last finished run.
    #[serde(default)]
    pub targets: Vec<TargetRow>,
    /// Open problems nobody acknowledged (or whose acknowledgement lapsed), by kind.
    #[serde(default)]
    pub unacknowledged: Vec<KindCount>,
    /// Durations of the job's finished runs (every one recorded).
    #[serde(default)]
    pub run_durations: Durations,
}

/// One target of a job's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRow {
    pub name: String,
    /// Verdict at the last finished run.
    pub verdict: Verdict,
    /// Modification time of its newest backup file at the last finished run.
    pub newest_backup: Option<DateTime<Utc>>,
    /// Share of its bytes verified in the last 30 days, at the last finished run.
    pub coverage_30d: Option<f64>,
    /// Start of the newest finished run that verified it (pass, warn or fail).
    pub last_verified: Option<DateTime<Utc>>,
    /// Restore throughput (bytes per second) of the newest finished run that restored
    /// files of it.
    pub restore_bytes_per_second: Option<f64>,
    /// Bytes test-restored from it by every finished run recorded.
    pub restored_bytes: u64,
}

/// How many open problems of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindCount {
    pub kind: ProblemKind,
    pub count: usize,
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
        // One small record per job: no stored run is read.
        let summary = catalog.summary(&job.name)?.unwrap_or_default();
        let last = summary.last.as_ref();
        let newest = last.and_then(|l| l.targets.iter().filter_map(|t| t.newest_backup).min());
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
        let mut unacknowledged: Vec<KindCount> = Vec::new();
        for (_, p) in problems.iter().filter(|(_, p)| !acked(p)) {
            match unacknowledged.iter_mut().find(|k| k.kind == p.kind) {
                Some(k) => k.count += 1,
                None => unacknowledged.push(KindCount {
                    kind: p.kind,
                    count: 1,
                }),
            }
        }
        unacknowledged.sort_by_key(|k| k.kind);
        let verdict = last.map(|l| l.verdict);
        let not_verified_reason = last
            .filter(|_| verdict == Some(Verdict::Error))
            .and_then(|l| {
                l.targets
                    .iter()
                    .find(|t| t.verdict == Verdict::Error)
                    .map(|t| format!("{}: {}", t.name, t.summary))
            });
        let coverage =
            |t: &crate::catalog::TargetSummary| Some((t.verified_bytes_30d?, t.inventory_bytes?));
        let (verified, total) = last
            .iter()
            .flat_map(|l| &l.targets)
            .filter_map(coverage)
            .fold((0u64, 0u64), |(v, b), (tv, tb)| (v + tv, b + tb));
        let coverage_30d = (total > 0).then(|| verified as f64 / total as f64);
        let targets = last
            .iter()
            .flat_map(|l| &l.targets)
            .map(|t| TargetRow {
                name: t.name.clone(),
                verdict: t.verdict,
                newest_backup: t.newest_backup,
                coverage_30d: coverage(t)
                    .filter(|(_, b)| *b > 0)
                    .map(|(v, b)| v as f64 / b as f64),
                last_verified: summary.last_verified.get(&t.name).copied(),
                restore_bytes_per_second: summary.throughput.get(&t.name).copied(),
                restored_bytes: summary.restored_bytes.get(&t.name).copied().unwrap_or(0),
            })
            .collect();
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
            last_run: last.map(|l| l.run_id.clone()),
            last_started: last.map(|l| l.started_at),
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
            targets,
            unacknowledged,
            run_durations: summary.durations.clone(),
        });
    }
    rows.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.client.cmp(&b.client)));
    let (outbox_queued, outbox_rejected) = catalog.outbox_counts()?;
    let webhooks = catalog.webhooks()?;
    Ok(Status {
        at: now,
        daemon_running: running.is_some(),
        daemon_last_alive: catalog.heartbeat()?,
        rows,
        outbox_queued,
        outbox_rejected,
        webhooks_queued: webhooks
            .iter()
            .filter(|i| i.delivery == crate::catalog::Delivery::Pending)
            .count(),
        webhooks_rejected: webhooks
            .iter()
            .filter(|i| matches!(i.delivery, crate::catalog::Delivery::Rejected { .. }))
            .count(),
    })
}

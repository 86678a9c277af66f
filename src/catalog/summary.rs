//! A job's summary: what the fleet's status and `/metrics` need of its finished runs, kept
//! up to date in the transaction that records each finished run, so that those queries
//! read one small record per job instead of decoding its stored runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::evidence::{RunEvidence, RunStatus, Verdict};

use super::RECORD_SCHEMA;

/// Upper bounds of the run duration buckets, in seconds: 1 s to about 9 hours (the
/// buckets of `backproof_run_duration_seconds`).
pub fn duration_bounds() -> impl Iterator<Item = f64> {
    (0..16).map(|i| 2f64.powi(i))
}

/// The summary of one job's finished runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub v: u32,
    /// The newest finished run.
    pub last: Option<LastRun>,
    /// Per target: start of the newest finished run that verified it (not `error`).
    #[serde(default)]
    pub last_verified: BTreeMap<String, DateTime<Utc>>,
    /// Per target: restore throughput (bytes per second) of the newest finished run that
    /// restored files of it.
    #[serde(default)]
    pub throughput: BTreeMap<String, f64>,
    /// Per target: bytes test-restored by every finished run recorded (runs pruned by
    /// retention included).
    #[serde(default)]
    pub restored_bytes: BTreeMap<String, u64>,
    /// Durations of every finished run recorded.
    #[serde(default)]
    pub durations: Durations,
}

/// A histogram of run durations: count per bucket of [`duration_bounds`] (one more for
/// longer runs), not cumulative.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    pub count: u64,
    pub sum_seconds: f64,
    pub buckets: Vec<u64>,
}

/// The newest finished run of a job, as the status shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub verdict: Verdict,
    pub targets: Vec<TargetSummary>,
}

/// One target at the newest finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    pub name: String,
    pub verdict: Verdict,
    pub summary: String,
    /// Modification time of the newest backup file.
    pub newest_backup: Option<DateTime<Utc>>,
    /// Bytes of the listing, and of them verified in the last 30 days.
    pub inventory_bytes: Option<u64>,
    pub verified_bytes_30d: Option<u64>,
}

impl JobSummary {
    /// Adds a finished run. A run not newer than the newest one recorded (put back from
    /// its evidence file after it was already counted) changes nothing.
    pub fn add(&mut self, ev: &RunEvidence) {
        if ev.status != RunStatus::Finished {
            return;
        }
        if let Some(last) = &self.last
            && (ev.started_at, &ev.run_id) <= (last.started_at, &last.run_id)
        {
            return;
        }
        self.v = RECORD_SCHEMA;
        for t in &ev.targets {
            if t.verdict != Verdict::Error {
                self.last_verified.insert(t.name.clone(), ev.started_at);
            }
            if let Some(r) = t.restore.as_ref() {
                *self.restored_bytes.entry(t.name.clone()).or_default() += r.bytes;
                if r.files > 0 {
                    self.throughput
                        .insert(t.name.clone(), r.throughput_mb_s * 1e6);
                }
            }
        }
        if let Some(end) = ev.finished_at
            && let Ok(d) = (end - ev.started_at).to_std()
        {
            let seconds = d.as_secs_f64();
            let d = &mut self.durations;
            d.buckets.resize(duration_bounds().count() + 1, 0);
            let at = duration_bounds()
                .position(|b| seconds <= b)
                .unwrap_or(d.buckets.len() - 1);
            d.buckets[at] += 1;
            d.count += 1;
            d.sum_seconds += seconds;
        }
        self.last = Some(LastRun {
            run_id: ev.run_id.clone(),
            started_at: ev.started_at,
            verdict: ev.effective_verdict(),
            targets: ev
                .targets
                .iter()
                .map(|t| TargetSummary {
                    name: t.name.clone(),
                    verdict: t.verdict,
                    summary: t.summary.clone(),
                    newest_backup: t
                        .inventory
                        .as_ref()
                        .and_then(|i| i.newest.as_ref())
                        .map(|n| n.modified),
                    inventory_bytes: t.inventory.as_ref().map(|i| i.bytes),
                    verified_bytes_30d: t.coverage.as_ref().map(|c| c.verified_bytes_30d),
                })
                .collect(),
        });
    }
}

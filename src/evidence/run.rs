//! The evidence document of one run, and the bytes it read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{RunStatus, TargetEvidence, Trigger, Verdict};

/// The evidence document of one run of one job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunEvidence {
    pub schema: u32,
    pub run_id: String,
    pub job: String,
    pub client: String,
    pub host: String,
    pub backproof_version: String,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    /// Worst verdict of all targets; `None` while running or when interrupted.
    pub verdict: Option<Verdict>,
    /// Seed of the sampling; `backproof run --seed` with it reproduces the choice of files
    /// (given the same listing and coverage ledger).
    pub seed: u64,
    pub targets: Vec<TargetEvidence>,
    /// The job's previous finished run, and the BLAKE3 of its evidence document as stored:
    /// each document seals the one before it, so a changed or removed report breaks the
    /// chain (`backproof verify-evidence`). `None` for a job's first run.
    #[serde(default)]
    pub previous_run: Option<String>,
    #[serde(default)]
    pub previous_hash: Option<String>,
    /// Bytes read from the targets by this run, against the job's egress budget.
    #[serde(default)]
    pub egress: Egress,
    /// The maintenance window in force when the run started: alerts about problems it
    /// opens are held until the window ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<MaintenanceWindow>,
}

/// A maintenance window, as a run saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl MaintenanceWindow {
    /// The sentence reports print about it.
    pub fn sentence(&self) -> String {
        format!(
            "A maintenance window was active ({} to {}): alerts about problems opened in it are held until it ends, and sent then if the problem is still open.",
            self.from.format("%Y-%m-%d %H:%M UTC"),
            self.until.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// Bytes read from the targets (what cloud providers bill as egress), and the budget.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Egress {
    pub read_bytes: u64,
    pub per_run: Option<u64>,
    pub per_week: Option<u64>,
    /// Bytes read by the job's runs of the 7 days before this one.
    pub week_used_before: u64,
}

impl Egress {
    /// Bytes this run may still read, if a budget is set.
    pub fn left(&self) -> Option<u64> {
        let run = self.per_run.map(|b| b.saturating_sub(self.read_bytes));
        let week = self
            .per_week
            .map(|b| b.saturating_sub(self.week_used_before + self.read_bytes));
        match (run, week) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl RunEvidence {
    /// The verdict that decides the exit code: an unfinished run could not verify.
    pub fn effective_verdict(&self) -> Verdict {
        match (self.status, self.verdict) {
            (RunStatus::Finished, Some(v)) => v,
            _ => Verdict::Error,
        }
    }
}

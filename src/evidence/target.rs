//! What one target showed: its checks, listing, drift, coverage and restores.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ClosedProblem, Finding, KeyedRepository, OpenProblem, SampledFile, Verdict, is_zero};

/// Everything found on one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetEvidence {
    pub name: String,
    /// Where the target is, without any secret.
    pub location: String,
    pub verdict: Verdict,
    /// One sentence: the most important reason for the verdict.
    pub summary: String,
    pub checks: Vec<CheckResult>,
    pub inventory: Option<Inventory>,
    pub drift: Option<Drift>,
    pub coverage: Option<Coverage>,
    pub restore: Option<RestoreSummary>,
    /// Every sampled file and what its test restore showed.
    pub files: Vec<SampledFile>,
    /// What this run found wrong, worst first (see [`Finding::rank`]).
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Problems open after this run: opened now or carried from earlier runs until the
    /// evidence shows them fixed or a technician acknowledges them.
    #[serde(default)]
    pub problems: Vec<OpenProblem>,
    /// Problems this run showed fixed.
    #[serde(default)]
    pub closed_problems: Vec<ClosedProblem>,
    /// A restic repository checked with its password (keyed mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restic_keyed: Option<KeyedRepository>,
}

impl TargetEvidence {
    /// Open problems nobody acknowledged (or whose acknowledgement expired).
    pub fn unacknowledged_problems(&self) -> impl Iterator<Item = &OpenProblem> {
        self.problems.iter().filter(|p| p.acknowledged.is_none())
    }
}

/// The named checks a target goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Could the target be opened and listed at all.
    Access,
    Inventory,
    Freshness,
    Drift,
    Coverage,
    Restore,
    /// Canary files present and intact.
    Canary,
    /// Checksum manifests readable, their files present, sampled files matching.
    Manifest,
    /// A backup repository's own consistency (restic: names match contents).
    Repository,
    /// Signs of ransomware: many files changed at once, content turned random.
    Ransomware,
    /// Sampled files compared with the live data.
    Source,
    /// Problems found by earlier runs and not fixed or acknowledged yet.
    Problems,
    /// backproof's own record of the target (its last listing) could be used.
    Catalog,
}

impl CheckKind {
    pub fn label(self) -> &'static str {
        match self {
            CheckKind::Access => "access",
            CheckKind::Inventory => "inventory",
            CheckKind::Freshness => "freshness",
            CheckKind::Drift => "drift",
            CheckKind::Coverage => "coverage",
            CheckKind::Restore => "restore",
            CheckKind::Canary => "canary",
            CheckKind::Manifest => "manifest",
            CheckKind::Repository => "repository",
            CheckKind::Ransomware => "ransomware",
            CheckKind::Source => "source",
            CheckKind::Problems => "problems",
            CheckKind::Catalog => "catalog",
        }
    }
}

/// One check's verdict and its reason in plain words.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: CheckKind,
    pub verdict: Verdict,
    pub reason: String,
}

/// What the listing of a target found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inventory {
    /// Files that count as backup files (after include/exclude).
    pub files: u64,
    pub bytes: u64,
    /// Files left out by the include/exclude globs.
    pub excluded: u64,
    /// Entries the listing left out on purpose (symbolic links not followed, special
    /// files): the count, and up to 100 of them with why.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_entries: Vec<SkippedEntry>,
    pub newest: Option<FileRef>,
    pub list_seconds: f64,
}

/// An entry a listing left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedEntry {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRef {
    pub path: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
}

/// Differences against the previous complete inventory of the same target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Drift {
    /// Run whose inventory this one is compared with; `None` on the first run.
    pub previous_run: Option<String>,
    pub previous_files: u64,
    pub previous_bytes: u64,
    pub new_files: u64,
    /// Files present last time and gone now.
    pub vanished_files: u64,
    pub vanished_bytes: u64,
    /// Up to [`Drift::LIST_LIMIT`] of the vanished files that were not expected to go
    /// (all of them without a `retention` policy), for the report.
    pub vanished: Vec<FileRef>,
    /// Files whose size changed while their modification time stayed the same: the
    /// count, and up to [`Drift::LIST_LIMIT`] of them.
    pub resized_in_place_files: u64,
    pub resized_in_place: Vec<Resized>,
    /// Files with a new modification time (new versions).
    pub modified_files: u64,
    /// Of the vanished files, those a `retention` policy expected to go (older than the
    /// retention horizon, and not the newest file of a folder that still has files).
    /// They are counted in `vanished_files` but not listed in `vanished`.
    #[serde(default)]
    pub retired_files: u64,
    #[serde(default)]
    pub retired_bytes: u64,
    /// Files matching an `immutable` pattern whose size or modification time changed:
    /// the count, and up to [`Drift::LIST_LIMIT`] of them.
    #[serde(default)]
    pub immutable_changed_files: u64,
    #[serde(default)]
    pub immutable_changed: Vec<Changed>,
}

/// A file that changed: before and after.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Changed {
    pub path: String,
    pub size_before: u64,
    pub modified_before: DateTime<Utc>,
    pub size_now: u64,
    pub modified_now: DateTime<Utc>,
}

impl Drift {
    /// How many names of a kind the evidence lists; the counts are always complete.
    pub const LIST_LIMIT: usize = 100;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resized {
    pub path: String,
    pub modified: DateTime<Utc>,
    pub size_before: u64,
    pub size_now: u64,
}

/// How much of the target has ever been test-restored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Coverage {
    /// Files of the current inventory restored and verified at least once.
    pub verified_files: u64,
    pub verified_bytes: u64,
    /// The same, counting only verifications in the last 30 days.
    pub verified_files_30d: u64,
    pub verified_bytes_30d: u64,
    /// Files larger than the per-run byte budget: never sampled (except as the newest).
    pub oversize_files: u64,
}

/// Totals of the test restores of one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreSummary {
    pub files: u64,
    pub bytes: u64,
    /// Every byte read from the target for restores, failed ones and second reads
    /// included (the egress).
    #[serde(default)]
    pub read_bytes: u64,
    pub seconds: f64,
    /// Bytes restored per second over the restore phase, in MB/s (10^6 bytes).
    pub throughput_mb_s: f64,
    /// Projected time to restore the whole target at that rate, in seconds.
    pub projected_full_restore_seconds: Option<f64>,
    /// How the files were restored (`restore` in the policy); absent in evidence of
    /// versions that always wrote and read back every file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<crate::config::RestoreMode>,
}

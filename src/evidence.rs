//! The evidence document of a run: what was checked, how, and what was found.
//!
//! Evidence is plain data. The checks in [`crate::verify`] fill it in, the printers in
//! [`crate::report`] render it, the catalog stores it as JSON. Its `schema` number changes
//! whenever a field changes meaning.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version of the evidence document layout.
/// 2: findings ranked by severity, open and closed problems, retention-aware drift.
pub const EVIDENCE_SCHEMA: u32 = 2;

/// Outcome of a check, a target or a whole run, from best to worst.
///
/// `Error` means "could not verify" (the target could not be reached or read). `Fail`
/// means "verified, and found a problem" (corruption, stale backups, files gone). A proven
/// problem ranks above a missing proof, so a run with both reports `fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Error,
    Fail,
}

impl Verdict {
    /// Exit code of `backproof run` for this verdict: 0 verified, 1 failed, 2 not verified.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass | Verdict::Warn => 0,
            Verdict::Fail => 1,
            Verdict::Error => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Error => "ERROR",
            Verdict::Fail => "FAIL",
        }
    }

    /// The worst of a set of verdicts, or `None` if there are none.
    pub fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Option<Verdict> {
        verdicts.into_iter().max()
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Where a run is in its life. Only `finished` runs carry a verdict that counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Finished,
    /// Stopped before it finished (Ctrl-C, shutdown, crash). Never a pass.
    Interrupted,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Manual,
    Schedule,
    Demo,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Demo => "demo",
        })
    }
}

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
    pub restic_keyed: Option<crate::verify::restic_keyed::KeyedRepository>,
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

impl SampledFile {
    /// Restored, hashed, and found as expected (perhaps with a warning): the only files
    /// that count as verified. A file that vanished before its restore warns, but proves
    /// nothing.
    pub fn verified(&self) -> bool {
        matches!(self.verdict, Verdict::Pass | Verdict::Warn) && self.streamed_blake3.is_some()
    }
}

/// A sampled file checked against a checksum manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestMatch {
    pub manifest: String,
    pub line: usize,
    pub algorithm: crate::verify::manifest::Algorithm,
    pub expected: String,
    pub actual: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
}

/// Why a file was picked for a test restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PickReason {
    /// The newest backup file: always restored.
    Newest,
    NeverVerified,
    LongestUnverified,
    /// A canary: restored on every run.
    Canary,
    /// The newest snapshot or index of a repository: restored on every run.
    RepositoryMetadata,
    /// A file an open problem names (corrupt, failed to restore): restored on every run
    /// until it verifies, on top of the sample.
    Recheck,
}

/// Where the expected hash of a sampled file came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expectation {
    /// First time this file is restored: no expectation, a baseline is recorded.
    FirstSeen,
    /// Same modification time as when it was verified before: must be identical.
    Baseline {
        blake3: String,
        size: u64,
        since_run: String,
        since: DateTime<Utc>,
    },
    /// A canary: its hash is in the configuration.
    Canary { blake3: String },
    /// The file has a new modification time: a new version, re-baselined.
    NewVersion {
        previous_blake3: String,
        previous_size: u64,
        previous_modified: DateTime<Utc>,
    },
}

/// One sampled file and the result of its test restore.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampledFile {
    pub path: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
    pub picked: PickReason,
    pub expected: Expectation,
    /// BLAKE3 of the bytes as they streamed out of the target.
    pub streamed_blake3: Option<String>,
    /// BLAKE3 of the restored copy, read back from the scratch disk.
    pub restored_blake3: Option<String>,
    /// When the first read did not match the baseline, the BLAKE3 of a second read of the
    /// file: a mismatch that does not repeat points at the storage path, not the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_read_blake3: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub second_read_bytes: u64,
    /// The checksum a manifest gives for this file, and what the restore computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestMatch>,
    /// Shannon entropy (bits per byte) of the start of the restored content, and of its
    /// baseline: text or databases turning near 8 is what encryption looks like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_entropy: Option<f32>,
    /// How the file compared with the live data (source spot check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::verify::source_check::SourceComparison>,
    /// What validating the restored copy beyond its hash showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<crate::verify::validate::Validation>,
    pub bytes: u64,
    pub seconds: f64,
    pub verdict: Verdict,
    pub reason: String,
}

/// What kind of problem a finding is. The order is the severity: corruption and
/// tampering and failed restores first, then vanished or shrunken backups, then a stale
/// set, then the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Backup content is not what it was: a baseline, canary or manifest mismatch, an
    /// archive that does not validate, a file that changed size in place.
    Corruption,
    /// Files that must never change changed; signs of ransomware.
    Tampering,
    /// A backup file could not be restored (the read failed).
    FailedRestore,
    /// A canary file is missing or altered.
    Canary,
    /// A backup repository's own consistency check failed.
    Repository,
    /// Backup files vanished that were not expected to.
    Vanished,
    /// The total size of the backups dropped.
    Shrunken,
    /// The newest backup is older than the policy allows.
    Stale,
    /// A checksum manifest lists files that are missing, or cannot be read.
    Manifest,
    /// Backed-up files differ from the live data.
    SourceMismatch,
    /// Something could not be verified (target unreachable, files unreadable).
    NotVerified,
    /// Everything else worth a warning (coverage, clocks, budget).
    Other,
}

impl ProblemKind {
    /// Severity tier: 0 corruption, tampering and failed restores; 1 vanished or
    /// shrunken backups; 2 a stale set; 3 the rest.
    pub fn tier(self) -> u8 {
        match self {
            ProblemKind::Corruption
            | ProblemKind::Tampering
            | ProblemKind::FailedRestore
            | ProblemKind::Canary
            | ProblemKind::Repository => 0,
            ProblemKind::Vanished | ProblemKind::Shrunken => 1,
            ProblemKind::Stale => 2,
            ProblemKind::Manifest
            | ProblemKind::SourceMismatch
            | ProblemKind::NotVerified
            | ProblemKind::Other => 3,
        }
    }

    /// A proven problem of this kind stays open across runs until fixed or acknowledged.
    /// "Could not verify" and warnings are judged afresh by every run.
    pub fn is_sticky(self) -> bool {
        !matches!(self, ProblemKind::NotVerified | ProblemKind::Other)
    }

    pub fn label(self) -> &'static str {
        match self {
            ProblemKind::Corruption => "corruption",
            ProblemKind::Tampering => "tampering",
            ProblemKind::FailedRestore => "failed restore",
            ProblemKind::Canary => "canary",
            ProblemKind::Repository => "repository",
            ProblemKind::Vanished => "vanished",
            ProblemKind::Shrunken => "shrunken",
            ProblemKind::Stale => "stale",
            ProblemKind::Manifest => "manifest",
            ProblemKind::SourceMismatch => "source mismatch",
            ProblemKind::NotVerified => "could not verify",
            ProblemKind::Other => "other",
        }
    }

    /// The stable key of a problem of this kind on a job's target: the same across runs,
    /// for threading alerts and for acknowledgements (`3f9a2c1d`).
    pub fn key(self, job: &str, target: &str) -> String {
        let mut h = blake3::Hasher::new();
        for part in [job, target, self.label()] {
            h.update(part.as_bytes());
            h.update(&[0]);
        }
        h.finalize().to_hex()[..8].to_string()
    }
}

/// One thing a run found wrong on a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: ProblemKind,
    /// The check that found it.
    pub check: CheckKind,
    /// `fail` (proven), `error` (could not verify) or `warn`.
    pub verdict: Verdict,
    /// One sentence with the facts.
    pub summary: String,
    /// How many files it concerns (0 when it is not about files), and up to
    /// [`Drift::LIST_LIMIT`] of them.
    pub files: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

impl Finding {
    /// Sort key, worst first: a proven problem, then could-not-verify, then warnings;
    /// within each, by severity tier and kind.
    pub fn rank(&self) -> (std::cmp::Reverse<Verdict>, u8, ProblemKind) {
        (std::cmp::Reverse(self.verdict), self.kind.tier(), self.kind)
    }
}

/// Who acknowledged a problem, when, why, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
    /// The acknowledgement lapses then; `None`: until the problem is fixed.
    pub until: Option<DateTime<Utc>>,
}

/// A problem open after a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenProblem {
    /// Stable per job, target and kind ([`ProblemKind::key`]).
    pub key: String,
    pub kind: ProblemKind,
    /// What is wrong, as last observed.
    pub summary: String,
    pub opened_run: String,
    pub opened_at: DateTime<Utc>,
    /// The last run that observed it (this one, if `observed`).
    pub last_seen_run: String,
    pub last_seen_at: DateTime<Utc>,
    /// This run observed it (opened it or saw it again); otherwise it is carried from an
    /// earlier run because nothing has shown it fixed.
    pub observed: bool,
    /// This run opened it.
    pub new: bool,
    /// Files still concerned (not yet back, not yet verifying), and up to
    /// [`Drift::LIST_LIMIT`] of them.
    pub files: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
}

/// A problem this run showed fixed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedProblem {
    pub key: String,
    pub kind: ProblemKind,
    /// What had been wrong.
    pub summary: String,
    pub opened_run: String,
    pub opened_at: DateTime<Utc>,
    /// What this run showed.
    pub fixed_by: String,
}

//! Findings ranked by severity, and problems open across runs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CheckKind, Verdict};

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
    /// [`super::Drift::LIST_LIMIT`] of them.
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
    /// [`super::Drift::LIST_LIMIT`] of them.
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

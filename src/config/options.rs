//! Small validated settings: closed sets of choices (read as they are written, any other
//! value is an error naming its key) and the egress budget.

use serde::{Deserialize, Serialize};

/// Which runs are emailed to the technicians.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Notify {
    /// Every run.
    Always,
    /// Failures, errors, and the first pass after them (a recovery).
    #[default]
    Problems,
}

/// The layout of a target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Backup files of any kind.
    #[default]
    Files,
    /// A restic repository: verified without its password, and with it when one is given.
    Restic,
}

/// How a sampled file is test-restored (`restore = "stream" | "disk"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreMode {
    /// Read out of the target and hashed (BLAKE3) as it streams: proves what the backup
    /// holds. A copy is written to the scratch folder only for a validator.
    #[default]
    Stream,
    /// Also written to the scratch folder, flushed to the disk and read back past the
    /// page cache (`O_DIRECT`) and hashed again: a realistic restore time, and a test of
    /// the restore destination.
    Disk,
}

/// `follow_symlinks = "inside" | "all" | "none"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowSymlinks {
    /// Only links whose target resolves inside the target's root.
    #[default]
    Inside,
    All,
    None,
}

/// What signs of ransomware yield (`ransomware = "warn" | "fail"`; "off" is no check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRansomware {
    Warn,
    Fail,
}

/// `[budget]` of a job: bytes its runs may read from its targets, per run and per 7 days.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub per_run: Option<u64>,
    pub per_week: Option<u64>,
}

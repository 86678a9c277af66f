//! What the catalog stores besides the evidence documents. Every record carries the
//! schema version it was written with, in the field `v`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version of the records in this file.
pub const RECORD_SCHEMA: u32 = 1;

/// What is known of one file of one target: its baseline (the expected content for its
/// modification time) and its line in the coverage ledger (when it was last verified).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub v: u32,
    pub size: u64,
    pub modified: DateTime<Utc>,
    pub blake3: String,
    /// Run that recorded this baseline, and when.
    pub baseline_run: String,
    pub baseline_at: DateTime<Utc>,
    /// Last run that restored the file and found it as expected.
    pub verified_run: String,
    pub verified_at: DateTime<Utc>,
}

/// A file as the last complete listing saw it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InventoryRecord {
    pub v: u32,
    pub size: u64,
    pub modified: DateTime<Utc>,
    /// Listing generation that last saw the file.
    pub generation: u64,
}

/// Totals of the last complete listing of a target, for drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetState {
    pub v: u32,
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub generation: u64,
    pub files: u64,
    pub bytes: u64,
}

//! What checking a restic repository with its password (keyed mode) found.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Verdict;

/// What keyed mode found in a repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyedRepository {
    pub verdict: Verdict,
    pub reason: String,
    /// Index files read, and packs they list.
    pub index_files: u64,
    pub packs_indexed: u64,
    /// Packs found with the size the index gives.
    pub packs_ok: u64,
    /// Packs the index lists that do not exist: the count and up to 100 paths.
    pub missing_packs: u64,
    pub missing: Vec<String>,
    /// Packs whose size differs from what the index gives.
    pub wrong_size_packs: u64,
    pub wrong_size: Vec<PackSize>,
    /// Packs no index lists (left by an interrupted backup; harmless).
    pub unindexed_packs: u64,
    /// Index and snapshot files that could not be read or decrypted.
    pub unreadable_files: u64,
    pub unreadable: Vec<String>,
    pub snapshots: u64,
    /// Distinct trees read and decrypted over all snapshots.
    pub trees: u64,
    /// Trees that could not be resolved: where, and why.
    pub unresolved_trees: u64,
    pub unresolved: Vec<String>,
    /// File content blobs that no index lists, and files that have such blobs.
    pub missing_blobs: u64,
    pub files_with_missing_blobs: Vec<String>,
    pub newest_snapshot: Option<SnapshotRef>,
    /// Files of the newest snapshot restored, and how (`restore` of the policy).
    pub restored: Vec<RestoredFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<crate::config::RestoreMode>,
    /// Bytes read from the target by keyed mode.
    pub read_bytes: u64,
    pub seconds: f64,
}

impl Default for KeyedRepository {
    /// Nothing found yet, nothing verified.
    fn default() -> Self {
        KeyedRepository {
            verdict: Verdict::Error,
            reason: String::new(),
            index_files: 0,
            packs_indexed: 0,
            packs_ok: 0,
            missing_packs: 0,
            missing: Vec::new(),
            wrong_size_packs: 0,
            wrong_size: Vec::new(),
            unindexed_packs: 0,
            unreadable_files: 0,
            unreadable: Vec::new(),
            snapshots: 0,
            trees: 0,
            unresolved_trees: 0,
            unresolved: Vec::new(),
            missing_blobs: 0,
            files_with_missing_blobs: Vec::new(),
            newest_snapshot: None,
            restored: Vec::new(),
            mode: None,
            read_bytes: 0,
            seconds: 0.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackSize {
    pub path: String,
    pub index_size: u32,
    pub size: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotRef {
    pub id: String,
    pub time: Option<DateTime<Utc>>,
    pub hostname: String,
    pub paths: Vec<String>,
}

/// One file of the newest snapshot, restored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoredFile {
    /// Path inside the snapshot.
    pub path: String,
    /// Size the snapshot gives.
    pub size: u64,
    /// Bytes restored.
    pub bytes: u64,
    /// BLAKE3 of the restored content, as it streamed (and as read back, when a copy was
    /// written).
    pub blake3: Option<String>,
    /// How the copy written to the scratch folder was read back (`restore = "disk"`);
    /// none when the file was only streamed and hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_back: Option<super::ReadBack>,
    pub verdict: Verdict,
    pub reason: String,
}

//! One sampled file: why it was picked, what was expected of it, and what its test
//! restore and the further proofs (manifest, validation, source) showed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Verdict, is_zero};

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
    /// BLAKE3 of the restored copy, read back from the scratch folder; `None` when no
    /// copy was written (`restore = "stream"`: the streamed bytes are the proof).
    pub restored_blake3: Option<String>,
    /// How the restored copy was read back, when one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_back: Option<ReadBack>,
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
    pub source: Option<SourceComparison>,
    /// What validating the restored copy beyond its hash showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
    pub bytes: u64,
    pub seconds: f64,
    pub verdict: Verdict,
    pub reason: String,
}

impl SampledFile {
    /// Restored, hashed, and found as expected (perhaps with a warning): the only files
    /// that count as verified. A file that vanished before its restore warns, but proves
    /// nothing.
    pub fn verified(&self) -> bool {
        matches!(self.verdict, Verdict::Pass | Verdict::Warn) && self.streamed_blake3.is_some()
    }
}

/// How a restored copy was read back from the scratch folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadBack {
    /// Flushed to the disk, then read past the page cache (`O_DIRECT`): the disk holds it.
    Disk,
    /// Read through the page cache (the file system refused `O_DIRECT`, or the copy was
    /// only written for a validator): proves the write path, not the disk.
    Cache,
}

/// A sampled file checked against a checksum manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestMatch {
    pub manifest: String,
    pub line: usize,
    pub algorithm: Algorithm,
    pub expected: String,
    pub actual: Option<String>,
}

/// A checksum algorithm of a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha256,
    Md5,
    Blake3,
}

impl Algorithm {
    pub fn label(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Md5 => "MD5",
            Algorithm::Blake3 => "BLAKE3",
        }
    }
}

/// How a sampled file compared with the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum SourceComparison {
    Identical,
    Differs {
        source_blake3: String,
    },
    /// Modified at the source after the backup was written: not comparable.
    ChangedAtSource,
    MissingAtSource,
    Error {
        reason: String,
    },
}

/// The outcome, for the evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub validator: String,
    pub verdict: Verdict,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The last lines the command printed (stdout then stderr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

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
    /// Shannon entropy (bits per byte) of the start of the baseline content.
    #[serde(default)]
    pub entropy: Option<f32>,
}

/// A file as the last complete listing saw it. There is one per listed file and all are
/// rewritten by every run, so it is stored in a fixed 25-byte binary layout (version
/// byte, then size, modification time in nanoseconds and generation, little-endian)
/// rather than JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InventoryRecord {
    pub v: u32,
    pub size: u64,
    pub modified: DateTime<Utc>,
    /// Listing generation that last saw the file.
    pub generation: u64,
}

impl InventoryRecord {
    const LEN: usize = 25;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = self.v as u8;
        out[1..9].copy_from_slice(&self.size.to_le_bytes());
        let nanos = self
            .modified
            .timestamp_nanos_opt()
            .unwrap_or(self.modified.timestamp().saturating_mul(1_000_000_000));
        out[9..17].copy_from_slice(&nanos.to_le_bytes());
        out[17..25].copy_from_slice(&self.generation.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<InventoryRecord, String> {
        if bytes.len() != Self::LEN || u32::from(bytes[0]) != RECORD_SCHEMA {
            return Err(format!(
                "inventory record of {} bytes, version {}: expected {} bytes, version {RECORD_SCHEMA}",
                bytes.len(),
                bytes.first().copied().unwrap_or_default(),
                Self::LEN
            ));
        }
        let word = |r: std::ops::Range<usize>| <[u8; 8]>::try_from(&bytes[r]).expect("8 bytes");
        Ok(InventoryRecord {
            v: RECORD_SCHEMA,
            size: u64::from_le_bytes(word(1..9)),
            modified: DateTime::from_timestamp_nanos(i64::from_le_bytes(word(9..17))),
            generation: u64::from_le_bytes(word(17..25)),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_record_round_trips() {
        let r = InventoryRecord {
            v: RECORD_SCHEMA,
            size: 123_456_789_012,
            modified: DateTime::from_timestamp_nanos(1_790_000_000_123_456_789),
            generation: 42,
        };
        assert_eq!(InventoryRecord::decode(&r.encode()), Ok(r));
        assert!(InventoryRecord::decode(&r.encode()[..24]).is_err());
    }
}

/// What an outbox message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    RunReport,
    Digest,
    Test,
}

/// Where a message is in its delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Delivery {
    /// Waiting for its next attempt.
    Pending,
    /// Accepted by the SMTP relay.
    Sent { at: DateTime<Utc> },
    /// Written to a `.eml` file because no `[smtp]` is configured: nobody was emailed.
    Written { at: DateTime<Utc>, file: String },
    /// The server refused it for good (a permanent 5xx on a recipient or the content).
    Rejected { at: DateTime<Utc>, reason: String },
}

/// One message in the durable outbox. The message is stored fully formatted, so every
/// attempt sends the same bytes with the same Message-ID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub v: u32,
    /// Key in the outbox: sorts by creation time.
    pub id: String,
    pub kind: MailKind,
    pub job: Option<String>,
    pub run_id: Option<String>,
    pub subject: String,
    pub message_id: String,
    /// Envelope sender and recipients.
    pub from: String,
    pub to: Vec<String>,
    /// The RFC 5322 message (ASCII: headers and bodies are encoded).
    pub message: String,
    pub created: DateTime<Utc>,
    pub delivery: Delivery,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub last_error: Option<String>,
    /// The delivery attempt going on, if any: one deliverer at a time per message.
    #[serde(default)]
    pub claim: Option<Claim>,
}

/// A deliverer's hold on one message while it sends it. It lapses at `until`, so a
/// deliverer that died mid-send does not block the message for ever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Who is sending: process id and a random tag unique to the delivery round.
    pub by: String,
    pub until: DateTime<Utc>,
}

impl OutboxItem {
    /// Whether a deliverer may take this message at `now`: still pending, due (or
    /// `force`), and not held by a live claim.
    pub fn claimable(&self, now: DateTime<Utc>, force: bool) -> bool {
        self.delivery == Delivery::Pending
            && (force || self.next_attempt <= now)
            && self.claim.as_ref().is_none_or(|c| c.until <= now)
    }
}

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

/// One listing's view of a file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    /// The listing generation ([`super::Catalog::next_generation`]).
    pub generation: u64,
    pub size: u64,
    pub modified: DateTime<Utc>,
}

/// A file as listings saw it. It holds up to two views: the one of the last *committed*
/// listing (of the last finished run; see [`TargetState::generation`]) and the one of the
/// listing in progress (or of a run that was interrupted). Drift compares with the
/// committed view only, so an interrupted run leaves no trace in what later runs compare
/// against. There is one record per listed file, so it is stored in a fixed 50-byte
/// binary layout (layout byte, presence flags, then two slots of generation, size and
/// modification time in nanoseconds, little-endian) rather than JSON. Records of the
/// older one-slot layout (25 bytes) are read as one slot.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InventoryRecord {
    pub slots: [Option<Seen>; 2],
}

impl InventoryRecord {
    const LAYOUT: u8 = 2;
    const LEN: usize = 50;
    const LEN_V1: usize = 25;

    /// The view of listing `generation`, if this record has it.
    pub fn at(&self, generation: Option<u64>) -> Option<Seen> {
        let g = generation?;
        self.slots.into_iter().flatten().find(|s| s.generation == g)
    }

    /// `previous` with the view of listing `now.generation`, keeping the view of the
    /// committed listing and dropping any other.
    pub fn record(previous: Option<&InventoryRecord>, committed: Option<u64>, now: Seen) -> Self {
        let keep = previous.and_then(|p| p.at(committed));
        InventoryRecord {
            slots: [keep, Some(now)],
        }
    }

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = Self::LAYOUT;
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(s) = slot else { continue };
            out[1] |= 1 << i;
            let at = 2 + i * 24;
            out[at..at + 8].copy_from_slice(&s.generation.to_le_bytes());
            out[at + 8..at + 16].copy_from_slice(&s.size.to_le_bytes());
            let nanos = s
                .modified
                .timestamp_nanos_opt()
                .unwrap_or(s.modified.timestamp().saturating_mul(1_000_000_000));
            out[at + 16..at + 24].copy_from_slice(&nanos.to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<InventoryRecord, String> {
        let word = |at: usize| -> u64 {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let time = |at: usize| DateTime::from_timestamp_nanos(word(at) as i64);
        match (bytes.len(), bytes.first().copied()) {
            (Self::LEN_V1, Some(1)) => Ok(InventoryRecord {
                slots: [
                    Some(Seen {
                        size: word(1),
                        modified: time(9),
                        generation: word(17),
                    }),
                    None,
                ],
            }),
            (Self::LEN, Some(Self::LAYOUT)) => {
                let mut r = InventoryRecord::default();
                for (i, slot) in r.slots.iter_mut().enumerate() {
                    if bytes[1] & (1 << i) != 0 {
                        let at = 2 + i * 24;
                        *slot = Some(Seen {
                            generation: word(at),
                            size: word(at + 8),
                            modified: time(at + 16),
                        });
                    }
                }
                Ok(r)
            }
            (len, layout) => Err(format!(
                "inventory record of {len} bytes, layout {}: expected {} bytes, layout {}",
                layout.unwrap_or_default(),
                Self::LEN,
                Self::LAYOUT
            )),
        }
    }
}

/// Totals of the last committed listing of a target (the one of its last finished run),
/// for drift. Written only when a run finishes, in the same transaction as the run.
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
        let seen = |generation, size| Seen {
            generation,
            size,
            modified: DateTime::from_timestamp_nanos(1_790_000_000_123_456_789),
        };
        let r = InventoryRecord {
            slots: [Some(seen(41, 7)), Some(seen(42, 123_456_789_012))],
        };
        assert_eq!(InventoryRecord::decode(&r.encode()), Ok(r));
        let one = InventoryRecord {
            slots: [None, Some(seen(0, 1))],
        };
        assert_eq!(InventoryRecord::decode(&one.encode()), Ok(one));
        assert!(InventoryRecord::decode(&r.encode()[..49]).is_err());
    }

    #[test]
    fn old_layout_reads_as_one_slot() {
        let mut v1 = vec![1u8];
        v1.extend_from_slice(&5u64.to_le_bytes());
        v1.extend_from_slice(&1_000_000_000i64.to_le_bytes());
        v1.extend_from_slice(&9u64.to_le_bytes());
        let r = InventoryRecord::decode(&v1).unwrap();
        let s = r.at(Some(9)).unwrap();
        assert_eq!((s.size, s.modified.timestamp()), (5, 1));
        assert!(r.at(Some(8)).is_none());
    }

    #[test]
    fn recording_keeps_only_the_committed_view() {
        let seen = |generation| Seen {
            generation,
            size: generation,
            modified: DateTime::from_timestamp_nanos(0),
        };
        // Committed 1; an interrupted listing 2 left its view; listing 3 replaces it.
        let r = InventoryRecord {
            slots: [Some(seen(2)), Some(seen(1))],
        };
        let next = InventoryRecord::record(Some(&r), Some(1), seen(3));
        assert_eq!(next.at(Some(1)), Some(seen(1)));
        assert_eq!(next.at(Some(3)), Some(seen(3)));
        assert_eq!(next.at(Some(2)), None);
        let first = InventoryRecord::record(None, None, seen(4));
        assert_eq!(first.slots, [None, Some(seen(4))]);
    }
}

/// What an outbox message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    RunReport,
    Digest,
    Test,
    /// About the daemon itself (a missed scheduled run).
    Alert,
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

/// An open problem of one target, in the catalog until the evidence shows it fixed.
/// The files it concerns are stored apart (one [`ProblemFile`] each), so that a problem
/// about thousands of vanished files does not make one huge record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemRecord {
    pub v: u32,
    pub kind: crate::evidence::ProblemKind,
    pub summary: String,
    pub opened_run: String,
    pub opened_at: DateTime<Utc>,
    pub last_seen_run: String,
    pub last_seen_at: DateTime<Utc>,
    /// Files still concerned.
    pub files: u64,
    /// Files concerned beyond those stored one by one (see [`PROBLEM_FILE_LIMIT`]): the
    /// problem can then only be closed by a technician or by its check passing.
    #[serde(default)]
    pub untracked_files: u64,
    /// For a shrunken set: its total size before the drop.
    #[serde(default)]
    pub reference_bytes: Option<u64>,
    #[serde(default)]
    pub ack: Option<crate::evidence::Acknowledgement>,
}

/// Files stored one by one per problem; beyond, only counted.
pub const PROBLEM_FILE_LIMIT: usize = 10_000;

/// A file an open problem concerns, as it was when the problem saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemFile {
    pub size: u64,
    pub modified: DateTime<Utc>,
}

impl ProblemFile {
    /// A file whose state the problem does not know (a problem put back from evidence).
    pub const UNKNOWN: ProblemFile = ProblemFile {
        size: 0,
        modified: DateTime::<Utc>::UNIX_EPOCH,
    };
}

/// An acknowledgement as recorded in the catalog's log (kept after the problem closes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckRecord {
    pub v: u32,
    pub job: String,
    pub target: String,
    pub kind: crate::evidence::ProblemKind,
    pub key: String,
    pub ack: crate::evidence::Acknowledgement,
}

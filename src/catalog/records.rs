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
    /// The listing generation ([`super::Catalog::next_generation`]) from which on the
    /// file was seen like this.
    pub generation: u64,
    pub size: u64,
    pub modified: DateTime<Utc>,
}

/// What a listing saw of a file: the file, or that it was gone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slot {
    /// Present like this from listing `generation` on.
    Present(Seen),
    /// Absent from listing `.0` on.
    Gone(u64),
}

impl Slot {
    fn since(&self) -> u64 {
        match self {
            Slot::Present(s) => s.generation,
            Slot::Gone(g) => *g,
        }
    }

    /// Whether two slots say the same of the file, whenever from.
    fn same_state(&self, other: &Slot) -> bool {
        match (self, other) {
            (Slot::Present(a), Slot::Present(b)) => (a.size, a.modified) == (b.size, b.modified),
            (Slot::Gone(_), Slot::Gone(_)) => true,
            _ => false,
        }
    }
}

/// A file as listings saw it, as changes: each slot says what the file was from one
/// listing generation on, until a later slot. It holds up to two: the one in force at
/// the last *committed* listing (of the last finished run; see
/// [`TargetState::generation`]) and the newest one, of the listing in progress or of an
/// interrupted run. Drift compares with the committed view only, so an interrupted run
/// leaves no trace in what later runs compare against. A file listed the same as before
/// is not written again: a listing writes what changed, not the whole inventory.
///
/// There is one record per listed file, so it is stored in a fixed 50-byte binary layout
/// (layout byte, flags, then two slots of generation, size and modification time in
/// nanoseconds, little-endian) rather than JSON. Records of the older layouts, whose
/// slots held exactly one listing each, are read as such ([`InventoryRecord::exact`]) and
/// rewritten in this layout by the next listing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InventoryRecord {
    pub slots: [Option<Slot>; 2],
    /// Read from an older layout: a slot holds for its own generation only.
    pub exact: bool,
}

/// What a listing does with a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Update {
    /// Nothing to write: the record already says it.
    Keep,
    Write(InventoryRecord),
    /// Nothing worth keeping: neither the committed listing nor this one has the file.
    Delete,
}

impl InventoryRecord {
    const LAYOUT: u8 = 3;
    const LAYOUT_V2: u8 = 2;
    pub(crate) const LEN: usize = 50;
    const LEN_V1: usize = 25;
    /// Flag bits: slot `i` is present (`1 << i`); it says the file was gone (`4 << i`).
    const GONE: u8 = 4;

    /// The slot in force at listing `generation`, if any.
    fn slot_at(&self, generation: u64) -> Option<Slot> {
        let slots = self.slots.into_iter().flatten();
        if self.exact {
            return slots.into_iter().find(|s| s.since() == generation);
        }
        slots
            .filter(|s| s.since() <= generation)
            .max_by_key(Slot::since)
    }

    /// The view of listing `generation`: the file as it was then, or `None` if it was
    /// absent (or the record does not reach back that far).
    pub fn at(&self, generation: Option<u64>) -> Option<Seen> {
        match self.slot_at(generation?)? {
            Slot::Present(s) => Some(s),
            Slot::Gone(_) => None,
        }
    }

    /// The newest slot (none for a record of an older layout: it is always rewritten).
    fn newest(&self) -> Option<Slot> {
        if self.exact {
            return None;
        }
        self.slots.into_iter().flatten().max_by_key(Slot::since)
    }

    /// What listing `generation` does with the record `previous` of a file it saw as
    /// `now` (`None`: not listed), keeping the view of the `committed` listing.
    pub fn update(
        previous: Option<&InventoryRecord>,
        committed: Option<u64>,
        generation: u64,
        now: Option<(u64, DateTime<Utc>)>,
    ) -> Update {
        let now = match now {
            Some((size, modified)) => Slot::Present(Seen {
                generation,
                size,
                modified,
            }),
            None => Slot::Gone(generation),
        };
        // (An exact slot of an older layout found here is the committed listing's own, so
        // it holds from that listing on, as a slot of this layout does.)
        let keep = previous.and_then(|p| committed.and_then(|c| p.slot_at(c)));
        let committed_present = matches!(keep, Some(Slot::Present(_)));
        if matches!(now, Slot::Gone(_)) && !committed_present {
            return match previous {
                Some(_) => Update::Delete,
                None => Update::Keep,
            };
        }
        if previous
            .and_then(InventoryRecord::newest)
            .is_some_and(|n| n.same_state(&now))
        {
            return Update::Keep;
        }
        let slots = match keep {
            Some(k) if k.same_state(&now) => [Some(k), None],
            k => [k, Some(now)],
        };
        Update::Write(InventoryRecord {
            slots,
            exact: false,
        })
    }

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = Self::LAYOUT;
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            out[1] |= 1 << i;
            let at = 2 + i * 24;
            out[at..at + 8].copy_from_slice(&slot.since().to_le_bytes());
            match slot {
                Slot::Gone(_) => out[1] |= Self::GONE << i,
                Slot::Present(s) => {
                    out[at + 8..at + 16].copy_from_slice(&s.size.to_le_bytes());
                    let nanos = s
                        .modified
                        .timestamp_nanos_opt()
                        .unwrap_or(s.modified.timestamp().saturating_mul(1_000_000_000));
                    out[at + 16..at + 24].copy_from_slice(&nanos.to_le_bytes());
                }
            }
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
                    Some(Slot::Present(Seen {
                        size: word(1),
                        modified: time(9),
                        generation: word(17),
                    })),
                    None,
                ],
                exact: true,
            }),
            (Self::LEN, Some(layout @ (Self::LAYOUT | Self::LAYOUT_V2))) => {
                let mut r = InventoryRecord {
                    exact: layout == Self::LAYOUT_V2,
                    ..InventoryRecord::default()
                };
                for (i, slot) in r.slots.iter_mut().enumerate() {
                    if bytes[1] & (1 << i) == 0 {
                        continue;
                    }
                    let at = 2 + i * 24;
                    *slot = Some(if bytes[1] & (Self::GONE << i) != 0 {
                        Slot::Gone(word(at))
                    } else {
                        Slot::Present(Seen {
                            generation: word(at),
                            size: word(at + 8),
                            modified: time(at + 16),
                        })
                    });
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

    fn seen(generation: u64, size: u64) -> Seen {
        Seen {
            generation,
            size,
            modified: DateTime::from_timestamp_nanos(1_790_000_000_123_456_789),
        }
    }

    fn written(u: Update) -> InventoryRecord {
        match u {
            Update::Write(r) => r,
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn inventory_record_round_trips() {
        let r = InventoryRecord {
            slots: [
                Some(Slot::Present(seen(41, 7))),
                Some(Slot::Present(seen(42, 123_456_789_012))),
            ],
            exact: false,
        };
        assert_eq!(InventoryRecord::decode(&r.encode()), Ok(r));
        let gone = InventoryRecord {
            slots: [Some(Slot::Present(seen(3, 1))), Some(Slot::Gone(9))],
            exact: false,
        };
        assert_eq!(InventoryRecord::decode(&gone.encode()), Ok(gone));
        assert!(InventoryRecord::decode(&r.encode()[..49]).is_err());
    }

    #[test]
    fn old_layouts_hold_for_their_own_listing_only() {
        let mut v1 = vec![1u8];
        v1.extend_from_slice(&5u64.to_le_bytes());
        v1.extend_from_slice(&1_000_000_000i64.to_le_bytes());
        v1.extend_from_slice(&9u64.to_le_bytes());
        let r = InventoryRecord::decode(&v1).unwrap();
        let s = r.at(Some(9)).unwrap();
        assert_eq!((s.size, s.modified.timestamp()), (5, 1));
        assert!(r.at(Some(8)).is_none());
        assert!(r.at(Some(10)).is_none());
        // Layout 2: two exact slots; the next listing rewrites it even when unchanged.
        let mut v2 = InventoryRecord {
            slots: [
                Some(Slot::Present(seen(4, 1))),
                Some(Slot::Present(seen(6, 2))),
            ],
            exact: false,
        }
        .encode();
        v2[0] = 2;
        let r = InventoryRecord::decode(&v2).unwrap();
        assert!(r.exact);
        assert_eq!(r.at(Some(4)), Some(seen(4, 1)));
        assert_eq!(r.at(Some(5)), None);
        let next = written(InventoryRecord::update(
            Some(&r),
            Some(6),
            7,
            Some((2, seen(0, 0).modified)),
        ));
        assert_eq!(next.at(Some(6)).map(|s| s.size), Some(2));
        assert_eq!(next.at(Some(7)).map(|s| s.size), Some(2));
        // An exact slot of a listing that is not the committed one is no view of it.
        let stale = InventoryRecord::update(Some(&r), Some(5), 7, None);
        assert_eq!(stale, Update::Delete);
    }

    #[test]
    fn an_unchanged_file_is_not_written_again() {
        let m = seen(0, 0).modified;
        let first = written(InventoryRecord::update(None, None, 1, Some((10, m))));
        // Committed 1; listings 2, 3... see it unchanged: nothing to write, and every
        // listing's view is the file.
        assert_eq!(
            InventoryRecord::update(Some(&first), Some(1), 2, Some((10, m))),
            Update::Keep
        );
        assert_eq!(first.at(Some(1)).map(|s| s.size), Some(10));
        assert_eq!(first.at(Some(5)).map(|s| s.size), Some(10));
        // A change is written, and the committed view is kept beside it.
        let changed = written(InventoryRecord::update(
            Some(&first),
            Some(4),
            5,
            Some((11, m)),
        ));
        assert_eq!(changed.at(Some(4)).map(|s| s.size), Some(10));
        assert_eq!(changed.at(Some(5)).map(|s| s.size), Some(11));
        // Back to the committed state: one slot again.
        let back = written(InventoryRecord::update(
            Some(&changed),
            Some(4),
            6,
            Some((10, m)),
        ));
        assert_eq!(back.slots, [first.slots[1], None]);
    }

    #[test]
    fn a_vanished_file_is_marked_gone_and_dropped_once_the_committed_listing_lacks_it() {
        let m = seen(0, 0).modified;
        let first = written(InventoryRecord::update(None, None, 1, Some((10, m))));
        let gone = written(InventoryRecord::update(Some(&first), Some(1), 2, None));
        assert_eq!(gone.at(Some(1)).map(|s| s.size), Some(10));
        assert_eq!(gone.at(Some(2)), None);
        // Still gone at listing 3 with 2 unfinished (committed still 1): kept as it is.
        assert_eq!(
            InventoryRecord::update(Some(&gone), Some(1), 3, None),
            Update::Keep
        );
        // Once a listing without it is committed, the record goes.
        assert_eq!(
            InventoryRecord::update(Some(&gone), Some(2), 3, None),
            Update::Delete
        );
        // Never listed and not listed now: nothing to do.
        assert_eq!(
            InventoryRecord::update(None, Some(2), 3, None),
            Update::Keep
        );
    }

    #[test]
    fn an_interrupted_listing_leaves_the_committed_view_alone() {
        let m = seen(0, 0).modified;
        let first = written(InventoryRecord::update(None, None, 1, Some((10, m))));
        // Listing 2 (never committed) saw it changed; listing 3 compares with 1.
        let interrupted = written(InventoryRecord::update(
            Some(&first),
            Some(1),
            2,
            Some((20, m)),
        ));
        assert_eq!(interrupted.at(Some(1)).map(|s| s.size), Some(10));
        // Listing 3 sees it as listing 2 did: no write, and listing 3's view is that.
        assert_eq!(
            InventoryRecord::update(Some(&interrupted), Some(1), 3, Some((20, m))),
            Update::Keep
        );
        assert_eq!(interrupted.at(Some(3)).map(|s| s.size), Some(20));
        // A file only the interrupted listing saw is no view of the committed one.
        let only = written(InventoryRecord::update(None, Some(1), 2, Some((5, m))));
        assert_eq!(only.at(Some(1)), None);
        assert_eq!(
            InventoryRecord::update(Some(&only), Some(1), 3, None),
            Update::Delete
        );
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

//! Which files to test-restore: the sample, as a value fed one listed file at a time.
//!
//! Rules, in order: the newest backup file is always restored; then files never verified
//! in their current version; then the ones verified longest ago. Ties are broken by a
//! keyed hash of the path under the run's seed, so the same seed, listing and coverage
//! ledger give the same sample in any listing order. Memory is bounded by the number of
//! files sampled, not by the size of the target.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};

use crate::evidence::PickReason;
use crate::storage::Entry;

/// Chooses up to `max_files` files and `max_bytes` bytes from a stream of entries.
#[derive(Debug)]
pub struct Sampler {
    key: [u8; 32],
    max_files: usize,
    max_bytes: u64,
    /// The best `max_files` candidates so far; the heap's top is the worst of them.
    best: BinaryHeap<Candidate>,
    newest: Option<Entry>,
    oversize: u64,
    /// A hard limit on bytes (an egress budget): even the newest file must fit.
    cap: Option<u64>,
}

/// The files picked, in the order they will be restored.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub picks: Vec<(Entry, PickReason)>,
    /// Files larger than `max_bytes`: never picked unless newest.
    pub oversize: u64,
    /// The newest file, when it was left out because it does not fit the hard cap.
    pub newest_over_cap: Option<Entry>,
}

#[derive(Debug)]
struct Candidate {
    /// Lower is better: (last verified, or MIN if never; tie-break hash).
    rank: (i64, u64),
    never_verified: bool,
    entry: Entry,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank
            .cmp(&other.rank)
            .then_with(|| self.entry.path.cmp(&other.entry.path))
    }
}

impl Sampler {
    pub fn new(seed: u64, max_files: u64, max_bytes: u64) -> Sampler {
        let mut material = [0u8; 8];
        material.copy_from_slice(&seed.to_le_bytes());
        Sampler {
            key: blake3::derive_key("backproof 2026 sample tie-break", &material),
            max_files: usize::try_from(max_files.max(1)).unwrap_or(usize::MAX),
            max_bytes,
            best: BinaryHeap::new(),
            newest: None,
            oversize: 0,
            cap: None,
        }
    }

    /// Limits the sample to `cap` bytes in all (an egress budget): unlike `max_bytes`,
    /// the newest file too must fit.
    pub fn with_cap(mut self, cap: u64) -> Sampler {
        self.cap = Some(cap);
        self.max_bytes = self.max_bytes.min(cap);
        self
    }

    /// Offers one listed file. `verified_at` is when its current version (same size and
    /// modification time) was last restored and found as expected, if ever.
    pub fn offer(&mut self, entry: &Entry, verified_at: Option<DateTime<Utc>>) {
        let is_newer = match &self.newest {
            None => true,
            Some(n) => (entry.modified, &entry.path) > (n.modified, &n.path),
        };
        if is_newer {
            self.newest = Some(entry.clone());
        }
        if entry.size > self.max_bytes {
            self.oversize += 1;
            return;
        }
        let tie = u64::from_le_bytes(
            blake3::keyed_hash(&self.key, entry.path.as_bytes()).as_bytes()[..8]
                .try_into()
                .expect("8 bytes"),
        );
        let rank = (verified_at.map_or(i64::MIN, |t| t.timestamp_millis()), tie);
        // Keep one spare slot: the newest file may be among the best and is taken apart.
        let keep = self.max_files.saturating_add(1);
        if self.best.len() >= keep
            && let Some(worst) = self.best.peek()
            && rank >= worst.rank
        {
            return;
        }
        self.best.push(Candidate {
            rank,
            never_verified: verified_at.is_none(),
            entry: entry.clone(),
        });
        if self.best.len() > keep {
            self.best.pop();
        }
    }

    /// The sample: the newest file first, then the best candidates that fit the budget.
    pub fn finish(self) -> Sample {
        let mut picks = Vec::new();
        let mut used = 0u64;
        let mut newest_over_cap = None;
        if let Some(n) = &self.newest {
            if self.cap.is_some_and(|cap| n.size > cap) {
                newest_over_cap = Some(n.clone());
            } else {
                // A newest file larger than the whole budget is taken on top of it.
                if n.size <= self.max_bytes {
                    used = n.size;
                }
                picks.push((n.clone(), PickReason::Newest));
            }
        }
        for c in self.best.into_sorted_vec() {
            if picks.len() >= self.max_files {
                break;
            }
            if self.newest.as_ref().is_some_and(|n| n.path == c.entry.path) {
                continue;
            }
            if used.saturating_add(c.entry.size) > self.max_bytes {
                continue;
            }
            used += c.entry.size;
            let why = if c.never_verified {
                PickReason::NeverVerified
            } else {
                PickReason::LongestUnverified
            };
            picks.push((c.entry, why));
        }
        Sample {
            picks,
            oversize: self.oversize,
            newest_over_cap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn entry(path: &str, size: u64, minute: u32) -> Entry {
        Entry {
            path: path.into(),
            size,
            modified: Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0).unwrap(),
        }
    }

    fn paths(s: &Sample) -> Vec<&str> {
        s.picks.iter().map(|(e, _)| e.path.as_str()).collect()
    }

    #[test]
    fn newest_first_then_never_verified_then_oldest_verified() {
        let t = |d| Some(Utc.with_ymd_and_hms(2026, 2, d, 0, 0, 0).unwrap());
        let mut s = Sampler::new(7, 3, u64::MAX);
        s.offer(&entry("old-verified", 1, 1), t(1));
        s.offer(&entry("recent-verified", 1, 2), t(20));
        s.offer(&entry("never", 1, 3), None);
        s.offer(&entry("newest", 1, 59), t(25));
        let out = s.finish();
        assert_eq!(paths(&out), vec!["newest", "never", "old-verified"]);
        assert_eq!(out.picks[0].1, PickReason::Newest);
        assert_eq!(out.picks[1].1, PickReason::NeverVerified);
        assert_eq!(out.picks[2].1, PickReason::LongestUnverified);
    }

    #[test]
    fn byte_budget_and_oversize() {
        let mut s = Sampler::new(1, 10, 100);
        s.offer(&entry("a", 60, 1), None);
        s.offer(&entry("b", 60, 2), None);
        s.offer(&entry("huge", 1000, 3), None);
        s.offer(&entry("c", 30, 4), None);
        let out = s.finish();
        // Newest is c (30); then one of a/b fits (60); the other would exceed 100.
        assert_eq!(out.picks.len(), 2);
        assert_eq!(out.picks[0].0.path, "c");
        assert_eq!(out.oversize, 1);
    }

    #[test]
    fn newest_is_taken_even_when_oversize() {
        let mut s = Sampler::new(1, 2, 100);
        s.offer(&entry("small", 10, 1), None);
        s.offer(&entry("big-newest", 500, 9), None);
        let out = s.finish();
        assert_eq!(paths(&out), vec!["big-newest", "small"]);
    }

    #[test]
    fn seed_reproduces_regardless_of_listing_order() {
        let files: Vec<Entry> = (0..200).map(|i| entry(&format!("f{i}"), 1, 1)).collect();
        let run = |seed, rev: bool| {
            let mut s = Sampler::new(seed, 5, u64::MAX);
            let mut v = files.clone();
            if rev {
                v.reverse();
            }
            for e in &v {
                s.offer(e, None);
            }
            s.finish()
        };
        assert_eq!(run(42, false), run(42, true));
        assert_ne!(run(42, false), run(43, false));
    }

    #[test]
    fn the_byte_budget_counts_the_newest_and_may_be_filled_exactly() {
        // Newest 60 of 100 bytes; 40 fits exactly after it, 50 does not.
        let mut s = Sampler::new(1, 10, 100);
        s.offer(&entry("fifty", 50, 1), None);
        s.offer(&entry("forty", 40, 2), None);
        s.offer(&entry("newest", 60, 9), None);
        let out = s.finish();
        assert_eq!(paths(&out), vec!["newest", "forty"]);
        // A file of exactly the budget is not oversize.
        let mut s = Sampler::new(1, 10, 100);
        s.offer(&entry("exact", 100, 1), None);
        s.offer(&entry("newest", 1, 9), None);
        let out = s.finish();
        assert_eq!(out.oversize, 0);
        assert_eq!(paths(&out), vec!["newest"], "1 + 100 is over 100");
    }

    #[test]
    fn the_files_verified_longest_ago_are_kept_whatever_the_listing_order() {
        let t = |d| Some(Utc.with_ymd_and_hms(2026, 2, d, 0, 0, 0).unwrap());
        let files: Vec<(Entry, Option<DateTime<Utc>>)> = (1..=12)
            .map(|d| (entry(&format!("v{d:02}"), 1, d), t(d)))
            .collect();
        for order in [false, true] {
            let mut s = Sampler::new(3, 4, u64::MAX);
            let mut v = files.clone();
            if order {
                v.reverse();
            }
            for (e, at) in &v {
                s.offer(e, *at);
            }
            let out = s.finish();
            // v12 is the newest; then the three verified longest ago.
            assert_eq!(
                paths(&out),
                vec!["v12", "v01", "v02", "v03"],
                "reversed: {order}"
            );
            assert!(
                out.picks[1..]
                    .iter()
                    .all(|(_, why)| *why == PickReason::LongestUnverified)
            );
        }
    }

    #[test]
    fn the_newest_is_the_latest_modification_then_the_greatest_name() {
        let mut s = Sampler::new(1, 1, u64::MAX);
        s.offer(&entry("b", 1, 5), None);
        s.offer(&entry("c", 1, 4), None);
        s.offer(&entry("a", 1, 5), None);
        assert_eq!(paths(&s.finish()), vec!["b"]);
    }

    #[test]
    fn a_hard_cap_leaves_out_a_newest_file_that_does_not_fit() {
        let mut s = Sampler::new(1, 10, 1000).with_cap(100);
        s.offer(&entry("old", 100, 1), None);
        s.offer(&entry("newest", 101, 9), None);
        let out = s.finish();
        assert_eq!(
            out.newest_over_cap.as_ref().map(|e| e.path.as_str()),
            Some("newest")
        );
        assert_eq!(paths(&out), vec!["old"], "the cap is the byte budget too");
        // Exactly the cap fits.
        let mut s = Sampler::new(1, 10, 1000).with_cap(100);
        s.offer(&entry("old", 1, 1), None);
        s.offer(&entry("newest", 100, 9), None);
        let out = s.finish();
        assert!(out.newest_over_cap.is_none());
        assert_eq!(paths(&out), vec!["newest"]);
    }
}

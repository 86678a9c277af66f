//! Judging a restored file against what the catalog expects of it.
//!
//! - Same modification time as the baseline: size and BLAKE3 must be identical, or it is
//!   corruption or tampering (fail); the baseline stays as it was.
//! - A new modification time: a new version. Re-baselined, reported as changed; a version
//!   that shrank by more than `file_shrink_percent` warns.
//! - Never seen: the first restore records the baseline.

use chrono::{DateTime, Utc};

use crate::catalog::{FileRecord, RECORD_SCHEMA};
use crate::config::Policy;
use crate::evidence::{Expectation, Verdict};
use crate::format::short_hash;
use crate::storage::Entry;

use super::restore::Restored;

/// The verdict on one restored file and the record to keep for it.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub verdict: Verdict,
    pub reason: String,
    pub expected: Expectation,
    /// The catalog record to store: `None` keeps the old one (a failed file keeps its
    /// good baseline, and stays first in line for the next sample).
    pub record: Option<FileRecord>,
    /// Same size and modification time as the baseline, other content: worth a second read.
    pub content_mismatch: bool,
}

/// What a baseline says about a listed file, before anything is restored.
pub fn expectation(entry: &Entry, known: Option<&FileRecord>) -> Expectation {
    match known {
        None => Expectation::FirstSeen,
        Some(k) if k.modified == entry.modified => Expectation::Baseline {
            blake3: k.blake3.clone(),
            size: k.size,
            since_run: k.baseline_run.clone(),
            since: k.baseline_at,
        },
        Some(k) => Expectation::NewVersion {
            previous_blake3: k.blake3.clone(),
            previous_size: k.size,
            previous_modified: k.modified,
        },
    }
}

pub fn judge(
    entry: &Entry,
    restored: &Restored,
    known: Option<&FileRecord>,
    policy: &Policy,
    run_id: &str,
    now: DateTime<Utc>,
) -> Judgement {
    let expected = expectation(entry, known);
    let fail = |reason: String, expected: Expectation| Judgement {
        verdict: Verdict::Fail,
        reason,
        expected,
        record: None,
        content_mismatch: false,
    };
    if let Some(on_disk) = restored.on_disk.filter(|h| *h != restored.streamed) {
        return Judgement {
            verdict: Verdict::Error,
            reason: format!(
                "the copy on the scratch disk ({}) differs from the bytes read from the target ({}): scratch disk problem, the file could not be verified",
                short_hash(&on_disk.to_hex()),
                short_hash(&restored.streamed.to_hex())
            ),
            expected,
            record: None,
            content_mismatch: false,
        };
    }
    if restored.bytes != entry.size {
        return fail(
            format!(
                "restored {} bytes but the listing says {}: the file is truncated or changed while being read",
                restored.bytes, entry.size
            ),
            expected,
        );
    }
    let hash = restored.streamed.to_hex().to_string();
    let new_record = |baseline_run: &str, baseline_at| FileRecord {
        v: RECORD_SCHEMA,
        size: entry.size,
        modified: entry.modified,
        blake3: hash.clone(),
        baseline_run: baseline_run.to_string(),
        baseline_at,
        verified_run: run_id.to_string(),
        verified_at: now,
        entropy: restored.entropy,
    };
    match (&expected, known) {
        (
            Expectation::Baseline {
                blake3,
                size,
                since_run,
                ..
            },
            Some(k),
        ) => {
            if *size != entry.size {
                fail(
                    format!(
                        "size changed from {size} to {} bytes while its modification time stayed {}: truncation, corruption or tampering",
                        entry.size,
                        entry.modified.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    expected.clone(),
                )
            } else if *blake3 != hash {
                let mut j = fail(
                    format!(
                        "content changed while size and modification time stayed the same: corruption or tampering (expected {}, got {}, baseline from run {since_run})",
                        short_hash(blake3),
                        short_hash(&hash)
                    ),
                    expected.clone(),
                );
                j.content_mismatch = true;
                j
            } else {
                Judgement {
                    verdict: Verdict::Pass,
                    reason: format!("identical to the baseline from run {since_run}"),
                    record: Some(new_record(&k.baseline_run, k.baseline_at)),
                    expected,
                    content_mismatch: false,
                }
            }
        }
        (
            Expectation::NewVersion {
                previous_size,
                previous_modified,
                previous_blake3,
            },
            _,
        ) if policy
            .immutable
            .as_ref()
            .is_some_and(|f| f.matches(&entry.path)) =>
        {
            fail(
                format!(
                    "this file must never change (immutable) but was rewritten: before {previous_size} bytes, modified {}, BLAKE3 {}; now {} bytes, modified {}, BLAKE3 {}",
                    previous_modified.format("%Y-%m-%d %H:%M:%S UTC"),
                    short_hash(previous_blake3),
                    entry.size,
                    entry.modified.format("%Y-%m-%d %H:%M:%S UTC"),
                    short_hash(&hash)
                ),
                expected.clone(),
            )
        }
        (
            Expectation::NewVersion {
                previous_size,
                previous_modified,
                ..
            },
            _,
        ) => {
            let shrink = if *previous_size > 0 && entry.size < *previous_size {
                (previous_size - entry.size) as f64 * 100.0 / *previous_size as f64
            } else {
                0.0
            };
            let (verdict, note) = if shrink > policy.file_shrink_percent {
                (
                    Verdict::Warn,
                    format!(
                        "; it shrank by {shrink:.0}% (from {previous_size} to {} bytes), more than the allowed {}%",
                        entry.size, policy.file_shrink_percent
                    ),
                )
            } else {
                (Verdict::Pass, String::new())
            };
            Judgement {
                verdict,
                reason: format!(
                    "new version (modified {}, previously {}); restored and re-baselined{note}",
                    entry.modified.format("%Y-%m-%d %H:%M UTC"),
                    previous_modified.format("%Y-%m-%d %H:%M UTC")
                ),
                record: Some(new_record(run_id, now)),
                expected,
                content_mismatch: false,
            }
        }
        _ => Judgement {
            verdict: Verdict::Pass,
            reason: "first restore of this file; baseline recorded".into(),
            record: Some(new_record(run_id, now)),
            expected,
            content_mismatch: false,
        },
    }
}

/// Judges a canary: it must have exactly the configured hash, whatever its dates.
pub fn judge_canary(
    entry: &Entry,
    restored: &Restored,
    blake3: &str,
    run_id: &str,
    now: DateTime<Utc>,
) -> Judgement {
    let hash = restored.streamed.to_hex().to_string();
    let expected = Expectation::Canary {
        blake3: blake3.to_string(),
    };
    if restored.on_disk.is_some_and(|h| h != restored.streamed) {
        return Judgement {
            verdict: Verdict::Error,
            reason:
                "the copy on the scratch disk differs from the bytes read: scratch disk problem"
                    .into(),
            expected,
            record: None,
            content_mismatch: false,
        };
    }
    if hash != blake3 {
        return Judgement {
            verdict: Verdict::Fail,
            reason: format!(
                "the canary is altered: it must be {}, the backup holds {}",
                short_hash(blake3),
                short_hash(&hash)
            ),
            expected,
            record: None,
            content_mismatch: false,
        };
    }
    Judgement {
        verdict: Verdict::Pass,
        reason: "canary present and intact".into(),
        expected,
        record: Some(FileRecord {
            v: RECORD_SCHEMA,
            size: entry.size,
            modified: entry.modified,
            blake3: hash,
            baseline_run: run_id.to_string(),
            baseline_at: now,
            verified_run: run_id.to_string(),
            verified_at: now,
            entropy: restored.entropy,
        }),
        content_mismatch: false,
    }
}

/// Judges a second read of a file whose first read did not match its baseline
/// (`first` is that judgement): corruption only if the mismatch repeats.
pub fn judge_second_read(
    first: Judgement,
    first_hash: &str,
    second: &Restored,
    known: &FileRecord,
    run_id: &str,
    now: DateTime<Utc>,
) -> Judgement {
    let second_hash = second.streamed.to_hex().to_string();
    if second.on_disk.is_some_and(|h| h != second.streamed) {
        return Judgement {
            verdict: Verdict::Error,
            reason: format!(
                "{}; a second read could not be checked: the scratch disk returned other bytes",
                first.reason
            ),
            ..first
        };
    }
    if second_hash == known.blake3 {
        let mut record = known.clone();
        record.verified_run = run_id.to_string();
        record.verified_at = now;
        Judgement {
            verdict: Verdict::Warn,
            reason: format!(
                "the first read returned other bytes ({}), a second read matched the baseline ({}): the file is intact, but the path to the storage (network, controller, cache) delivered wrong data once",
                short_hash(first_hash),
                short_hash(&second_hash)
            ),
            record: Some(record),
            content_mismatch: false,
            ..first
        }
    } else if second_hash == first_hash {
        Judgement {
            reason: format!(
                "{}; a second read returned the same bytes: the damage is on the storage",
                first.reason
            ),
            ..first
        }
    } else {
        Judgement {
            verdict: Verdict::Error,
            reason: format!(
                "three different contents: baseline {}, first read {}, second read {}: reads from this storage are unstable, the file could not be verified",
                short_hash(&known.blake3),
                short_hash(first_hash),
                short_hash(&second_hash)
            ),
            ..first
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(size: u64, modified: DateTime<Utc>) -> Entry {
        Entry {
            path: "a".into(),
            size,
            modified,
        }
    }

    fn restored(content: &[u8]) -> Restored {
        let h = blake3::hash(content);
        Restored {
            bytes: content.len() as u64,
            streamed: h,
            on_disk: Some(h),
            read_back: Some(crate::evidence::ReadBack::Disk),
            seconds: 0.1,
            extra: None,
            entropy: None,
        }
    }

    fn policy() -> Policy {
        Policy::resolve(&[])
    }

    #[test]
    fn baseline_lifecycle() {
        let t0 = Utc::now() - chrono::Duration::days(1);
        let e = entry(5, t0);
        let first = judge(&e, &restored(b"hello"), None, &policy(), "r1", Utc::now());
        assert_eq!(first.verdict, Verdict::Pass);
        let rec = first.record.unwrap();

        let same = judge(
            &e,
            &restored(b"hello"),
            Some(&rec),
            &policy(),
            "r2",
            Utc::now(),
        );
        assert_eq!(same.verdict, Verdict::Pass);
        assert_eq!(same.record.unwrap().baseline_run, "r1");

        let flipped = judge(
            &e,
            &restored(b"hellp"),
            Some(&rec),
            &policy(),
            "r3",
            Utc::now(),
        );
        assert_eq!(flipped.verdict, Verdict::Fail);
        assert!(flipped.record.is_none());

        let truncated = judge(
            &entry(3, t0),
            &restored(b"hel"),
            Some(&rec),
            &policy(),
            "r4",
            Utc::now(),
        );
        assert_eq!(truncated.verdict, Verdict::Fail);
        assert!(truncated.reason.contains("size changed"));

        let newer = entry(1, t0 + chrono::Duration::hours(1));
        let shrunk = judge(
            &newer,
            &restored(b"h"),
            Some(&rec),
            &policy(),
            "r5",
            Utc::now(),
        );
        assert_eq!(shrunk.verdict, Verdict::Warn);
        assert_eq!(shrunk.record.unwrap().baseline_run, "r5");
    }

    #[test]
    fn disagreeing_hashes_are_not_a_pass() {
        let mut r = restored(b"hello");
        r.on_disk = Some(blake3::hash(b"other"));
        let j = judge(&entry(5, Utc::now()), &r, None, &policy(), "r1", Utc::now());
        assert_eq!(j.verdict, Verdict::Error);
        assert!(j.record.is_none());
    }

    #[test]
    fn short_read_fails() {
        let j = judge(
            &entry(10, Utc::now()),
            &restored(b"hello"),
            None,
            &policy(),
            "r1",
            Utc::now(),
        );
        assert_eq!(j.verdict, Verdict::Fail);
    }

    /// A baseline of `content` from run r1, for the entry `a` of that size.
    fn baseline(content: &[u8], modified: DateTime<Utc>) -> FileRecord {
        judge(
            &entry(content.len() as u64, modified),
            &restored(content),
            None,
            &policy(),
            "r1",
            Utc::now(),
        )
        .record
        .unwrap()
    }

    /// A first read of `a` that did not match its baseline `hello`.
    fn mismatch(t0: DateTime<Utc>) -> (FileRecord, Judgement, String) {
        let rec = baseline(b"hello", t0);
        let first = judge(
            &entry(5, t0),
            &restored(b"hellp"),
            Some(&rec),
            &policy(),
            "r2",
            Utc::now(),
        );
        assert!(first.content_mismatch);
        assert_eq!(first.verdict, Verdict::Fail);
        let hash = blake3::hash(b"hellp").to_hex().to_string();
        (rec, first, hash)
    }

    #[test]
    fn a_second_read_matching_the_baseline_warns_and_keeps_it() {
        let t0 = Utc::now() - chrono::Duration::days(1);
        let (rec, first, hash) = mismatch(t0);
        let now = Utc::now();
        let j = judge_second_read(first, &hash, &restored(b"hello"), &rec, "r2", now);
        assert_eq!(j.verdict, Verdict::Warn, "{}", j.reason);
        assert!(!j.content_mismatch);
        let kept = j.record.expect("the baseline is confirmed");
        assert_eq!(kept.blake3, rec.blake3);
        assert_eq!(
            (kept.baseline_run.as_str(), kept.verified_run.as_str()),
            ("r1", "r2")
        );
        assert_eq!(kept.verified_at, now);
    }

    #[test]
    fn the_same_wrong_bytes_twice_is_corruption() {
        let t0 = Utc::now() - chrono::Duration::days(1);
        let (rec, first, hash) = mismatch(t0);
        let j = judge_second_read(first, &hash, &restored(b"hellp"), &rec, "r2", Utc::now());
        assert_eq!(j.verdict, Verdict::Fail, "{}", j.reason);
        assert!(
            j.reason.contains("damage is on the storage"),
            "{}",
            j.reason
        );
        assert!(j.record.is_none());
    }

    #[test]
    fn three_different_contents_could_not_be_verified() {
        let t0 = Utc::now() - chrono::Duration::days(1);
        let (rec, first, hash) = mismatch(t0);
        let j = judge_second_read(first, &hash, &restored(b"hellq"), &rec, "r2", Utc::now());
        assert_eq!(j.verdict, Verdict::Error, "{}", j.reason);
        assert!(
            j.reason.contains("three different contents"),
            "{}",
            j.reason
        );
        assert!(j.record.is_none(), "no baseline from an unstable read");
    }

    #[test]
    fn a_second_read_the_scratch_disk_garbled_could_not_be_verified() {
        let t0 = Utc::now() - chrono::Duration::days(1);
        let (rec, first, hash) = mismatch(t0);
        // The second read streamed the baseline, but the disk returned other bytes.
        let mut second = restored(b"hello");
        second.on_disk = Some(blake3::hash(b"other"));
        let j = judge_second_read(first, &hash, &second, &rec, "r2", Utc::now());
        assert_eq!(j.verdict, Verdict::Error, "{}", j.reason);
        assert!(j.reason.contains("scratch disk"), "{}", j.reason);
        assert!(j.record.is_none());
    }

    #[test]
    fn canaries_must_have_exactly_their_hash() {
        let e = entry(5, Utc::now());
        let good = blake3::hash(b"hello").to_hex().to_string();
        let now = Utc::now();
        let j = judge_canary(&e, &restored(b"hello"), &good, "r1", now);
        assert_eq!(j.verdict, Verdict::Pass);
        let rec = j.record.unwrap();
        assert_eq!((rec.blake3.as_str(), rec.size), (good.as_str(), 5));
        assert_eq!((rec.baseline_run.as_str(), rec.verified_at), ("r1", now));
        let j = judge_canary(&e, &restored(b"hellp"), &good, "r1", now);
        assert_eq!(j.verdict, Verdict::Fail);
        assert!(j.reason.contains("altered"), "{}", j.reason);
        assert!(j.record.is_none());
        let mut garbled = restored(b"hello");
        garbled.on_disk = Some(blake3::hash(b"other"));
        let j = judge_canary(&e, &garbled, &good, "r1", now);
        assert_eq!(j.verdict, Verdict::Error);
        assert!(j.record.is_none());
    }

    #[test]
    fn an_immutable_file_rewritten_fails_and_keeps_its_baseline() {
        let t0 = Utc::now() - chrono::Duration::days(1);
        let rec = baseline(b"hello", t0);
        let mut p = policy();
        p.immutable = Some(crate::config::PathFilter::new(vec!["*".into()], vec![]).unwrap());
        let j = judge(
            &entry(5, t0 + chrono::Duration::hours(1)),
            &restored(b"world"),
            Some(&rec),
            &p,
            "r2",
            Utc::now(),
        );
        assert_eq!(j.verdict, Verdict::Fail, "{}", j.reason);
        assert!(j.reason.contains("must never change"), "{}", j.reason);
        assert!(j.record.is_none());
        // Without the rule, the same change is a new version.
        let j = judge(
            &entry(5, t0 + chrono::Duration::hours(1)),
            &restored(b"world"),
            Some(&rec),
            &policy(),
            "r2",
            Utc::now(),
        );
        assert_eq!(j.verdict, Verdict::Pass, "{}", j.reason);
    }

    #[test]
    fn a_new_version_may_shrink_by_exactly_the_allowed_percentage() {
        let t0 = Utc::now() - chrono::Duration::days(1);
        let rec = baseline(&[7; 100], t0);
        let newer = t0 + chrono::Duration::hours(1);
        let now = Utc::now();
        // 50% is the default limit: 100 -> 50 bytes passes, 100 -> 49 warns.
        let j = judge(
            &entry(50, newer),
            &restored(&[8; 50]),
            Some(&rec),
            &policy(),
            "r2",
            now,
        );
        assert_eq!(j.verdict, Verdict::Pass, "{}", j.reason);
        let rec2 = j.record.unwrap();
        assert_eq!((rec2.baseline_run.as_str(), rec2.baseline_at), ("r2", now));
        assert_eq!((rec2.size, rec2.modified), (50, newer));
        let j = judge(
            &entry(49, newer),
            &restored(&[8; 49]),
            Some(&rec),
            &policy(),
            "r2",
            now,
        );
        assert_eq!(j.verdict, Verdict::Warn, "{}", j.reason);
        assert!(j.reason.contains("shrank by 51%"), "{}", j.reason);
        // Growing is never a shrink.
        let j = judge(
            &entry(200, newer),
            &restored(&[8; 200]),
            Some(&rec),
            &policy(),
            "r2",
            now,
        );
        assert_eq!(j.verdict, Verdict::Pass, "{}", j.reason);
    }

    #[test]
    fn the_expectation_names_where_it_comes_from() {
        let t0 = Utc::now() - chrono::Duration::days(1);
        let rec = baseline(b"hello", t0);
        assert!(matches!(
            expectation(&entry(5, t0), None),
            Expectation::FirstSeen
        ));
        match expectation(&entry(5, t0), Some(&rec)) {
            Expectation::Baseline {
                blake3,
                size,
                since_run,
                ..
            } => {
                assert_eq!(
                    (blake3, size, since_run.as_str()),
                    (rec.blake3.clone(), 5, "r1")
                );
            }
            other => panic!("{other:?}"),
        }
        match expectation(&entry(3, t0 + chrono::Duration::hours(1)), Some(&rec)) {
            Expectation::NewVersion {
                previous_size,
                previous_modified,
                ..
            } => {
                assert_eq!((previous_size, previous_modified), (5, t0));
            }
            other => panic!("{other:?}"),
        }
    }
}

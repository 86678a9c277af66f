//! Drift: what changed in a target since the listing of its last finished run.
//!
//! The listing pass feeds [`DriftTally::seen`] with every listed file and its view in the
//! committed listing, then the catalog's sweep feeds [`DriftTally::swept`] with every
//! file of either listing in path order. Vanished files are judged against a `retention`
//! policy on the way: a file older than the retention horizon may go quietly, unless it
//! was the newest file of a folder that still has older files (the newest backup of a
//! chain); any other vanished file is unexpected.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::catalog::{PROBLEM_FILE_LIMIT, ProblemFile, Seen, Swept, TargetState};
use crate::config::{PathFilter, Policy};
use crate::evidence::{
    Changed, CheckKind, CheckResult, Drift, FileRef, Finding, ProblemKind, Resized, Verdict,
};
use crate::format::{human_age, human_bytes, shown};
use crate::storage::Entry;

/// Collects drift while the listing streams by.
#[derive(Debug, Default)]
pub struct DriftTally {
    previous: Option<TargetState>,
    immutable: Option<PathFilter>,
    /// Files modified before this may vanish quietly (`now - retention`).
    horizon: Option<DateTime<Utc>>,
    drift: Drift,
    /// Folders of the sweep that may still receive files, outermost first.
    folders: Vec<Folder>,
    /// Vanished files that were not expected to go, up to [`PROBLEM_FILE_LIMIT`].
    unexpected: Vec<(String, ProblemFile)>,
}

/// One folder of the sweep: what its direct files were and are.
#[derive(Debug)]
struct Folder {
    /// The folder's path with a trailing `/` (empty for the root).
    prefix: String,
    /// Newest modification time of its files in the committed listing (vanished or not).
    committed_newest: Option<DateTime<Utc>>,
    /// Newest modification time of its files in this listing.
    present_newest: Option<DateTime<Utc>>,
    /// The newest of its vanished files older than the horizon: retired by retention,
    /// unless it was the folder's newest file and older files remain.
    candidate: Option<(String, Seen)>,
}

/// What the drift of a run found, beyond the evidence.
#[derive(Debug, Default)]
pub struct DriftOutcome {
    pub drift: Drift,
    /// Unexpectedly vanished files, for the open problem (at most
    /// [`PROBLEM_FILE_LIMIT`]; `drift` has the full count).
    pub unexpected: Vec<(String, ProblemFile)>,
}

impl DriftTally {
    pub fn new(
        previous: Option<TargetState>,
        immutable: Option<PathFilter>,
        retention: Option<Duration>,
        now: DateTime<Utc>,
    ) -> DriftTally {
        let mut drift = Drift::default();
        if let Some(p) = &previous {
            drift.previous_run = Some(p.run_id.clone());
            drift.previous_files = p.files;
            drift.previous_bytes = p.bytes;
        }
        DriftTally {
            previous,
            immutable,
            horizon: retention
                .and_then(|r| chrono::Duration::from_std(r).ok())
                .map(|r| now - r),
            drift,
            folders: Vec::new(),
            unexpected: Vec::new(),
        }
    }

    /// The generation of the committed listing this run compares with.
    pub fn committed(&self) -> Option<u64> {
        self.previous.as_ref().map(|p| p.generation)
    }

    /// A listed file, with its view in the committed listing.
    pub fn seen(&mut self, entry: &Entry, before: Option<Seen>) {
        if let (Some(b), Some(immutable)) = (before, &self.immutable)
            && (b.size != entry.size || b.modified != entry.modified)
            && immutable.matches(&entry.path)
        {
            self.drift.immutable_changed_files += 1;
            if self.drift.immutable_changed.len() < Drift::LIST_LIMIT {
                self.drift.immutable_changed.push(Changed {
                    path: entry.path.clone(),
                    size_before: b.size,
                    modified_before: b.modified,
                    size_now: entry.size,
                    modified_now: entry.modified,
                });
            }
        }
        match before {
            None if self.previous.is_some() => self.drift.new_files += 1,
            None => {}
            Some(b) if b.modified != entry.modified => self.drift.modified_files += 1,
            Some(b) if b.size != entry.size => {
                self.drift.resized_in_place_files += 1;
                if self.drift.resized_in_place.len() < Drift::LIST_LIMIT {
                    self.drift.resized_in_place.push(Resized {
                        path: entry.path.clone(),
                        modified: entry.modified,
                        size_before: b.size,
                        size_now: entry.size,
                    });
                }
            }
            Some(_) => {}
        }
    }

    /// A file of the committed listing or of this one, in path order.
    pub fn swept(&mut self, path: &str, s: Swept) {
        let parent = match path.rfind('/') {
            Some(i) => &path[..=i],
            None => "",
        };
        while let Some(top) = self.folders.last()
            && !parent.starts_with(&top.prefix)
        {
            self.close_folder();
        }
        if self.folders.last().is_none_or(|top| top.prefix != parent) {
            self.folders.push(Folder {
                prefix: parent.to_string(),
                committed_newest: None,
                present_newest: None,
                candidate: None,
            });
        }
        let (present, committed) = match s {
            Swept::Present { now, before } => (Some(now), before),
            Swept::Vanished { before } => (None, Some(before)),
        };
        let mut retired: Vec<Seen> = Vec::new();
        let mut unexpected = None;
        if let Some(top) = self.folders.last_mut() {
            if let Some(now) = present {
                top.present_newest = top.present_newest.max(Some(now.modified));
            }
            if let Some(before) = committed {
                top.committed_newest = top.committed_newest.max(Some(before.modified));
            }
            if let (None, Some(before)) = (present, committed) {
                match self.horizon {
                    // Old enough to go; only the folder's newest such file is held back
                    // until the folder ends, in case it was the folder's newest file.
                    Some(h) if before.modified < h => {
                        let newer = top
                            .candidate
                            .as_ref()
                            .is_none_or(|(_, c)| before.modified > c.modified);
                        if newer {
                            if let Some((_, c)) = top.candidate.replace((path.to_string(), before))
                            {
                                retired.push(c);
                            }
                        } else {
                            retired.push(before);
                        }
                    }
                    _ => unexpected = Some((path.to_string(), before)),
                }
            }
            // A held file older than a file of the committed listing was not the newest.
            if top
                .candidate
                .as_ref()
                .is_some_and(|(_, c)| top.committed_newest.is_some_and(|n| n > c.modified))
                && let Some((_, c)) = top.candidate.take()
            {
                retired.push(c);
            }
        }
        for r in retired {
            self.retire(r);
        }
        if let Some((p, u)) = unexpected {
            self.unexpected(p, u);
        }
    }

    /// A folder's region of the sweep ended: judge its held candidate.
    fn close_folder(&mut self) {
        let Some(f) = self.folders.pop() else { return };
        let Some((path, c)) = f.candidate else { return };
        let was_newest = f.committed_newest.is_none_or(|n| c.modified >= n);
        let older_remain = f.present_newest.is_some_and(|p| p < c.modified);
        if was_newest && older_remain {
            self.unexpected(path, c);
        } else {
            self.retire(c);
        }
    }

    fn retire(&mut self, before: Seen) {
        self.drift.vanished_files += 1;
        self.drift.vanished_bytes += before.size;
        self.drift.retired_files += 1;
        self.drift.retired_bytes += before.size;
    }

    fn unexpected(&mut self, path: String, before: Seen) {
        self.drift.vanished_files += 1;
        self.drift.vanished_bytes += before.size;
        if self.drift.vanished.len() < Drift::LIST_LIMIT {
            self.drift.vanished.push(FileRef {
                path: path.clone(),
                size: before.size,
                modified: before.modified,
            });
        }
        if self.unexpected.len() < PROBLEM_FILE_LIMIT {
            self.unexpected.push((
                path,
                ProblemFile {
                    size: before.size,
                    modified: before.modified,
                },
            ));
        }
    }

    pub fn finish(mut self) -> DriftOutcome {
        while !self.folders.is_empty() {
            self.close_folder();
        }
        self.drift.vanished.sort_by(|a, b| a.path.cmp(&b.path));
        DriftOutcome {
            drift: self.drift,
            unexpected: self.unexpected,
        }
    }
}

fn drop_percent(before: u64, now: u64) -> f64 {
    if before == 0 || now >= before {
        0.0
    } else {
        (before - now) as f64 * 100.0 / before as f64
    }
}

fn paths<'a>(it: impl Iterator<Item = &'a str>) -> Vec<String> {
    it.take(Drift::LIST_LIMIT).map(str::to_string).collect()
}

/// Judges the drift of a target whose listing now holds `files` files and `bytes` bytes.
/// Files a `retention` policy expected to go do not count towards the drops.
pub fn check(
    drift: &Drift,
    files: u64,
    bytes: u64,
    policy: &Policy,
) -> (CheckResult, Vec<Finding>) {
    let result = |verdict, reason: String| CheckResult {
        check: CheckKind::Drift,
        verdict,
        reason,
    };
    let Some(prev) = &drift.previous_run else {
        let first = "first inventory of this target; changes are measured from the next run";
        return (result(Verdict::Pass, first.into()), Vec::new());
    };
    let finding = |kind, verdict, summary: String, files: u64, paths: Vec<String>| Finding {
        kind,
        check: CheckKind::Drift,
        verdict,
        summary,
        files,
        paths,
    };
    let mut found = Vec::new();
    if let Some(r) = drift.resized_in_place.first() {
        found.push(finding(
            ProblemKind::Corruption,
            Verdict::Fail,
            format!(
                "{} changed size while keeping the modification time, e.g. {} ({} → {} bytes): truncation, corruption or tampering",
                crate::format::plural(drift.resized_in_place_files, "file"),
                shown(&r.path),
                r.size_before,
                r.size_now
            ),
            drift.resized_in_place_files,
            paths(drift.resized_in_place.iter().map(|r| r.path.as_str())),
        ));
    }
    if let Some(c) = drift.immutable_changed.first() {
        found.push(finding(
            ProblemKind::Tampering,
            Verdict::Fail,
            format!(
                "{} that must never change (immutable) changed, e.g. {}: {} bytes modified {} before, {} bytes modified {} now",
                crate::format::plural(drift.immutable_changed_files, "file"),
                shown(&c.path),
                c.size_before,
                c.modified_before.format("%Y-%m-%d %H:%M:%S UTC"),
                c.size_now,
                c.modified_now.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            drift.immutable_changed_files,
            paths(drift.immutable_changed.iter().map(|c| c.path.as_str())),
        ));
    }
    let unexpected = drift.vanished_files - drift.retired_files;
    let vanished_paths = || paths(drift.vanished.iter().map(|f| f.path.as_str()));
    let example = drift
        .vanished
        .first()
        .map(|f| format!(", e.g. {}", shown(&f.path)))
        .unwrap_or_default();
    // Files retention expected to go are not a drop.
    let count_drop = drop_percent(drift.previous_files - drift.retired_files, files);
    let size_drop = drop_percent(drift.previous_bytes - drift.retired_bytes, bytes);
    if count_drop > policy.count_drop_percent {
        found.push(finding(
            ProblemKind::Vanished,
            Verdict::Fail,
            format!(
                "the number of files dropped from {} to {} (−{count_drop:.1}%, more than the allowed {}%): {} vanished{example}",
                drift.previous_files,
                files,
                policy.count_drop_percent,
                crate::format::plural(unexpected, "file")
            ),
            unexpected,
            vanished_paths(),
        ));
    } else if unexpected > 0 {
        let (verdict, why) = match policy.retention {
            Some(r) => (
                Verdict::Fail,
                format!(
                    "younger than the retention of {}, or the newest file of its folder",
                    human_age(r)
                ),
            ),
            None => (
                Verdict::Warn,
                "no retention is set, so any vanished file is reported".to_string(),
            ),
        };
        found.push(finding(
            ProblemKind::Vanished,
            verdict,
            format!(
                "{} vanished{example} ({}; {why})",
                crate::format::plural(unexpected, "backup file"),
                human_bytes(drift.vanished_bytes - drift.retired_bytes)
            ),
            unexpected,
            vanished_paths(),
        ));
    }
    if size_drop > policy.size_drop_percent {
        found.push(finding(
            ProblemKind::Shrunken,
            Verdict::Fail,
            format!(
                "the total size dropped from {} to {} (−{size_drop:.1}%, more than the allowed {}%)",
                human_bytes(drift.previous_bytes),
                human_bytes(bytes),
                policy.size_drop_percent
            ),
            0,
            Vec::new(),
        ));
    }
    let retired = if drift.retired_files > 0 {
        format!(
            " ({} older than the retention, as expected)",
            drift.retired_files
        )
    } else {
        String::new()
    };
    let changes = format!(
        "since run {prev}: {} new, {} vanished{retired} ({}), {} with a new version",
        drift.new_files,
        drift.vanished_files,
        human_bytes(drift.vanished_bytes),
        drift.modified_files
    );
    let verdict = Verdict::worst(found.iter().map(|f| f.verdict)).unwrap_or(Verdict::Pass);
    let reason = if found.is_empty() {
        changes
    } else {
        let problems: Vec<&str> = found.iter().map(|f| f.summary.as_str()).collect();
        format!("{}; {changes}", problems.join("; "))
    };
    (result(verdict, reason), found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(generation: u64, days_ago: i64, now: DateTime<Utc>) -> Seen {
        Seen {
            generation,
            size: 10,
            modified: now - chrono::Duration::days(days_ago),
        }
    }

    fn state() -> TargetState {
        TargetState {
            v: 1,
            run_id: "r1".into(),
            at: Utc::now(),
            generation: 1,
            files: 10,
            bytes: 100,
        }
    }

    /// Sweeps (path, committed age in days, present age in days) and returns the
    /// unexpected vanished paths and the retired count.
    fn sweep(
        retention_days: Option<u64>,
        files: &[(&str, Option<i64>, Option<i64>)],
    ) -> (Vec<String>, u64) {
        let now = Utc::now();
        let mut t = DriftTally::new(
            Some(state()),
            None,
            retention_days.map(|d| Duration::from_secs(d * 86400)),
            now,
        );
        let mut sorted = files.to_vec();
        sorted.sort_by_key(|f| f.0);
        for (path, before, present) in sorted {
            let before = before.map(|d| seen(1, d, now));
            let s = match present {
                Some(d) => Swept::Present {
                    now: seen(2, d, now),
                    before,
                },
                None => Swept::Vanished {
                    before: before.expect("vanished files were committed"),
                },
            };
            t.swept(path, s);
        }
        let out = t.finish();
        (
            out.unexpected.into_iter().map(|(p, _)| p).collect(),
            out.drift.retired_files,
        )
    }

    #[test]
    fn retention_lets_old_files_go_quietly() {
        let (unexpected, retired) = sweep(
            Some(30),
            &[
                ("d/old1", Some(40), None),
                ("d/old2", Some(35), None),
                ("d/keep", Some(10), Some(10)),
            ],
        );
        assert!(unexpected.is_empty(), "{unexpected:?}");
        assert_eq!(retired, 2);
    }

    #[test]
    fn a_file_exactly_as_old_as_the_retention_is_not_yet_let_go() {
        // Retention lets go of what is older than it: exactly 30 days is still kept.
        let (unexpected, retired) = sweep(
            Some(30),
            &[("d/edge", Some(30), None), ("d/newer", Some(1), Some(1))],
        );
        assert_eq!(unexpected, vec!["d/edge"]);
        assert_eq!(retired, 0);
    }

    #[test]
    fn a_young_vanished_file_is_unexpected() {
        let (unexpected, retired) = sweep(
            Some(30),
            &[("d/young", Some(3), None), ("d/keep", Some(1), Some(1))],
        );
        assert_eq!(unexpected, vec!["d/young"]);
        assert_eq!(retired, 0);
    }

    #[test]
    fn the_newest_file_of_a_folder_with_older_files_left_is_unexpected() {
        // The newest (40 d) vanished while older files of its folder remain.
        let (unexpected, _) = sweep(
            Some(30),
            &[
                ("chain/full.vbk", Some(60), Some(60)),
                ("chain/inc1.vib", Some(50), Some(50)),
                ("chain/inc2.vib", Some(40), None),
                ("other/x", Some(1), Some(1)),
            ],
        );
        assert_eq!(unexpected, vec!["chain/inc2.vib"]);
    }

    #[test]
    fn a_whole_old_folder_may_go_and_a_newer_file_replaces_the_newest() {
        let (unexpected, retired) = sweep(
            Some(30),
            &[
                ("2025-01/a", Some(300), None),
                ("2025-01/b", Some(290), None),
                ("cur/old", Some(40), None),
                ("cur/new", None, Some(0)),
            ],
        );
        assert!(unexpected.is_empty(), "{unexpected:?}");
        assert_eq!(retired, 3);
    }

    #[test]
    fn without_retention_every_vanished_file_is_listed() {
        let (unexpected, retired) = sweep(
            None,
            &[
                ("a", Some(400), None),
                ("b/c", Some(1), None),
                ("d", Some(1), Some(1)),
            ],
        );
        assert_eq!(unexpected, vec!["a", "b/c"]);
        assert_eq!(retired, 0);
    }

    fn drift(previous_files: u64, previous_bytes: u64) -> Drift {
        Drift {
            previous_run: Some("r1".into()),
            previous_files,
            previous_bytes,
            ..Drift::default()
        }
    }

    fn policy(retention: Option<u64>) -> Policy {
        let mut p = Policy::resolve(&[]);
        p.retention = retention.map(|d| Duration::from_secs(d * 86400));
        p
    }

    #[test]
    fn a_size_collapse_without_a_count_drop_fails_as_shrunken() {
        let (c, f) = check(&drift(10, 1000), 10, 100, &policy(None));
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, ProblemKind::Shrunken);
        // Exactly at the limit is allowed.
        let (c, f) = check(&drift(10, 1000), 10, 800, &policy(None));
        assert_eq!((c.verdict, f.len()), (Verdict::Pass, 0));
        let (c, _) = check(&drift(10, 1000), 10, 799, &policy(None));
        assert_eq!(c.verdict, Verdict::Fail);
    }

    #[test]
    fn one_vanished_file_warns_without_retention_and_fails_with_it() {
        let mut d = drift(35, 350);
        d.vanished_files = 1;
        d.vanished_bytes = 10;
        d.vanished.push(FileRef {
            path: "x".into(),
            size: 10,
            modified: Utc::now(),
        });
        let (c, f) = check(&d, 34, 340, &policy(None));
        assert_eq!(c.verdict, Verdict::Warn);
        assert_eq!(
            (f[0].kind, f[0].verdict),
            (ProblemKind::Vanished, Verdict::Warn)
        );
        let (c, f) = check(&d, 34, 340, &policy(Some(30)));
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(f[0].paths, vec!["x"]);
        // Retired files count neither as vanished problems nor towards the drop.
        let mut r = d.clone();
        r.vanished.clear();
        r.retired_files = 1;
        r.retired_bytes = 10;
        let (c, f) = check(&r, 34, 340, &policy(Some(30)));
        assert_eq!((c.verdict, f.len()), (Verdict::Pass, 0), "{}", c.reason);
    }

    #[test]
    fn a_count_drop_over_the_limit_fails() {
        let mut d = drift(35, 350);
        d.vanished_files = 5;
        d.vanished_bytes = 50;
        let (c, f) = check(&d, 30, 300, &policy(None));
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!((f[0].kind, f[0].files), (ProblemKind::Vanished, 5));
        // 3 of 35 (8.6%) is under the 10% limit: a warning.
        d.vanished_files = 3;
        let (c, _) = check(&d, 32, 320, &policy(None));
        assert_eq!(c.verdict, Verdict::Warn);
    }

    #[test]
    fn the_lists_of_changed_files_stop_at_their_limit_while_the_counts_go_on() {
        let now = Utc::now();
        let t = now - chrono::Duration::days(2);
        let immutable = PathFilter::new(vec!["locked/*".into()], vec![]).unwrap();
        let mut tally = DriftTally::new(Some(state()), Some(immutable), None, now);
        let over = Drift::LIST_LIMIT + 3;
        for i in 0..over {
            let was = Some(Seen {
                generation: 1,
                size: 10,
                modified: t,
            });
            tally.seen(&listed(&format!("resized{i}"), 3, t), was);
            tally.seen(&listed(&format!("locked/{i}"), 10, now), was);
        }
        let d = tally.finish().drift;
        assert_eq!(d.resized_in_place_files, over as u64);
        assert_eq!(d.resized_in_place.len(), Drift::LIST_LIMIT);
        assert_eq!(d.immutable_changed_files, over as u64);
        assert_eq!(d.immutable_changed.len(), Drift::LIST_LIMIT);
    }

    fn listed(path: &str, size: u64, modified: DateTime<Utc>) -> Entry {
        Entry {
            path: path.into(),
            size,
            modified,
        }
    }

    #[test]
    fn the_listing_counts_new_changed_and_resized_files() {
        let now = Utc::now();
        let t = now - chrono::Duration::days(2);
        let was = |size| {
            Some(Seen {
                generation: 1,
                size,
                modified: t,
            })
        };
        let immutable = PathFilter::new(vec!["locked/*".into()], vec![]).unwrap();
        let mut tally = DriftTally::new(Some(state()), Some(immutable), None, now);
        assert_eq!(tally.committed(), Some(1));
        tally.seen(&listed("new1", 5, now), None);
        tally.seen(&listed("new2", 5, now), None);
        tally.seen(&listed("same", 10, t), was(10));
        tally.seen(&listed("newer", 12, now), was(10));
        tally.seen(&listed("resized", 3, t), was(10));
        tally.seen(&listed("locked/a", 10, now), was(10));
        tally.seen(&listed("locked/b", 10, t), was(10));
        let d = tally.finish().drift;
        assert_eq!(d.new_files, 2);
        assert_eq!(d.modified_files, 2, "newer and locked/a");
        assert_eq!(d.resized_in_place_files, 1);
        let r = &d.resized_in_place[0];
        assert_eq!(
            (r.path.as_str(), r.size_before, r.size_now),
            ("resized", 10, 3)
        );
        assert_eq!(d.immutable_changed_files, 1);
        let c = &d.immutable_changed[0];
        assert_eq!(c.path, "locked/a");
        assert_eq!((c.modified_before, c.modified_now), (t, now));
        assert_eq!(
            (
                d.previous_run.as_deref(),
                d.previous_files,
                d.previous_bytes
            ),
            (Some("r1"), 10, 100)
        );
        let (check, found) = check(&d, 12, 120, &policy(None));
        assert!(
            check.reason.contains("2 new, 0 vanished"),
            "{}",
            check.reason
        );
        assert!(
            check.reason.contains("2 with a new version"),
            "{}",
            check.reason
        );
        let kinds: Vec<ProblemKind> = found.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![ProblemKind::Corruption, ProblemKind::Tampering]);
        assert_eq!(check.verdict, Verdict::Fail);
    }

    #[test]
    fn a_first_listing_has_nothing_new_and_nothing_to_judge() {
        let now = Utc::now();
        let mut tally = DriftTally::new(None, None, None, now);
        assert_eq!(tally.committed(), None);
        tally.seen(&listed("a", 5, now), None);
        let d = tally.finish().drift;
        assert_eq!((d.new_files, d.previous_run.clone()), (0, None));
        let (c, found) = check(&d, 1, 5, &policy(None));
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(c.reason.contains("first inventory"), "{}", c.reason);
        assert!(found.is_empty());
    }

    /// A drift of `previous` files (10 bytes each) of which `vanished` went, `retired`
    /// of those as the retention expected.
    fn went(previous: u64, vanished: u64, retired: u64) -> Drift {
        let mut d = drift(previous, previous * 10);
        d.vanished_files = vanished;
        d.vanished_bytes = vanished * 10;
        d.retired_files = retired;
        d.retired_bytes = retired * 10;
        d
    }

    #[test]
    fn drops_are_measured_without_the_files_retention_let_go() {
        let p = policy(Some(30));
        // 2 of 10 went as expected, nothing else: no drop at all.
        let (c, f) = check(&went(10, 2, 2), 8, 80, &p);
        assert_eq!((c.verdict, f.len()), (Verdict::Pass, 0), "{}", c.reason);
        assert!(
            c.reason
                .contains("2 vanished (2 older than the retention, as expected) (20 B)"),
            "{}",
            c.reason
        );
        // 20 files, 2 retired, 3 more gone: 3 of 18 is a drop of 16.7%, over 10%.
        let (c, f) = check(&went(20, 5, 2), 15, 150, &p);
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.reason);
        assert_eq!((f[0].kind, f[0].files), (ProblemKind::Vanished, 3));
        assert!(
            c.reason.contains("(−16.7%, more than the allowed 10%)"),
            "{}",
            c.reason
        );
        // The size drop likewise: 30 of 180 bytes is 16.7%, under 20%.
        assert!(f.iter().all(|f| f.kind != ProblemKind::Shrunken), "{f:?}");
    }

    #[test]
    fn a_drop_of_exactly_the_limit_is_allowed() {
        // 1 of 10 files gone: exactly 10%, a warning about the file, not a drop.
        let mut d = went(10, 1, 0);
        d.vanished.push(FileRef {
            path: "gone".into(),
            size: 10,
            modified: Utc::now(),
        });
        let (c, f) = check(&d, 9, 90, &policy(None));
        assert_eq!(c.verdict, Verdict::Warn, "{}", c.reason);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].summary
                .starts_with("1 backup file vanished, e.g. gone (10 B; no retention"),
            "{}",
            f[0].summary
        );
        // A target that was empty, or grew, dropped nothing.
        let (c, _) = check(&drift(0, 0), 5, 50, &policy(None));
        assert_eq!(c.verdict, Verdict::Pass);
        let (c, _) = check(&drift(10, 100), 12, 120, &policy(None));
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(
            c.reason
                .starts_with("since run r1: 0 new, 0 vanished (0 B), 0 with a new version"),
            "{}",
            c.reason
        );
    }
}

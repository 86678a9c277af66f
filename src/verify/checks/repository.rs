//! restic repositories, verified without the password.
//!
//! restic names every file under `data/`, `index/`, `snapshots/` and `keys/` after the
//! SHA-256 of its content (design doc: "the name for the file is the lower case
//! hexadecimal representation of the storage ID, which is the SHA-256 hash of the file's
//! contents"); `config` is the exception. So a restored pack is proven intact by hashing
//! it, without decrypting anything. Lock files come and go and are left out.

use chrono::{DateTime, Utc};

use crate::evidence::{
    CheckKind, CheckResult, Drift, FileRef, ManifestMatch, SampledFile, Verdict,
};
use crate::format::{human_age, shown};
use crate::storage::Entry;

use crate::evidence::Algorithm;

const CONTENT_ADDRESSED: &[&str] = &["data", "index", "snapshots", "keys"];

/// The SHA-256 a file's name promises, for the content-addressed folders.
pub fn promised_sha256(path: &str) -> Option<&str> {
    let top = path.split('/').next()?;
    let name = path.rsplit('/').next()?;
    (CONTENT_ADDRESSED.contains(&top)
        && name.len() == 64
        && name.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')))
    .then_some(name)
}

/// Files that are not part of the repository's lasting content (locks).
pub fn transient(path: &str) -> bool {
    path.starts_with("locks/")
}

/// What the listing of a repository found.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub packs: u64,
    pub indexes: u64,
    pub snapshots: u64,
    pub newest_snapshot: Option<Entry>,
    pub newest_index: Option<Entry>,
    /// When the previous listing began, if there was one.
    pub since: Option<DateTime<Utc>>,
    /// Index files written after `since`: restic writes them on every backup and prune.
    pub new_indexes: u64,
}

impl Listing {
    /// A listing that counts the index files written after `since` as new.
    pub fn since(since: Option<DateTime<Utc>>) -> Listing {
        Listing {
            since,
            ..Default::default()
        }
    }

    pub fn see(&mut self, e: &Entry) {
        let newer = |slot: &Option<Entry>| {
            slot.as_ref()
                .is_none_or(|n| (e.modified, &e.path) > (n.modified, &n.path))
        };
        match e.path.split('/').next() {
            Some("data") => self.packs += 1,
            Some("index") => {
                self.indexes += 1;
                if self.since.is_some_and(|t| e.modified > t) {
                    self.new_indexes += 1;
                }
                if newer(&self.newest_index) {
                    self.newest_index = Some(e.clone());
                }
            }
            Some("snapshots") => {
                self.snapshots += 1;
                if newer(&self.newest_snapshot) {
                    self.newest_snapshot = Some(e.clone());
                }
            }
            _ => {}
        }
    }

    /// The newest snapshot, which is what freshness is about in a repository.
    pub fn newest(&self) -> Option<FileRef> {
        self.newest_snapshot.as_ref().map(|e| FileRef {
            path: e.path.clone(),
            size: e.size,
            modified: e.modified,
        })
    }
}

/// The expectation a restic file carries in its name.
pub fn expectation(path: &str) -> Option<ManifestMatch> {
    promised_sha256(path).map(|hex| ManifestMatch {
        manifest: "restic repository: a file's name is the SHA-256 of its content".into(),
        line: 0,
        algorithm: Algorithm::Sha256,
        expected: hex.to_string(),
        actual: None,
    })
}

/// Files restic removes only by `prune` or `forget` (and `config`, never).
fn lasting(path: &str) -> bool {
    path == "config" || matches!(path.split('/').next(), Some("data" | "index" | "snapshots"))
}

/// How many files to name in a reason; the evidence's drift lists more.
const NAMED: usize = 5;

/// Repository files that vanished since the previous listing: a verdict and a sentence,
/// or `None` when nothing lasting vanished. Without the password, a vanished pack, index
/// or snapshot is only explained by a prune, whose sign is new index files in the same
/// interval, and only when the policy expects prunes (`allow_prune`).
pub fn vanished(drift: &Drift, listing: &Listing, allow_prune: bool) -> Option<(Verdict, String)> {
    let named: Vec<&FileRef> = drift.vanished.iter().filter(|f| lasting(&f.path)).collect();
    // The evidence names a limited number of vanished files; the others may be anything.
    let unnamed = drift
        .vanished_files
        .saturating_sub(drift.vanished.len() as u64);
    let count = named.len() as u64 + unnamed;
    if count == 0 {
        return None;
    }
    let since = drift
        .previous_run
        .as_deref()
        .map(|r| format!(" since run {r}"))
        .unwrap_or_default();
    let mut names: Vec<String> = named.iter().take(NAMED).map(|f| shown(&f.path)).collect();
    let more = count - names.len() as u64;
    if more > 0 && names.is_empty() {
        names.push(format!("{more} not named in the evidence"));
    } else if more > 0 {
        names.push(format!("and {more} more"));
    }
    let files = format!(
        "{} vanished{since}: {}",
        crate::format::plural(count, "repository file"),
        names.join(", ")
    );
    if named.iter().any(|f| f.path == "config") {
        return Some((
            Verdict::Fail,
            format!("{files}; the repository's config file is gone, nothing can be restored"),
        ));
    }
    let pruned = listing.new_indexes > 0;
    Some(match (pruned, allow_prune) {
        (true, true) => (
            Verdict::Pass,
            format!(
                "{files}; removed by a prune ({} written), which allow_prune permits",
                crate::format::plural(listing.new_indexes, "new index file")
            ),
        ),
        (true, false) => (
            Verdict::Fail,
            format!(
                "{files}; restic removes them only when pruning: if this was a prune ({} written), set allow_prune = true",
                crate::format::plural(listing.new_indexes, "new index file")
            ),
        ),
        (false, _) => (
            Verdict::Fail,
            format!(
                "{files}; restic removes them only when pruning, and no prune wrote a new index: the repository lost data"
            ),
        ),
    })
}

/// The repository check: snapshots exist, every restored file's content matches its
/// name, and no pack, index or snapshot vanished unless a permitted prune removed it.
pub fn check(
    listing: &Listing,
    files: &[SampledFile],
    drift: &Drift,
    allow_prune: bool,
    now: DateTime<Utc>,
) -> CheckResult {
    let result = |verdict, reason| CheckResult {
        check: CheckKind::Repository,
        verdict,
        reason,
    };
    let bad: Vec<&SampledFile> = files
        .iter()
        .filter(|f| {
            f.manifest.as_ref().is_some_and(|m| {
                m.actual.is_some() && m.actual.as_deref() != Some(m.expected.as_str())
            })
        })
        .collect();
    let checked = files
        .iter()
        .filter(|f| f.manifest.as_ref().is_some_and(|m| m.actual.is_some()))
        .count();
    let shape = format!(
        "{}, {}, {}",
        crate::format::plural(listing.packs, "pack"),
        crate::format::plural(listing.indexes, "index file"),
        crate::format::plural(listing.snapshots, "snapshot")
    );
    let gone = vanished(drift, listing, allow_prune);
    let mut failures = Vec::new();
    if let Some(f) = bad.first() {
        failures.push(format!(
            "{} {}, e.g. {}: the repository is damaged",
            crate::format::plural(bad.len() as u64, "restored file"),
            if bad.len() == 1 {
                "does not match its name"
            } else {
                "do not match their names"
            },
            shown(&f.path)
        ));
    }
    if let Some((Verdict::Fail, why)) = &gone {
        failures.push(why.clone());
    }
    if !failures.is_empty() {
        return result(Verdict::Fail, format!("{} ({shape})", failures.join("; ")));
    }
    match &listing.newest_snapshot {
        None => result(
            Verdict::Error,
            format!("no snapshot in the repository ({shape}): is this a restic repository?"),
        ),
        Some(s) => {
            let age = now
                .signed_duration_since(s.modified)
                .to_std()
                .map(human_age)
                .unwrap_or_else(|_| "0 s".into());
            let pruned = gone.map(|(_, why)| format!("; {why}")).unwrap_or_default();
            result(
                Verdict::Pass,
                format!(
                    "restic repository: {shape}; newest snapshot written {age} ago; {checked} restored files match their names{pruned}"
                ),
            )
        }
    }
}

/// In a restic repository, files vanish only through a prune: a vanishing the repository
/// check does not excuse is a proven problem that stays open until the files are back
/// (the next run compares with the shrunken listing, so the repository check alone would
/// pass again); one a permitted prune explains is expected, not a warning.
pub fn excuse_vanished(
    drift_check: &mut CheckResult,
    drift_findings: &mut Vec<crate::evidence::Finding>,
    gone: Option<(Verdict, String)>,
) {
    use crate::evidence::ProblemKind;
    let vanished = |f: &crate::evidence::Finding| f.kind == ProblemKind::Vanished;
    match gone {
        Some((Verdict::Fail, why)) => {
            for f in drift_findings.iter_mut().filter(|f| vanished(f)) {
                f.verdict = Verdict::Fail;
                f.summary = why.clone();
            }
            drift_check.verdict = drift_check.verdict.max(Verdict::Fail);
        }
        Some((_, why)) => {
            drift_findings.retain(|f| !vanished(f));
            drift_check.verdict =
                Verdict::worst(drift_findings.iter().map(|f| f.verdict)).unwrap_or(Verdict::Pass);
            drift_check.reason = format!("{why}; {}", drift_check.reason);
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_promise_their_hash() {
        let h = "4f801fd45b82cc9cd5e36660f0ee9f0c8c8d477bc89d8a374a7e0193e5a48de5";
        assert_eq!(promised_sha256(&format!("data/4f/{h}")), Some(h));
        assert_eq!(promised_sha256(&format!("snapshots/{h}")), Some(h));
        assert_eq!(promised_sha256("config"), None);
        assert_eq!(promised_sha256(&format!("locks/{h}")), None);
        assert_eq!(promised_sha256("data/4f/not-a-hash"), None);
        assert!(transient(&format!("locks/{h}")));
    }

    fn gone(paths: &[&str]) -> Drift {
        Drift {
            previous_run: Some("r1".into()),
            vanished_files: paths.len() as u64,
            vanished: paths
                .iter()
                .map(|p| FileRef {
                    path: p.to_string(),
                    size: 1,
                    modified: Utc::now(),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn listing(new_indexes: u64) -> Listing {
        Listing {
            new_indexes,
            ..Default::default()
        }
    }

    #[test]
    fn a_vanished_index_or_pack_fails_without_a_permitted_prune() {
        let d = gone(&["index/aa", "data/bb/bb", "keys/cc"]);
        let (v, why) = vanished(&d, &listing(0), true).unwrap();
        assert_eq!(v, Verdict::Fail);
        assert!(
            why.starts_with("2 repository files vanished since run r1"),
            "{why}"
        );
        assert!(
            why.contains("index/aa") && why.contains("data/bb/bb"),
            "{why}"
        );
        assert!(!why.contains("keys/cc"), "{why}");
        assert!(why.contains("no prune"), "{why}");

        let (v, why) = vanished(&d, &listing(2), false).unwrap();
        assert_eq!(v, Verdict::Fail);
        assert!(why.contains("set allow_prune = true"), "{why}");

        let (v, why) = vanished(&d, &listing(2), true).unwrap();
        assert_eq!(v, Verdict::Pass);
        assert!(
            why.contains("removed by a prune (2 new index files"),
            "{why}"
        );
    }

    #[test]
    fn only_lasting_files_count_and_unnamed_ones_are_not_assumed_harmless() {
        assert!(vanished(&gone(&["keys/cc"]), &listing(0), false).is_none());
        assert!(vanished(&Drift::default(), &listing(0), false).is_none());
        // The evidence names a limited number; the rest may be packs.
        let mut d = gone(&["keys/cc"]);
        d.vanished_files = 3;
        let (v, why) = vanished(&d, &listing(0), false).unwrap();
        assert_eq!(v, Verdict::Fail);
        assert!(
            why.contains("2 repository files vanished") && why.contains("2 not named"),
            "{why}"
        );
        // A vanished config is never explained by a prune.
        let (v, _) = vanished(&gone(&["config"]), &listing(3), true).unwrap();
        assert_eq!(v, Verdict::Fail);
    }

    #[test]
    fn index_files_newer_than_the_previous_listing_are_new() {
        let t0 = Utc::now() - chrono::Duration::hours(1);
        let mut l = Listing::since(Some(t0));
        let entry = |path: &str, modified| Entry {
            path: path.into(),
            size: 1,
            modified,
        };
        l.see(&entry("index/old", t0 - chrono::Duration::minutes(5)));
        l.see(&entry("index/new", t0 + chrono::Duration::minutes(5)));
        l.see(&entry("data/00/new", t0 + chrono::Duration::minutes(5)));
        assert_eq!((l.indexes, l.new_indexes), (2, 1));
        let mut first = Listing::since(None);
        first.see(&entry("index/new", t0));
        assert_eq!(first.new_indexes, 0);
    }
}

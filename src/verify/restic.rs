//! restic repositories, verified without the password.
//!
//! restic names every file under `data/`, `index/`, `snapshots/` and `keys/` after the
//! SHA-256 of its content (design doc: "the name for the file is the lower case
//! hexadecimal representation of the storage ID, which is the SHA-256 hash of the file's
//! contents"); `config` is the exception. So a restored pack is proven intact by hashing
//! it, without decrypting anything. Lock files come and go and are left out.

use chrono::{DateTime, Utc};

use crate::evidence::{CheckKind, CheckResult, FileRef, ManifestMatch, SampledFile, Verdict};
use crate::report::{human_age, shown};
use crate::target::Entry;

use super::manifest::Algorithm;

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
}

impl Listing {
    pub fn see(&mut self, e: &Entry) {
        let newer = |slot: &Option<Entry>| {
            slot.as_ref()
                .is_none_or(|n| (e.modified, &e.path) > (n.modified, &n.path))
        };
        match e.path.split('/').next() {
            Some("data") => self.packs += 1,
            Some("index") => {
                self.indexes += 1;
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

/// The repository check: snapshots exist, and every restored file's content matches its
/// name.
pub fn check(listing: &Listing, files: &[SampledFile], now: DateTime<Utc>) -> CheckResult {
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
        "{} packs, {} index files, {} snapshots",
        listing.packs, listing.indexes, listing.snapshots
    );
    if let Some(f) = bad.first() {
        return result(
            Verdict::Fail,
            format!(
                "{} restored file(s) do not match their name, e.g. {}: the repository is damaged ({shape})",
                bad.len(),
                shown(&f.path)
            ),
        );
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
            result(
                Verdict::Pass,
                format!(
                    "restic repository: {shape}; newest snapshot written {age} ago; {checked} restored files match their names"
                ),
            )
        }
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
}

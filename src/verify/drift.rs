//! Drift: what changed in a target since its previous complete listing.

use crate::catalog::{InventoryRecord, TargetState};
use crate::config::{PathFilter, Policy};
use crate::evidence::{Changed, CheckKind, CheckResult, Drift, FileRef, Resized, Verdict};
use crate::report::{human_bytes, shown};
use crate::target::Entry;

/// Collects drift while the listing streams by.
#[derive(Debug, Default)]
pub struct DriftTally {
    previous: Option<TargetState>,
    immutable: Option<PathFilter>,
    drift: Drift,
}

impl DriftTally {
    pub fn new(previous: Option<TargetState>, immutable: Option<PathFilter>) -> DriftTally {
        let mut drift = Drift::default();
        if let Some(p) = &previous {
            drift.previous_run = Some(p.run_id.clone());
            drift.previous_files = p.files;
            drift.previous_bytes = p.bytes;
        }
        DriftTally {
            previous,
            immutable,
            drift,
        }
    }

    /// A listed file, with what the previous listing knew of it.
    pub fn seen(&mut self, entry: &Entry, before: Option<&InventoryRecord>) {
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

    /// A file the previous listing had and this one does not.
    pub fn vanished(&mut self, path: &str, before: &InventoryRecord) {
        self.drift.vanished_files += 1;
        self.drift.vanished_bytes += before.size;
        if self.drift.vanished.len() < Drift::LIST_LIMIT {
            self.drift.vanished.push(FileRef {
                path: path.to_string(),
                size: before.size,
                modified: before.modified,
            });
        }
    }

    pub fn finish(self) -> Drift {
        self.drift
    }
}

fn drop_percent(before: u64, now: u64) -> f64 {
    if before == 0 || now >= before {
        0.0
    } else {
        (before - now) as f64 * 100.0 / before as f64
    }
}

/// Judges the drift of a target whose listing now holds `files` files and `bytes` bytes.
pub fn check(drift: &Drift, files: u64, bytes: u64, policy: &Policy) -> CheckResult {
    let result = |verdict, reason: String| CheckResult {
        check: CheckKind::Drift,
        verdict,
        reason,
    };
    let Some(prev) = &drift.previous_run else {
        return result(
            Verdict::Pass,
            "first inventory of this target; changes are measured from the next run".into(),
        );
    };
    let mut problems = Vec::new();
    if let Some(r) = drift.resized_in_place.first() {
        problems.push(format!(
            "{} file(s) changed size while keeping their modification time, e.g. {} ({} → {} bytes): truncation, corruption or tampering",
            drift.resized_in_place_files,
            shown(&r.path),
            r.size_before,
            r.size_now
        ));
    }
    if let Some(c) = drift.immutable_changed.first() {
        problems.push(format!(
            "{} file(s) that must never change (immutable) changed, e.g. {}: {} bytes modified {} before, {} bytes modified {} now",
            drift.immutable_changed_files,
            shown(&c.path),
            c.size_before,
            c.modified_before.format("%Y-%m-%d %H:%M:%S UTC"),
            c.size_now,
            c.modified_now.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    let count_drop = drop_percent(drift.previous_files, files);
    if count_drop > policy.count_drop_percent {
        problems.push(format!(
            "the number of files dropped from {} to {} (−{count_drop:.1}%, more than the allowed {}%)",
            drift.previous_files, files, policy.count_drop_percent
        ));
    }
    let size_drop = drop_percent(drift.previous_bytes, bytes);
    if size_drop > policy.size_drop_percent {
        problems.push(format!(
            "the total size dropped from {} to {} (−{size_drop:.1}%, more than the allowed {}%)",
            human_bytes(drift.previous_bytes),
            human_bytes(bytes),
            policy.size_drop_percent
        ));
    }
    let changes = format!(
        "since run {prev}: {} new, {} vanished ({}), {} with a new version",
        drift.new_files,
        drift.vanished_files,
        human_bytes(drift.vanished_bytes),
        drift.modified_files
    );
    if problems.is_empty() {
        result(Verdict::Pass, changes)
    } else {
        result(Verdict::Fail, format!("{}; {changes}", problems.join("; ")))
    }
}

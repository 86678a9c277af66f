//! Inventory: what the listing found, and what it left out on purpose.

use crate::evidence::{CheckKind, CheckResult, Inventory, Verdict};
use crate::format::{human_bytes, shown};

/// No backup file at all at `location`: could not verify.
pub fn empty(location: &str, inv: &Inventory) -> CheckResult {
    super::check(
        CheckKind::Inventory,
        Verdict::Error,
        format!(
            "no backup files found at {location}{}: is the path right and the storage mounted?",
            if inv.excluded > 0 {
                format!(" ({} files left out by include/exclude)", inv.excluded)
            } else {
                String::new()
            }
        ),
    )
}

/// The files listed; nothing is skipped silently: what the listing left out warns.
pub fn check(inv: &Inventory) -> CheckResult {
    let newest = inv
        .newest
        .as_ref()
        .map(|n| format!("; newest {}", shown(&n.path)))
        .unwrap_or_default();
    let excluded = if inv.excluded > 0 {
        format!(" ({} left out by include/exclude)", inv.excluded)
    } else {
        String::new()
    };
    let facts = format!(
        "{}, {}{excluded}{newest}",
        crate::format::plural(inv.files, "file"),
        human_bytes(inv.bytes)
    );
    match inv.skipped_entries.first() {
        // Nothing is skipped silently: what the listing left out warns.
        Some(first) => super::check(
            CheckKind::Inventory,
            Verdict::Warn,
            format!(
                "{} entr{} left out of the listing, e.g. {}: {}; {facts}",
                inv.skipped,
                if inv.skipped == 1 { "y" } else { "ies" },
                shown(&first.path),
                first.reason
            ),
        ),
        None => super::check(CheckKind::Inventory, Verdict::Pass, facts),
    }
}

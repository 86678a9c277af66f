//! Access: the target could be opened and listed.

use crate::evidence::{CheckKind, CheckResult, Verdict};
use crate::format::human_duration;

use super::check;

/// The target answered: listed in `list_seconds`.
pub fn listed(list_seconds: f64) -> CheckResult {
    check(
        CheckKind::Access,
        Verdict::Pass,
        format!("listed in {}", human_duration(list_seconds)),
    )
}

/// The target could not be opened or listed: could not verify.
pub fn unreachable(message: &str) -> CheckResult {
    check(CheckKind::Access, Verdict::Error, message)
}

/// The catalog's record of the last listing was damaged (and dropped): nothing could be
/// compared with it, so this run verifies nothing.
pub fn record_damaged(message: &str) -> CheckResult {
    check(CheckKind::Catalog, Verdict::Error, message)
}

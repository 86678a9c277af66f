//! Coverage: how much of the target has been verified at least once, and in the last 30
//! days (the ledger in the catalog, updated with this run's verified files).

use chrono::{DateTime, Utc};

use crate::config::Policy;
use crate::evidence::{CheckKind, CheckResult, Coverage, Inventory, SampledFile, Verdict};
use crate::format::{human_bytes, percent};

/// Counts a verified file of this run in the coverage: new to the ledger when its current
/// version had never been verified (`previously_verified` is `None`), new to the 30-day
/// window when it was verified more than 30 days ago.
pub fn count(
    coverage: &mut Coverage,
    file: &SampledFile,
    previously_verified: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    if !file.verified() {
        return;
    }
    match previously_verified {
        None => {
            coverage.verified_files += 1;
            coverage.verified_bytes += file.size;
            coverage.verified_files_30d += 1;
            coverage.verified_bytes_30d += file.size;
        }
        Some(at) if now.signed_duration_since(at).num_days() >= 30 => {
            coverage.verified_files_30d += 1;
            coverage.verified_bytes_30d += file.size;
        }
        Some(_) => {}
    }
}

pub fn check(c: &Coverage, inv: &Inventory, policy: &Policy) -> CheckResult {
    let mut reason = format!(
        "{} of {} ({}) and {} of {} verified at least once; {} of the files in the last 30 days",
        c.verified_files,
        crate::format::plural(inv.files, "file"),
        percent(c.verified_files, inv.files),
        human_bytes(c.verified_bytes),
        human_bytes(inv.bytes),
        percent(c.verified_files_30d, inv.files),
    );
    let verdict = if c.oversize_files > 0 {
        reason.push_str(&format!(
            "; {} larger than sample_bytes ({}), restored only when newest: raise sample_bytes",
            crate::format::plural(c.oversize_files, "file"),
            human_bytes(policy.sample_bytes)
        ));
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    super::check(CheckKind::Coverage, verdict, reason)
}

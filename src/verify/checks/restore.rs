//! The restore check: the sampled files restored, hashed and as expected; its summary
//! (throughput, projected full restore time).

use crate::evidence::{CheckKind, CheckResult, RestoreSummary, SampledFile, Verdict};
use crate::format::{human_bytes, plural, shown};

/// The restore check: worst file verdict, and never a pass when nothing was restored.
pub fn check(
    files: &[SampledFile],
    phase_seconds: f64,
    target_bytes: u64,
    budget_note: Option<String>,
) -> (CheckResult, Option<RestoreSummary>) {
    let ok: Vec<&SampledFile> = files.iter().filter(|f| f.verified()).collect();
    let bytes: u64 = ok.iter().map(|f| f.bytes).sum();
    let throughput = if phase_seconds > 0.0 {
        bytes as f64 / phase_seconds / 1e6
    } else {
        0.0
    };
    let summary = RestoreSummary {
        files: ok.len() as u64,
        bytes,
        read_bytes: files.iter().map(|f| f.bytes + f.second_read_bytes).sum(),
        seconds: phase_seconds,
        throughput_mb_s: throughput,
        projected_full_restore_seconds: (throughput > 0.0)
            .then(|| target_bytes as f64 / (throughput * 1e6)),
    };
    let worst = Verdict::worst(files.iter().map(|f| f.verdict)).unwrap_or(Verdict::Error);
    let bad: Vec<&SampledFile> = files.iter().filter(|f| f.verdict == worst).collect();
    let (verdict, reason) = if ok.is_empty() {
        let why = bad
            .first()
            .map(|f| format!(": {}: {}", shown(&f.path), f.reason))
            .or_else(|| budget_note.as_ref().map(|n| format!(": {n}")))
            .unwrap_or_default();
        (
            Verdict::Error.max(worst),
            format!("nothing could be restored{why}"),
        )
    } else if worst == Verdict::Pass {
        (
            Verdict::Pass,
            format!(
                "{} ({}) restored, hashed twice and as expected",
                plural(ok.len() as u64, "file"),
                human_bytes(bytes)
            ),
        )
    } else {
        let first = bad[0];
        (
            worst,
            format!(
                "{} of {} restored files {}: {}: {}; {} ({}) as expected",
                bad.len(),
                files.len(),
                match worst {
                    Verdict::Fail => "failed",
                    Verdict::Error => "could not be verified",
                    _ => "need attention",
                },
                shown(&first.path),
                first.reason,
                plural(
                    ok.iter().filter(|f| f.verdict == Verdict::Pass).count() as u64,
                    "file"
                ),
                human_bytes(bytes)
            ),
        )
    };
    // Files restored, but the budget kept the newest one out: not a full pass.
    let (verdict, reason) = match budget_note {
        Some(note) if !ok.is_empty() => (verdict.max(Verdict::Warn), format!("{reason}; {note}")),
        _ => (verdict, reason),
    };
    (
        super::check(CheckKind::Restore, verdict, reason),
        Some(summary),
    )
}

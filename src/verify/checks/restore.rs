//! The restore check: the sampled files restored, hashed and as expected; its summary
//! (throughput, projected full restore time).

use crate::config::RestoreMode;
use crate::evidence::{CheckKind, CheckResult, ReadBack, RestoreSummary, SampledFile, Verdict};
use crate::format::{human_bytes, plural, shown};

/// What was done to the verified files, in words, from their evidence: never "read back"
/// for a file that was not, never "from the disk" for one read through the page cache.
fn how_restored(ok: &[&SampledFile]) -> String {
    let count = |how: ReadBack| {
        ok.iter()
            .filter(|f| f.read_back == Some(how) && f.restored_blake3.is_some())
            .count() as u64
    };
    let (disk, cache) = (count(ReadBack::Disk), count(ReadBack::Cache));
    let all = ok.len() as u64;
    let streamed = "read from the target and hashed (BLAKE3) as they streamed";
    match (disk, cache) {
        (0, 0) => streamed.to_string(),
        (d, 0) if d == all => {
            "restored to the scratch disk, read back from the disk (past the page cache), hashed twice"
                .to_string()
        }
        (0, c) if c == all => {
            "restored to the scratch folder, read back through the page cache, hashed twice"
                .to_string()
        }
        (d, c) => {
            let mut parts = Vec::new();
            if d > 0 {
                parts.push(format!("{d} also written and read back from the disk"));
            }
            if c > 0 {
                parts.push(format!("{c} also written and read back through the page cache"));
            }
            format!("{streamed} ({})", parts.join(", "))
        }
    }
}

/// The restore check: worst file verdict, and never a pass when nothing was restored.
pub fn check(
    files: &[SampledFile],
    phase_seconds: f64,
    target_bytes: u64,
    budget_note: Option<String>,
    mode: RestoreMode,
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
        mode: Some(mode),
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
                "{} ({}) {} and as expected",
                plural(ok.len() as u64, "file"),
                human_bytes(bytes),
                how_restored(&ok)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Expectation, PickReason};

    fn file(read_back: Option<ReadBack>) -> SampledFile {
        SampledFile {
            path: "a".into(),
            size: 10,
            modified: chrono::Utc::now(),
            picked: PickReason::Newest,
            expected: Expectation::FirstSeen,
            streamed_blake3: Some("ab".into()),
            restored_blake3: read_back.map(|_| "ab".into()),
            read_back,
            second_read_blake3: None,
            second_read_bytes: 0,
            manifest: None,
            validation: None,
            entropy: None,
            previous_entropy: None,
            source: None,
            bytes: 10,
            seconds: 0.1,
            verdict: Verdict::Pass,
            reason: String::new(),
        }
    }

    fn reason(files: &[SampledFile], mode: RestoreMode) -> String {
        let (c, summary) = check(files, 1.0, 100, None, mode);
        assert_eq!(summary.unwrap().mode, Some(mode));
        assert_eq!(c.verdict, Verdict::Pass);
        c.reason
    }

    #[test]
    fn the_reason_claims_only_the_read_backs_that_happened() {
        let streamed = reason(&[file(None), file(None)], RestoreMode::Stream);
        assert!(
            streamed.contains("hashed (BLAKE3) as they streamed"),
            "{streamed}"
        );
        assert!(!streamed.contains("read back"), "{streamed}");
        assert!(!streamed.contains("twice"), "{streamed}");

        let disk = reason(&[file(Some(ReadBack::Disk))], RestoreMode::Disk);
        assert!(disk.contains("read back from the disk"), "{disk}");
        assert!(disk.contains("hashed twice"), "{disk}");

        let cached = reason(&[file(Some(ReadBack::Cache))], RestoreMode::Disk);
        assert!(cached.contains("through the page cache"), "{cached}");
        assert!(!cached.contains("from the disk"), "{cached}");

        // One file written for a validator among streamed ones.
        let mixed = reason(
            &[file(None), file(Some(ReadBack::Cache))],
            RestoreMode::Stream,
        );
        assert!(
            mixed.contains("(1 also written and read back through the page cache)"),
            "{mixed}"
        );
        assert!(!mixed.contains("twice"), "{mixed}");
    }
}

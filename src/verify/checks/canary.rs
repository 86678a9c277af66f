//! Canaries: files with a known content that must be in every backup, intact.

use crate::config::Canary;
use crate::evidence::{CheckKind, CheckResult, PickReason, SampledFile, Verdict};
use crate::format::shown;
use crate::storage::Entry;

/// The canary check: every configured canary listed, restored and intact.
pub fn check(canaries: &[(Canary, Option<Entry>)], files: &[SampledFile]) -> Option<CheckResult> {
    if canaries.is_empty() {
        return None;
    }
    let mut problems = Vec::new();
    for (c, found) in canaries {
        if found.is_none() {
            problems.push((
                Verdict::Fail,
                format!("canary {} is missing from the backup", shown(&c.path)),
            ));
            continue;
        }
        match files
            .iter()
            .find(|f| f.picked == PickReason::Canary && f.path == c.path)
        {
            Some(f) if f.verdict == Verdict::Pass => {}
            Some(f) => problems.push((
                f.verdict,
                format!("canary {}: {}", shown(&c.path), f.reason),
            )),
            None => problems.push((
                Verdict::Error,
                format!("canary {} was not restored", shown(&c.path)),
            )),
        }
    }
    Some(match Verdict::worst(problems.iter().map(|(v, _)| *v)) {
        None => super::check(
            CheckKind::Canary,
            Verdict::Pass,
            format!(
                "{} canar{} present and intact",
                canaries.len(),
                if canaries.len() == 1 { "y" } else { "ies" }
            ),
        ),
        Some(v) => super::check(
            CheckKind::Canary,
            v,
            problems
                .into_iter()
                .map(|(_, p)| p)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    })
}

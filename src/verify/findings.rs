//! Findings: what a target's checks found wrong, one entry per kind of problem, ranked
//! by severity. The checks give verdicts and reasons; this turns them into findings with
//! the files they concern, so that the worst problem leads every report and proven
//! problems can be tracked across runs ([`super::problems`]).

use crate::catalog::{PROBLEM_FILE_LIMIT, ProblemFile};
use crate::evidence::{
    CheckKind, CheckResult, Drift, Finding, PickReason, ProblemKind, SampledFile, Verdict,
};
use crate::format::shown;

/// A finding with every file it concerns (up to [`PROBLEM_FILE_LIMIT`]), as the open
/// problem it may become needs them.
#[derive(Debug, Clone)]
pub struct Observation {
    pub finding: Finding,
    pub files: Vec<(String, ProblemFile)>,
}

impl Observation {
    fn new(finding: Finding) -> Observation {
        Observation {
            finding,
            files: Vec::new(),
        }
    }
}

/// The problem kind a check's verdict is about (for the checks that are not judged
/// file by file).
fn kind_of(check: CheckKind, verdict: Verdict) -> ProblemKind {
    if verdict == Verdict::Error {
        return ProblemKind::NotVerified;
    }
    match check {
        CheckKind::Freshness if verdict == Verdict::Fail => ProblemKind::Stale,
        CheckKind::Canary => ProblemKind::Canary,
        CheckKind::Manifest => ProblemKind::Manifest,
        CheckKind::Repository => ProblemKind::Repository,
        CheckKind::Ransomware => ProblemKind::Tampering,
        CheckKind::Source => ProblemKind::SourceMismatch,
        _ => ProblemKind::Other,
    }
}

/// Collects the findings of a target's checks. `drift` holds the drift check's own
/// findings and `unexpected` the files that vanished unexpectedly (for a vanished
/// problem).
pub fn collect(
    checks: &[CheckResult],
    files: &[SampledFile],
    (drift, drift_findings): (&Drift, Vec<Finding>),
    unexpected: &[(String, ProblemFile)],
) -> Vec<Observation> {
    let mut out: Vec<Observation> = Vec::new();
    for f in drift_findings {
        let mut o = Observation::new(f);
        if o.finding.kind == ProblemKind::Vanished {
            o.files = unexpected.to_vec();
        } else {
            o.files = o
                .finding
                .paths
                .iter()
                .map(|p| (p.clone(), changed_file(drift, p)))
                .collect();
        }
        out.push(o);
    }
    for c in checks.iter().filter(|c| c.verdict != Verdict::Pass) {
        match c.check {
            CheckKind::Drift | CheckKind::Problems => {}
            CheckKind::Restore => out.extend(restore_findings(c, files)),
            CheckKind::Canary => {
                let failed: Vec<&SampledFile> = files
                    .iter()
                    .filter(|f| f.picked == PickReason::Canary && f.verdict != Verdict::Pass)
                    .collect();
                out.push(Observation {
                    finding: Finding {
                        kind: kind_of(c.check, c.verdict),
                        check: c.check,
                        verdict: c.verdict,
                        summary: c.reason.clone(),
                        files: failed.len() as u64,
                        paths: failed.iter().map(|f| f.path.clone()).collect(),
                    },
                    files: failed
                        .iter()
                        .map(|f| (f.path.clone(), problem_file(files, &f.path)))
                        .collect(),
                });
            }
            _ => out.push(Observation::new(Finding {
                kind: kind_of(c.check, c.verdict),
                check: c.check,
                verdict: c.verdict,
                summary: c.reason.clone(),
                files: 0,
                paths: Vec::new(),
            })),
        }
    }
    out.sort_by_key(|o| o.finding.rank());
    out
}

/// The restore check's findings, file by file: corrupt files (content or size not as
/// expected), failed restores (the read broke), files that could not be verified.
fn restore_findings(c: &CheckResult, files: &[SampledFile]) -> Vec<Observation> {
    let sampled = files.iter().filter(|f| f.picked != PickReason::Canary);
    let mut groups: Vec<(ProblemKind, Verdict, Vec<&SampledFile>)> = Vec::new();
    for f in sampled.filter(|f| f.verdict != Verdict::Pass) {
        let kind = match f.verdict {
            Verdict::Fail if f.streamed_blake3.is_some() => ProblemKind::Corruption,
            Verdict::Fail => ProblemKind::FailedRestore,
            Verdict::Error => ProblemKind::NotVerified,
            _ => ProblemKind::Other,
        };
        match groups.iter_mut().find(|(k, _, _)| *k == kind) {
            Some((_, v, g)) => {
                *v = (*v).max(f.verdict);
                g.push(f);
            }
            None => groups.push((kind, f.verdict, vec![f])),
        }
    }
    let mut out: Vec<Observation> = groups
        .into_iter()
        .map(|(kind, verdict, group)| {
            let what = match kind {
                ProblemKind::Corruption => "not as expected (corrupt, truncated or altered)",
                ProblemKind::FailedRestore => "could not be restored",
                ProblemKind::NotVerified => "could not be verified",
                _ => "need attention",
            };
            let first = group[0];
            let summary = format!(
                "{} restored file{} {what}: {}: {}{}",
                group.len(),
                if group.len() == 1 { "" } else { "s" },
                shown(&first.path),
                first.reason,
                if group.len() > 1 {
                    format!(" (and {} more)", group.len() - 1)
                } else {
                    String::new()
                }
            );
            Observation {
                finding: Finding {
                    kind,
                    check: CheckKind::Restore,
                    verdict,
                    summary,
                    files: group.len() as u64,
                    paths: group
                        .iter()
                        .take(Drift::LIST_LIMIT)
                        .map(|f| f.path.clone())
                        .collect(),
                },
                files: group
                    .iter()
                    .take(PROBLEM_FILE_LIMIT)
                    .map(|f| {
                        (
                            f.path.clone(),
                            ProblemFile {
                                size: f.size,
                                modified: f.modified,
                            },
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    // The check may be worse than any file (nothing restored, a scratch problem, the
    // budget leaving the newest file out): say so in its own words.
    let worst_file = out.iter().map(|o| o.finding.verdict).max();
    if worst_file.is_none_or(|w| c.verdict > w) {
        out.push(Observation::new(Finding {
            kind: if c.verdict == Verdict::Warn {
                ProblemKind::Other
            } else {
                ProblemKind::NotVerified
            },
            check: CheckKind::Restore,
            verdict: c.verdict,
            summary: c.reason.clone(),
            files: 0,
            paths: Vec::new(),
        }));
    }
    out
}

/// What a file that changed in place looks like now, for a problem about it.
fn changed_file(drift: &Drift, path: &str) -> ProblemFile {
    let resized = drift.resized_in_place.iter().find(|r| r.path == path);
    let changed = drift.immutable_changed.iter().find(|c| c.path == path);
    match (resized, changed) {
        (Some(r), _) => ProblemFile {
            size: r.size_now,
            modified: r.modified,
        },
        (None, Some(c)) => ProblemFile {
            size: c.size_now,
            modified: c.modified_now,
        },
        (None, None) => ProblemFile {
            size: 0,
            modified: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        },
    }
}

/// What a sampled file looked like, for a problem about it.
fn problem_file(files: &[SampledFile], path: &str) -> ProblemFile {
    files
        .iter()
        .find(|f| f.path == path)
        .map(|f| ProblemFile {
            size: f.size,
            modified: f.modified,
        })
        .unwrap_or(ProblemFile {
            size: 0,
            modified: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        })
}

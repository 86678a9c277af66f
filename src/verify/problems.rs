//! Open problems: a proven problem (corrupt or vanished backups, a stale set, a failed
//! canary...) stays open across runs until the evidence shows it fixed or a technician
//! acknowledges it. A run that no longer sees it is not enough: five deleted files do not
//! come back because the next run compares with the shrunken set.
//!
//! [`reconcile`] takes what one run of a target observed and the target's open problems
//! in the catalog, and returns the problems open after the run, those it closed, and the
//! catalog changes, which are written only when the run finishes (in the transaction that
//! records it), so an interrupted run changes nothing.
//!
//! When a problem counts as fixed:
//! - corrupt files and failed restores: each file restored again and verified (they are
//!   restored on every run until then), or, under a `retention` policy, gone and older
//!   than the retention;
//! - vanished files: each back with the size and modification time it had, or back and
//!   verified;
//! - a stale set: a run finds a fresh newest backup; a shrunken set: the total size is
//!   back within `size_drop_percent` of what it was before the drop;
//! - a failed canary, repository, manifest or source check: the check passes again;
//! - tampering (an immutable file changed, signs of ransomware): only a technician can
//!   close it, by acknowledging it.

use chrono::{DateTime, Utc};

use crate::catalog::{
    Catalog, CatalogError, PROBLEM_FILE_LIMIT, ProblemFile, ProblemRecord, ProblemUpdate,
    RECORD_SCHEMA,
};
use crate::config::Policy;
use crate::evidence::{
    CheckKind, CheckResult, ClosedProblem, Drift, Expectation, Finding, OpenProblem, ProblemKind,
    SampledFile, Verdict,
};
use crate::format::human_bytes;

use super::findings::Observation;

/// Which target of which run.
pub struct Scope<'a> {
    pub catalog: &'a Catalog,
    pub job: &'a str,
    pub target: &'a str,
    pub run_id: &'a str,
    pub now: DateTime<Utc>,
    pub policy: &'a Policy,
}

/// What one run of the target showed.
pub struct Observed<'a> {
    /// Every finding of the run, worst first.
    pub observations: &'a [Observation],
    pub files: &'a [SampledFile],
    pub checks: &'a [CheckResult],
    /// The generation of the run's listing, when the target was listed completely.
    pub generation: Option<u64>,
    /// Totals of the run's listing, and of the committed listing it compared with.
    pub bytes_now: Option<u64>,
    pub drift: Option<&'a Drift>,
}

/// The problems of a target after a run.
#[derive(Debug, Default)]
pub struct Reconciled {
    pub open: Vec<OpenProblem>,
    pub closed: Vec<ClosedProblem>,
    /// Catalog changes, for when the run finishes.
    pub updates: Vec<ProblemUpdate>,
    /// Findings for the problems carried from earlier runs (not observed by this one).
    pub carried: Vec<Finding>,
    /// The `problems` check: carried problems fail (warn when acknowledged).
    pub check: Option<CheckResult>,
}

/// This run's proven problems, one per kind.
fn proven(observations: &[Observation]) -> Vec<Observation> {
    let mut out: Vec<Observation> = Vec::new();
    for o in observations
        .iter()
        .filter(|o| o.finding.verdict == Verdict::Fail && o.finding.kind.is_sticky())
    {
        match out.iter_mut().find(|m| m.finding.kind == o.finding.kind) {
            None => out.push(o.clone()),
            Some(m) => {
                m.finding.summary = format!("{}; {}", m.finding.summary, o.finding.summary);
                // The same file may be found by two checks (a truncation by drift and by
                // its restore): count it once.
                let twice = o
                    .files
                    .iter()
                    .filter(|(p, _)| m.files.iter().any(|x| &x.0 == p))
                    .count() as u64;
                m.finding.files += o.finding.files - twice;
                for p in &o.finding.paths {
                    if m.finding.paths.len() < Drift::LIST_LIMIT && !m.finding.paths.contains(p) {
                        m.finding.paths.push(p.clone());
                    }
                }
                for f in &o.files {
                    if m.files.len() < PROBLEM_FILE_LIMIT && !m.files.iter().any(|x| x.0 == f.0) {
                        m.files.push(f.clone());
                    }
                }
            }
        }
    }
    out
}

fn is_path_kind(kind: ProblemKind) -> bool {
    matches!(
        kind,
        ProblemKind::Corruption | ProblemKind::FailedRestore | ProblemKind::Vanished
    )
}

/// Reconciles the target's open problems with what this run observed.
pub fn reconcile(s: &Scope<'_>, obs: &Observed<'_>) -> Result<Reconciled, CatalogError> {
    let existing = s.catalog.open_problems(s.job, s.target)?;
    let proven = proven(obs.observations);
    let mut kinds: Vec<ProblemKind> = existing
        .iter()
        .map(|r| r.kind)
        .chain(proven.iter().map(|o| o.finding.kind))
        .collect();
    kinds.sort();
    kinds.dedup();
    let mut r = Reconciled::default();
    for kind in kinds {
        let old = existing.iter().find(|p| p.kind == kind);
        let seen = proven.iter().find(|o| o.finding.kind == kind);
        match old {
            None => {
                if let Some(o) = seen {
                    open_new(s, o, obs, &mut r);
                }
            }
            Some(old) => carry(s, old, seen, obs, &mut r)?,
        }
    }
    r.check = problems_check(&r);
    Ok(r)
}

fn open_new(s: &Scope<'_>, o: &Observation, obs: &Observed<'_>, r: &mut Reconciled) {
    let f = &o.finding;
    let tracked = if is_path_kind(f.kind) || f.kind == ProblemKind::Canary {
        o.files.clone()
    } else {
        Vec::new()
    };
    let untracked = if is_path_kind(f.kind) {
        f.files.saturating_sub(tracked.len() as u64)
    } else {
        0
    };
    let record = ProblemRecord {
        v: RECORD_SCHEMA,
        kind: f.kind,
        summary: f.summary.clone(),
        opened_run: s.run_id.to_string(),
        opened_at: s.now,
        last_seen_run: s.run_id.to_string(),
        last_seen_at: s.now,
        files: f.files,
        untracked_files: untracked,
        reference_bytes: (f.kind == ProblemKind::Shrunken)
            .then(|| obs.drift.map(|d| d.previous_bytes))
            .flatten(),
        ack: None,
    };
    r.open.push(OpenProblem {
        key: f.kind.key(s.job, s.target),
        kind: f.kind,
        summary: f.summary.clone(),
        opened_run: s.run_id.to_string(),
        opened_at: s.now,
        last_seen_run: s.run_id.to_string(),
        last_seen_at: s.now,
        observed: true,
        new: true,
        files: f.files,
        paths: f.paths.clone(),
        acknowledged: None,
    });
    r.updates.push(ProblemUpdate::Upsert {
        record: Box::new(record),
        add: tracked,
        remove: Vec::new(),
        clear_ack: true,
    });
}

/// A problem open before this run: observed again, fixed, or carried.
fn carry(
    s: &Scope<'_>,
    old: &ProblemRecord,
    seen: Option<&Observation>,
    obs: &Observed<'_>,
    r: &mut Reconciled,
) -> Result<(), CatalogError> {
    let kind = old.kind;
    let expired = old
        .ack
        .as_ref()
        .is_some_and(|a| a.until.is_some_and(|u| u <= s.now));
    let mut clear_ack = expired;
    // The files it names: still concerned, or shown fixed by this run.
    let mut remaining: Vec<String> = Vec::new();
    let mut remaining_count = 0u64;
    let mut removed: Vec<String> = Vec::new();
    let mut retired = 0u64;
    s.catalog.problem_files(s.job, s.target, kind, |path, f| {
        let still = seen.is_some_and(|o| o.files.iter().any(|(p, _)| p == path));
        match (still, resolved(s, kind, path, &f, obs)?) {
            (false, Some(Fix::Retention)) => {
                retired += 1;
                removed.push(path.to_string());
            }
            (false, Some(Fix::Verified)) => removed.push(path.to_string()),
            _ => {
                remaining_count += 1;
                if remaining.len() < Drift::LIST_LIMIT {
                    remaining.push(path.to_string());
                }
            }
        }
        Ok(true)
    })?;
    let mut add = Vec::new();
    if let Some(o) = seen
        && (is_path_kind(kind) || kind == ProblemKind::Canary)
    {
        for (path, f) in &o.files {
            if s.catalog
                .problem_file(s.job, s.target, kind, path)?
                .is_none()
            {
                add.push((path.clone(), f.clone()));
                remaining_count += 1;
                if remaining.len() < Drift::LIST_LIMIT {
                    remaining.push(path.clone());
                }
            }
        }
        // The problem grew: a technician must look again.
        clear_ack |= !add.is_empty();
    }
    let untracked = match seen {
        Some(o) if is_path_kind(kind) => o
            .finding
            .files
            .saturating_sub(o.files.len() as u64)
            .max(old.untracked_files),
        _ => old.untracked_files,
    };
    let fixed = match seen {
        Some(_) => None,
        None => fixed_by(
            s,
            old,
            obs,
            remaining_count + untracked,
            removed.len(),
            retired,
        ),
    };
    if let Some(fixed_by) = fixed {
        r.closed.push(ClosedProblem {
            key: kind.key(s.job, s.target),
            kind,
            summary: old.summary.clone(),
            opened_run: old.opened_run.clone(),
            opened_at: old.opened_at,
            fixed_by,
        });
        r.updates.push(ProblemUpdate::Close {
            kind,
            files: removed,
        });
        return Ok(());
    }
    let ack = if clear_ack { None } else { old.ack.clone() };
    let files = if is_path_kind(kind) || kind == ProblemKind::Canary {
        remaining_count + untracked
    } else {
        seen.map_or(old.files, |o| o.finding.files)
    };
    let mut record = old.clone();
    if let Some(o) = seen {
        record.summary = o.finding.summary.clone();
        record.last_seen_run = s.run_id.to_string();
        record.last_seen_at = s.now;
    }
    record.files = files;
    record.untracked_files = untracked;
    record.ack = ack.clone();
    let problem = OpenProblem {
        key: kind.key(s.job, s.target),
        kind,
        summary: record.summary.clone(),
        opened_run: old.opened_run.clone(),
        opened_at: old.opened_at,
        last_seen_run: record.last_seen_run.clone(),
        last_seen_at: record.last_seen_at,
        observed: seen.is_some(),
        new: false,
        files,
        paths: remaining,
        acknowledged: ack,
    };
    if seen.is_none() {
        r.carried.push(carried_finding(&problem, s.now));
    }
    r.open.push(problem);
    r.updates.push(ProblemUpdate::Upsert {
        record: Box::new(record),
        add,
        remove: removed,
        clear_ack,
    });
    Ok(())
}

enum Fix {
    Verified,
    Retention,
}

/// Whether this run shows one file of a problem fixed.
fn resolved(
    s: &Scope<'_>,
    kind: ProblemKind,
    path: &str,
    f: &ProblemFile,
    obs: &Observed<'_>,
) -> Result<Option<Fix>, CatalogError> {
    let Some(generation) = obs.generation else {
        return Ok(None);
    };
    let restored = obs.files.iter().find(|x| x.path == path && x.verified());
    let verified = restored.is_some();
    match kind {
        ProblemKind::Corruption | ProblemKind::FailedRestore => {
            // Fixed when restored and verified as what it was before the damage (its
            // baseline), or as a different version; a file in the very state the
            // problem saw proves nothing by restoring fine.
            if let Some(x) = restored {
                let known_good = matches!(x.expected, Expectation::Baseline { .. });
                // A new version has a new modification time: the same time with another
                // size is the damaged file changed again in place (truncated further).
                let other_version = *f != ProblemFile::UNKNOWN && x.modified != f.modified;
                if known_good || other_version {
                    return Ok(Some(Fix::Verified));
                }
            }
            let listed = s
                .catalog
                .inventory(s.job, s.target, path)?
                .and_then(|rec| rec.at(Some(generation)));
            let horizon = s
                .policy
                .retention
                .and_then(|r| chrono::Duration::from_std(r).ok())
                .map(|r| s.now - r);
            Ok(
                (listed.is_none() && horizon.is_some_and(|h| f.modified < h))
                    .then_some(Fix::Retention),
            )
        }
        ProblemKind::Vanished => {
            let listed = s
                .catalog
                .inventory(s.job, s.target, path)?
                .and_then(|rec| rec.at(Some(generation)));
            Ok(match listed {
                Some(now) if now.size == f.size && now.modified == f.modified => {
                    Some(Fix::Verified)
                }
                Some(_) if verified => Some(Fix::Verified),
                _ => None,
            })
        }
        _ => Ok(None),
    }
}

/// If this run shows the problem fixed, what showed it.
fn fixed_by(
    s: &Scope<'_>,
    old: &ProblemRecord,
    obs: &Observed<'_>,
    still_concerned: u64,
    fixed_files: usize,
    retired: u64,
) -> Option<String> {
    obs.generation?;
    let check = |k: CheckKind| obs.checks.iter().find(|c| c.check == k);
    let passed =
        |k: CheckKind| check(k).filter(|c| matches!(c.verdict, Verdict::Pass | Verdict::Warn));
    match old.kind {
        ProblemKind::Corruption | ProblemKind::FailedRestore if still_concerned == 0 => {
            let verified = fixed_files as u64 - retired;
            Some(match retired {
                0 if verified == 1 => "the file restored again and verified".to_string(),
                0 => format!("all {verified} files restored again and verified"),
                r => format!(
                    "{} restored again and verified, {r} removed by the retention policy",
                    crate::format::plural(verified, "file")
                ),
            })
        }
        ProblemKind::Vanished if still_concerned == 0 => Some(match fixed_files {
            1 => "the vanished file is back".to_string(),
            n => format!("all {n} vanished files are back"),
        }),
        ProblemKind::Stale => {
            passed(CheckKind::Freshness).map(|c| format!("a new backup arrived: {}", c.reason))
        }
        ProblemKind::Canary => check(CheckKind::Canary)
            .filter(|c| c.verdict == Verdict::Pass)
            .map(|c| c.reason.clone()),
        ProblemKind::Repository => passed(CheckKind::Repository)
            .map(|c| format!("the repository check passed: {}", c.reason)),
        ProblemKind::Manifest => {
            passed(CheckKind::Manifest).map(|c| format!("the manifest check passed: {}", c.reason))
        }
        ProblemKind::SourceMismatch => {
            passed(CheckKind::Source).map(|c| format!("the source comparison passed: {}", c.reason))
        }
        ProblemKind::Shrunken => {
            let (now, before) = (obs.bytes_now?, old.reference_bytes?);
            let floor = before as f64 * (1.0 - s.policy.size_drop_percent / 100.0);
            (now as f64 >= floor).then(|| {
                format!(
                    "the total size is back to {} ({} before the drop)",
                    human_bytes(now),
                    human_bytes(before)
                )
            })
        }
        _ => None,
    }
}

/// A problem carried from an earlier run, as a finding of this run.
fn carried_finding(p: &OpenProblem, now: DateTime<Utc>) -> Finding {
    let files = if p.files > 0 {
        format!(
            "; {} still concerned",
            crate::format::plural(p.files, "file")
        )
    } else {
        String::new()
    };
    let ack = match &p.acknowledged {
        Some(a) => format!(
            "; acknowledged by {} on {}{}: {}",
            a.by,
            a.at.format("%Y-%m-%d"),
            a.until
                .map(|u| format!(" until {}", u.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default(),
            a.reason
        ),
        None => String::new(),
    };
    let days = now.signed_duration_since(p.opened_at).num_days();
    Finding {
        kind: p.kind,
        check: CheckKind::Problems,
        verdict: if p.acknowledged.is_some() {
            Verdict::Warn
        } else {
            Verdict::Fail
        },
        summary: format!(
            "still open since run {} ({}, {} day{} ago){files}: {}{ack}",
            p.opened_run,
            p.opened_at.format("%Y-%m-%d"),
            days,
            if days == 1 { "" } else { "s" },
            p.summary
        ),
        files: p.files,
        paths: p.paths.clone(),
    }
}

fn problems_check(r: &Reconciled) -> Option<CheckResult> {
    let result = |verdict, reason| {
        Some(CheckResult {
            check: CheckKind::Problems,
            verdict,
            reason,
        })
    };
    if let Some(verdict) = Verdict::worst(r.carried.iter().map(|f| f.verdict)) {
        let kinds: Vec<String> = r
            .open
            .iter()
            .filter(|p| !p.observed)
            .map(|p| {
                format!(
                    "{}{}",
                    p.kind.label(),
                    if p.acknowledged.is_some() {
                        " (acknowledged)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        return result(
            verdict,
            format!(
                "{} found by earlier runs still open: {}",
                crate::format::plural(kinds.len() as u64, "problem"),
                kinds.join(", ")
            ),
        );
    }
    if !r.closed.is_empty() {
        let closed: Vec<String> = r
            .closed
            .iter()
            .map(|c| format!("{} ({})", c.kind.label(), c.fixed_by))
            .collect();
        return result(
            Verdict::Pass,
            format!(
                "{} fixed: {}",
                crate::format::plural(closed.len() as u64, "problem"),
                closed.join("; ")
            ),
        );
    }
    None
}

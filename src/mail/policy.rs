//! Who is emailed about a run.
//!
//! A failure or an error is emailed to the technicians at once; so is a warning about
//! vanished backup files, and the first verified run after a problem when nothing is
//! open any more (a recovery: never while a problem is open, acknowledged or not).
//! Other passing runs are emailed only with `notify = "always"`.
//! Owners get the same reports when the job says `report_to_owners = true`; otherwise
//! they only get the weekly summary. Interrupted runs are not emailed.

use crate::config::{Job, Notify, Severity};
use crate::evidence::{ProblemKind, RunEvidence, RunStatus, Verdict};

/// Why a run is emailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Problem,
    Recovery,
    Routine,
}

/// Recipients of the report of `ev`, given the verdict of the job's previous finished run.
pub fn recipients(
    job: &Job,
    ev: &RunEvidence,
    previous: Option<Verdict>,
) -> Option<(Reason, Vec<String>)> {
    if ev.status != RunStatus::Finished {
        return None;
    }
    let bad = |v: Verdict| matches!(v, Verdict::Fail | Verdict::Error);
    let nothing_open = ev.targets.iter().all(|t| t.problems.is_empty());
    let vanished = ev
        .targets
        .iter()
        .flat_map(|t| &t.findings)
        .any(|f| f.kind == ProblemKind::Vanished && f.verdict != Verdict::Pass);
    let reason = match (ev.effective_verdict(), previous) {
        (v, _) if bad(v) => Reason::Problem,
        (Verdict::Warn, _) if vanished => Reason::Problem,
        (_, Some(p)) if bad(p) && nothing_open => Reason::Recovery,
        _ if job.notify == Notify::Always => Reason::Routine,
        _ => return None,
    };
    let severity = match ev.effective_verdict() {
        Verdict::Fail | Verdict::Error => Severity::Fail,
        Verdict::Pass if reason == Reason::Recovery => Severity::Fail,
        Verdict::Warn | Verdict::Pass => Severity::Warn,
    };
    let mut to = job.technicians_for(severity).to_vec();
    if job.report_to_owners {
        to.extend(job.owners.iter().cloned());
    }
    to.dedup();
    (!to.is_empty()).then_some((reason, to))
}

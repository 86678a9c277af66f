//! Threading for PSA email parsers (ConnectWise, Autotask, HaloPSA) and mail clients: a
//! report about a problem carries the problem's stable key in its subject
//! (`[BP-3f9a2c1d] [FAIL] ...`), and every later message about the same problem episode
//! (a repeat failure, a reminder, the closing) replies to the report that opened it.

use crate::evidence::{RunEvidence, Verdict};

/// The problem a run report is about, and the run whose report opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// `BP-3f9a2c1d`.
    pub key: String,
    pub opened_run: String,
}

/// The problem a run's report leads with: the open problem behind the headline's worst
/// finding; for a recovery (nothing open), the first problem the run closed.
pub fn of_run(ev: &RunEvidence) -> Option<Thread> {
    let mut found: Vec<_> = ev
        .targets
        .iter()
        .flat_map(|t| t.findings.iter().map(move |f| (t, f)))
        .filter(|(_, f)| f.verdict != Verdict::Pass)
        .collect();
    found.sort_by_key(|(_, f)| f.rank());
    for (t, f) in found {
        if let Some(p) = t.problems.iter().find(|p| p.kind == f.kind) {
            return Some(Thread {
                key: format!("BP-{}", p.key),
                opened_run: p.opened_run.clone(),
            });
        }
    }
    if ev.targets.iter().all(|t| t.problems.is_empty()) {
        return ev
            .targets
            .iter()
            .flat_map(|t| &t.closed_problems)
            .next()
            .map(|c| Thread {
                key: format!("BP-{}", c.key),
                opened_run: c.opened_run.clone(),
            });
    }
    None
}

//! A run that stopped on a panic (a bug in backproof) is still recorded: as finished
//! with verdict error ("could not verify"), each target naming the panic, sealed into the
//! job's evidence chain and reported to the technicians like any run that could not
//! verify. Nothing of such a run counts as verified.

use chrono::Utc;

use crate::config::Job;
use crate::evidence::{
    CheckKind, EVIDENCE_SCHEMA, Egress, Finding, ProblemKind, RunEvidence, RunStatus,
    TargetEvidence, Trigger, Verdict,
};

use super::{RunError, Sealed, Verifier};

/// The text of a panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// A run that stopped on a panic.
#[derive(Debug, Clone, Copy)]
pub struct Crash<'a> {
    pub run_id: &'a str,
    /// The one target it verified, if it was asked for one.
    pub target: Option<&'a str>,
    pub trigger: Trigger,
    /// The panic's message.
    pub message: &'a str,
}

impl Verifier {
    /// Seals the crashed run of `job` (only its target, if it had one) as evidence that
    /// could not verify. `None` if the run had already been recorded as finished before
    /// the panic.
    pub fn seal_crash(&self, job: &Job, crash: Crash<'_>) -> Result<Option<Sealed>, RunError> {
        let Crash {
            run_id,
            target,
            trigger,
            message,
        } = crash;
        let mut ev = match self.catalog.run(run_id)? {
            Some(ev) if ev.status != RunStatus::Running => return Ok(None),
            Some(ev) => ev,
            // The panic came before the run's start was recorded.
            None => RunEvidence {
                schema: EVIDENCE_SCHEMA,
                run_id: run_id.to_string(),
                job: job.name.clone(),
                client: job.client.clone(),
                host: self.host.clone(),
                backproof_version: env!("CARGO_PKG_VERSION").to_string(),
                trigger,
                started_at: Utc::now(),
                maintenance: None,
                finished_at: None,
                status: RunStatus::Running,
                verdict: None,
                seed: 0,
                targets: Vec::new(),
                previous_run: None,
                previous_hash: None,
                egress: Egress::default(),
            },
        };
        ev.targets = job
            .targets
            .iter()
            .filter(|t| target.is_none_or(|name| t.name == name))
            .map(|t| {
                let summary = format!(
                    "could not verify: backproof stopped on an internal error during this run, so nothing of it counts as verified (panic: {message})"
                );
                TargetEvidence {
                    name: t.name.clone(),
                    location: t.location.to_string(),
                    verdict: Verdict::Error,
                    summary: summary.clone(),
                    checks: Vec::new(),
                    inventory: None,
                    drift: None,
                    coverage: None,
                    restore: None,
                    files: Vec::new(),
                    findings: vec![Finding {
                        kind: ProblemKind::NotVerified,
                        check: CheckKind::Access,
                        verdict: Verdict::Error,
                        summary,
                        files: 0,
                        paths: Vec::new(),
                    }],
                    // Open problems stay as they are: a crashed run changes nothing.
                    problems: Vec::new(),
                    closed_problems: Vec::new(),
                    restic_keyed: None,
                }
            })
            .collect();
        ev.finished_at = Some(Utc::now());
        ev.status = RunStatus::Finished;
        ev.verdict = Some(Verdict::Error);
        self.seal(&job.name, ev, crate::catalog::RunCommit::default())
            .map(Some)
    }
}

/// A hook for tests, compiled only into debug builds (what `cargo test` runs): when the
/// environment variable `BACKPROOF_TEST_PANIC_FILE` names a file that exists, every run
/// panics right after its start is recorded, with the file's content in the message.
/// Tests use it to prove that a panic inside a run is recorded and frees the job.
/// Release builds ignore the variable.
pub(super) fn test_panic_point() {
    #[cfg(debug_assertions)]
    if let Some(file) = std::env::var_os("BACKPROOF_TEST_PANIC_FILE")
        && let Ok(text) = std::fs::read_to_string(&file)
    {
        panic!("test panic ({})", text.trim());
    }
}

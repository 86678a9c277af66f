//! Concluding a target: its open problems reconciled with what the run observed, its
//! verdict and one-line summary, and what the run records for it when it finishes.

use chrono::Utc;

use crate::catalog::{CatalogError, TargetCommit};
use crate::evidence::{CheckResult, RestoreSummary, SampledFile, TargetEvidence, Verdict};
use crate::format::human_bytes;

use super::findings::Observation;
use super::inventory::Listed;
use super::problems;
use super::target_run::{TargetOutcome, TargetRun};

impl TargetRun<'_> {
    /// Reconciles the open problems with what this run observed, and assembles the
    /// target's evidence and what to record when the run finishes. `commit_listing`:
    /// the listing becomes the one later runs compare with.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn conclude(
        &self,
        location: String,
        mut checks: Vec<CheckResult>,
        observed: Vec<Observation>,
        listed: Option<Listed>,
        files: Vec<SampledFile>,
        restore: Option<RestoreSummary>,
        commit_listing: bool,
    ) -> Result<TargetOutcome, CatalogError> {
        let scope = problems::Scope {
            catalog: &self.verifier.catalog,
            job: &self.job.name,
            target: &self.spec.name,
            run_id: self.run_id,
            now: Utc::now(),
            policy: &self.spec.policy,
        };
        let listed_ok = listed.as_ref().filter(|_| commit_listing);
        let reconciled = problems::reconcile(
            &scope,
            &problems::Observed {
                observations: &observed,
                files: &files,
                checks: &checks,
                generation: listed_ok.map(|l| l.generation),
                bytes_now: listed_ok.map(|l| l.inventory.bytes),
                drift: listed_ok.map(|l| &l.drift),
            },
        )?;
        checks.extend(reconciled.check.clone());
        let mut found: Vec<crate::evidence::Finding> = observed
            .into_iter()
            .map(|o| o.finding)
            .chain(reconciled.carried)
            .collect();
        found.sort_by_key(|f| f.rank());
        let verdict = Verdict::worst(checks.iter().map(|c| c.verdict)).unwrap_or(Verdict::Error);
        let summary = match found.first() {
            Some(f) if verdict != Verdict::Pass => f.summary.clone(),
            _ => match &restore {
                Some(r) => format!(
                    "{} ({}) restored and verified",
                    crate::format::plural(r.files, "file"),
                    human_bytes(r.bytes)
                ),
                None => "verified".into(),
            },
        };
        let commit = TargetCommit {
            job: self.job.name.clone(),
            target: self.spec.name.clone(),
            state: listed_ok.map(|l| l.state.clone()),
            problems: reconciled.updates,
        };
        let evidence = TargetEvidence {
            name: self.spec.name.clone(),
            location,
            verdict,
            summary,
            checks,
            inventory: listed.as_ref().map(|l| l.inventory.clone()),
            drift: listed.as_ref().map(|l| l.drift.clone()),
            coverage: listed.as_ref().map(|l| l.coverage.clone()),
            restore,
            files,
            findings: found,
            problems: reconciled.open,
            closed_problems: reconciled.closed,
            restic_keyed: None,
        };
        Ok(TargetOutcome { evidence, commit })
    }
}

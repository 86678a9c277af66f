//! Verifying one target: open, list, judge, sample, restore, judge each restore.

//!
//! The checks themselves are in [`super::checks`], restoring the sample in
//! [`super::restore_sample`] and [`super::restore_file`], the verdict and open problems in
//! [`super::conclude`]. This file runs them in order.

use std::sync::Arc;

use chrono::Utc;
use tracing::Instrument;

use crate::catalog::{CatalogError, TargetCommit};
use crate::config::{Job, RestoreMode, TargetSpec};
use crate::evidence::{CheckKind, Drift, KeyedRepository, PickReason, TargetEvidence, Verdict};
use crate::scratch::ScratchDir;
use crate::storage::{Entry, Target};

use super::checks::{self, drift, freshness, ransomware, repository};
use super::inventory::{self, ListError, Listed, Scope};
use super::{Verifier, findings, restic_keyed};

/// Everything one target's verification needs to know about its run.
pub(super) struct TargetRun<'a> {
    pub verifier: &'a Verifier,
    pub job: &'a Job,
    pub spec: &'a TargetSpec,
    pub run_id: &'a str,
    pub seed: u64,
    /// Position of the target in the job, to keep scratch folders apart.
    pub index: usize,
    pub progress: Option<&'a crate::progress::Progress>,
    /// Bytes this target may still read under the job's egress budget, if it has one.
    pub allowance: Option<u64>,
}

/// Files of open problems restored again per run, at most.
const MAX_RECHECK: usize = 20;

/// What a target run leaves for the run to record when it finishes.
pub(super) struct TargetOutcome {
    pub evidence: TargetEvidence,
    pub commit: TargetCommit,
}

impl TargetRun<'_> {
    pub async fn verify(self) -> Result<TargetOutcome, CatalogError> {
        let span = tracing::info_span!(
            "target",
            job = %self.job.name,
            run_id = %self.run_id,
            target = %self.spec.name
        );
        self.verify_inner().instrument(span).await
    }

    /// Files of the target's open problems that are restored again until they verify.
    fn recheck(&self) -> Result<std::collections::HashSet<String>, CatalogError> {
        use crate::evidence::ProblemKind;
        let catalog = &self.verifier.catalog;
        let mut paths = std::collections::HashSet::new();
        for kind in [ProblemKind::Corruption, ProblemKind::FailedRestore] {
            catalog.problem_files(&self.job.name, &self.spec.name, kind, |path, _| {
                paths.insert(path.to_string());
                Ok(paths.len() < MAX_RECHECK)
            })?;
        }
        Ok(paths)
    }

    pub(super) fn progress(&self, f: impl FnOnce(&mut crate::progress::ProgressState)) {
        if let Some(p) = self.progress {
            p.update(f);
        }
    }

    /// For a repository, its newest snapshot and index, restored on every run unless the
    /// sample has them already.
    pub(super) fn repository_metadata(&self, listed: &Listed) -> Vec<(Entry, PickReason)> {
        let Some(r) = &listed.restic else {
            return Vec::new();
        };
        [&r.newest_snapshot, &r.newest_index]
            .into_iter()
            .flatten()
            .filter(|e| !listed.sample.picks.iter().any(|(p, _)| p.path == e.path))
            .map(|e| (e.clone(), PickReason::RepositoryMetadata))
            .collect()
    }

    /// A scratch folder of this target in this run (`suffix` keeps a second one apart);
    /// the error says why there is none.
    pub(super) fn scratch(&self, suffix: &str) -> Result<ScratchDir, String> {
        let owner = crate::scratch::Owner {
            installation: self.verifier.catalog.installation(),
            run_id: self.run_id,
        };
        let name = format!("{}-{}{suffix}", self.run_id, self.index);
        ScratchDir::create(&self.verifier.scratch_dir, &name, owner).map_err(|e| {
            format!(
                "cannot create a scratch folder in {}: {e}",
                self.verifier.scratch_dir.display()
            )
        })
    }

    /// The sample of this target: the policy's limits, within the egress allowance.
    fn sampler(&self) -> crate::verify::sample::Sampler {
        let p = &self.spec.policy;
        checks::budget::sampler(self.seed, p.sample_files, p.sample_bytes, self.allowance)
    }

    async fn verify_inner(&self) -> Result<TargetOutcome, CatalogError> {
        self.progress(|s| {
            s.target = Some(self.spec.name.clone());
            s.phase = Some("listing".into());
        });
        let target = match (self.verifier.opener)(self.spec).await {
            Ok(t) => t,
            Err(e) => return self.unreachable(self.spec.location.to_string(), &e.message),
        };
        let location = target.location().to_string();
        let now = Utc::now();
        let scope = Scope {
            job: self.job.name.clone(),
            target: self.spec.name.clone(),
            run_id: self.run_id.to_string(),
        };
        let catalog = &self.verifier.catalog;
        let extras = inventory::Extras {
            canaries: self.spec.canaries.clone(),
            format: self.spec.format,
            recheck: self.recheck()?,
        };
        let listed = match inventory::list(
            &*target,
            catalog,
            scope,
            &self.spec.policy,
            extras,
            self.sampler(),
            now,
        )
        .await
        {
            Ok(l) => l,
            Err(ListError::Target(e)) => {
                return self.unreachable(location, &format!("listing failed: {e}"));
            }
            Err(ListError::Damaged(message)) => {
                return self.not_verified(location, checks::access::record_damaged(&message));
            }
            Err(ListError::Catalog(e)) => return Err(e),
        };
        tracing::info!(
            files = listed.inventory.files,
            bytes = listed.inventory.bytes,
            "listed"
        );

        let mut checks = vec![checks::access::listed(listed.inventory.list_seconds)];
        if listed.inventory.files == 0 {
            checks.push(checks::inventory::empty(&location, &listed.inventory));
            // An empty listing (an unmounted disk?) does not become what later runs
            // compare with.
            let observed = findings::collect(&checks, &[], (&Drift::default(), Vec::new()), &[]);
            return self.conclude(
                location,
                checks,
                observed,
                Some(listed),
                Vec::new(),
                None,
                false,
            );
        }
        checks.push(checks::inventory::check(&listed.inventory));
        // A repository is as fresh as its newest snapshot, not its newest pack.
        let newest = match &listed.restic {
            Some(r) => r.newest(),
            None => listed.inventory.newest.clone(),
        };
        checks.push(freshness::check(
            newest.as_ref(),
            self.spec.policy.max_age,
            now,
        ));
        let (mut drift_check, mut drift_findings) = drift::check(
            &listed.drift,
            listed.inventory.files,
            listed.inventory.bytes,
            &self.spec.policy,
        );
        if let Some(r) = &listed.restic {
            let gone = repository::vanished(&listed.drift, r, self.spec.policy.allow_prune);
            repository::excuse_vanished(&mut drift_check, &mut drift_findings, gone);
        }
        checks.push(drift_check);

        // Keyed mode after the restores: their timings are measured alone, and it gets what
        // they left of the egress budget.
        let sample = self.restore_sample(&*target, &listed, now).await?;
        let (files, mut summary, mut extra) = (sample.files, sample.summary, sample.extra);
        let keyed = match &summary {
            Some(s) => self.keyed(&target, &listed, s.read_bytes).await,
            None => None,
        };
        if let Some(k) = &keyed {
            if let Some(c) = extra.iter_mut().find(|c| c.check == CheckKind::Repository) {
                restic_keyed::merge(c, k);
            }
            if let Some(s) = summary.as_mut() {
                s.read_bytes += k.read_bytes;
            }
        }
        checks.extend(extra);
        checks.push(checks::coverage::check(
            &sample.coverage,
            &listed.inventory,
            &self.spec.policy,
        ));
        if let Some(c) = checks::canary::check(&listed.canaries, &files) {
            checks.push(c);
        }
        if let Some(c) = ransomware::check(&files, &self.spec.policy) {
            checks.push(c);
        }
        checks.push(sample.restore_check);
        let observed = findings::collect(
            &checks,
            &files,
            (&listed.drift, drift_findings),
            &listed.unexpected,
        );
        let mut listed = listed;
        listed.coverage = sample.coverage;
        let mut out = self.conclude(
            location,
            checks,
            observed,
            Some(listed),
            files,
            summary,
            true,
        )?;
        out.evidence.restic_keyed = keyed;
        Ok(out)
    }

    /// Keyed mode: a restic repository with a configured password is also checked with
    /// it, after the restores of this target (`read_so_far` bytes, against the budget).
    async fn keyed(
        &self,
        target: &Arc<dyn Target>,
        listed: &Listed,
        read_so_far: u64,
    ) -> Option<KeyedRepository> {
        let password = self.spec.restic_password.clone()?;
        listed.restic.as_ref()?;
        self.progress(|s| s.phase = Some("checking the repository with its password".into()));
        let policy = &self.spec.policy;
        // A scratch folder only for copies written to disk.
        let scratch = match policy.restore {
            RestoreMode::Stream => None,
            RestoreMode::Disk => match self.scratch("-keyed") {
                Ok(s) => Some(s),
                Err(why) => {
                    return Some(KeyedRepository {
                        reason: format!("could not verify with the password: {why}"),
                        ..Default::default()
                    });
                }
            },
        };
        let opts = restic_keyed::Options {
            seed: self.seed,
            sample_files: policy.sample_files,
            sample_bytes: checks::budget::keyed_bytes(
                policy.sample_bytes,
                self.allowance,
                read_so_far,
            ),
            scratch: scratch.as_ref().map(|s| s.path().to_path_buf()),
        };
        let found = restic_keyed::verify(target.clone(), password, opts).await;
        tracing::info!(verdict = %found.verdict, "restic repository checked with its password");
        drop(scratch);
        Some(found)
    }

    /// A target that could not be opened or listed: could not verify; its open
    /// problems stay open.
    fn unreachable(&self, location: String, message: &str) -> Result<TargetOutcome, CatalogError> {
        self.not_verified(location, checks::access::unreachable(message))
    }

    /// A target that could not be verified at all, for the reason `check` gives.
    fn not_verified(
        &self,
        location: String,
        check: crate::evidence::CheckResult,
    ) -> Result<TargetOutcome, CatalogError> {
        let message = check.reason.clone();
        let checks = vec![check];
        let observed = findings::collect(&checks, &[], (&Drift::default(), Vec::new()), &[]);
        let mut out = self.conclude(location, checks, observed, None, Vec::new(), None, false)?;
        if out.evidence.verdict == Verdict::Error {
            out.evidence.summary = format!("could not verify: {message}");
        }
        Ok(out)
    }
}

//! Restoring a target's sample: the canaries, the repository's newest metadata, the files
//! of open problems and the sampled files, restored concurrently into a scratch folder and
//! judged one by one ([`super::restore_file`]); then the restore, coverage, manifest or
//! repository, and source checks over them.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};

use crate::catalog::CatalogError;
use crate::evidence::{
    CheckKind, CheckResult, Coverage, PickReason, RestoreSummary, SampledFile, Verdict,
};
use crate::storage::{Entry, Target};

use super::checks::{self, manifest as manifest_check};
use super::inventory::Listed;
use super::restore_file::{RestoreFile, RestoredFile, TargetDown};
use super::target_run::TargetRun;

/// What restoring the sample found.
pub(super) struct SampleOutcome {
    /// Every restored (or attempted) file, judged.
    pub files: Vec<SampledFile>,
    pub restore_check: CheckResult,
    /// Totals of the restores; `None` when nothing could be attempted.
    pub summary: Option<RestoreSummary>,
    /// The target's coverage, with this run's verified files counted.
    pub coverage: Coverage,
    /// The manifest or repository check, and the source check.
    pub extra: Vec<CheckResult>,
}

impl TargetRun<'_> {
    /// Restores the sample, judges each file and records the verified ones.
    pub(super) async fn restore_sample(
        &self,
        target: &dyn Target,
        listed: &Listed,
        now: DateTime<Utc>,
    ) -> Result<SampleOutcome, CatalogError> {
        let mut coverage = listed.coverage.clone();
        let scratch = match self.scratch("") {
            Ok(s) => Arc::new(s),
            Err(why) => {
                let c = checks::check(CheckKind::Restore, Verdict::Error, why);
                return Ok(SampleOutcome {
                    files: Vec::new(),
                    restore_check: c,
                    summary: None,
                    coverage,
                    extra: Vec::new(),
                });
            }
        };
        let (files, bytes) = listed
            .sample
            .picks
            .iter()
            .map(|(e, _)| e)
            .chain(&listed.recheck)
            .fold((0, 0), |(n, b), e| (n + 1, b + e.size));
        self.progress(|s| {
            s.phase = Some("restoring".into());
            s.listed = listed.inventory.files;
            s.files_total += files;
            s.bytes_total += bytes;
        });
        let concurrency = self
            .spec
            .policy
            .concurrency
            .unwrap_or_else(|| target.default_concurrency())
            .max(1);
        let started = Instant::now();
        // Owned items: a stream over borrowed ones is not seen as `Send` for every
        // lifetime (a compiler limitation), and the daemon spawns runs on its runtime.
        let picks: Vec<(usize, Entry, PickReason)> = listed
            .canaries
            .iter()
            .filter_map(|(_, found)| found.clone().map(|e| (e, PickReason::Canary)))
            .chain(self.repository_metadata(listed))
            .chain(
                listed
                    .recheck
                    .iter()
                    .map(|e| (e.clone(), PickReason::Recheck)),
            )
            .chain(listed.sample.picks.iter().cloned())
            .enumerate()
            .map(|(i, (e, why))| (i, e, why))
            .collect();
        let plan = match &self.spec.policy.manifests {
            Some(_) => {
                let sampled = picks.iter().map(|(_, e, _)| e.path.clone()).collect();
                let scope = (self.job.name.as_str(), self.spec.name.as_str());
                Some(
                    manifest_check::read(target, &self.verifier.catalog, scope, listed, &sampled)
                        .await?,
                )
            }
            None => None,
        };
        let expected = |path: &str| match &listed.restic {
            Some(_) => checks::repository::expectation(path),
            None => plan.as_ref().and_then(|p| p.expected.get(path).cloned()),
        };
        let down = TargetDown::default();
        let results: Vec<RestoredFile> = futures::stream::iter(picks)
            .map(|(index, entry, picked)| {
                self.restore_one(RestoreFile {
                    target,
                    scratch: &scratch,
                    down: &down,
                    index,
                    manifest: expected(&entry.path),
                    entry,
                    picked,
                    committed: listed.committed,
                    now,
                })
            })
            .buffered(concurrency)
            .try_collect()
            .await?;
        let phase_seconds = started.elapsed().as_secs_f64();

        let mut files = Vec::with_capacity(results.len());
        for r in results {
            checks::coverage::count(&mut coverage, &r.file, r.previously_verified, now);
            files.push(r.file);
        }
        let budget_note = checks::budget::note(
            self.allowance,
            listed.sample.newest_over_cap.as_ref(),
            files.is_empty(),
        );
        let (restore_check, summary) = checks::restore::check(
            &files,
            phase_seconds,
            listed.inventory.bytes,
            budget_note,
            self.spec.policy.restore,
        );
        let mut extra: Vec<CheckResult> = match &listed.restic {
            Some(r) => vec![checks::repository::check(
                r,
                &files,
                &listed.drift,
                self.spec.policy.allow_prune,
                now,
            )],
            None => plan
                .map(|p| manifest_check::check(p, &files))
                .into_iter()
                .collect(),
        };
        if let Some(source) = &self.spec.source {
            extra.push(
                checks::source::compare(self.verifier, self.spec, source, &scratch, &mut files)
                    .await,
            );
        }
        drop(scratch);
        Ok(SampleOutcome {
            files,
            restore_check,
            summary,
            coverage,
            extra,
        })
    }
}

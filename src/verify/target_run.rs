//! Verifying one target: open, list, judge, sample, restore, judge each restore.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use tracing::Instrument;

use crate::catalog::{Catalog, CatalogError, TargetCommit};
use crate::config::{Job, TargetSpec};
use crate::evidence::{
    CheckKind, CheckResult, Coverage, Drift, ManifestMatch, PickReason, RestoreSummary,
    SampledFile, TargetEvidence, Verdict,
};
use crate::format::{human_bytes, human_duration, percent, shown};
use crate::scratch::ScratchDir;
use crate::storage::{Entry, ErrorKind, Target};

use super::expect::{self, expectation};
use super::findings::{self, Observation};
use super::inventory::{self, ListError, Listed, Scope};
use super::problems;
use super::restic_keyed;
use super::restore::{self, RestoreError};
use super::validate;
use super::{Verifier, drift, freshness};
use super::{manifest_check, ransomware, restic, source_check};
use crate::evidence::KeyedRepository;

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

fn check(check: CheckKind, verdict: Verdict, reason: impl Into<String>) -> CheckResult {
    CheckResult {
        check,
        verdict,
        reason: reason.into(),
    }
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

    fn progress(&self, f: impl FnOnce(&mut crate::progress::ProgressState)) {
        if let Some(p) = self.progress {
            p.update(f);
        }
    }

    /// For a repository, its newest snapshot and index, restored on every run unless the
    /// sample has them already.
    fn repository_metadata(&self, listed: &Listed) -> Vec<(Entry, PickReason)> {
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

    /// The sample of this target: the policy's limits, within the egress allowance.
    fn sampler(&self) -> crate::verify::sample::Sampler {
        let p = &self.spec.policy;
        let s = crate::verify::sample::Sampler::new(self.seed, p.sample_files, p.sample_bytes);
        match self.allowance {
            Some(a) => s.with_cap(a),
            None => s,
        }
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
            Err(ListError::Catalog(e)) => return Err(e),
        };
        tracing::info!(
            files = listed.inventory.files,
            bytes = listed.inventory.bytes,
            "listed"
        );

        let mut checks = vec![check(
            CheckKind::Access,
            Verdict::Pass,
            format!(
                "listed in {}",
                human_duration(listed.inventory.list_seconds)
            ),
        )];
        if listed.inventory.files == 0 {
            checks.push(check(
                CheckKind::Inventory,
                Verdict::Error,
                format!(
                    "no backup files found at {location}{}: is the path right and the storage mounted?",
                    if listed.inventory.excluded > 0 {
                        format!(
                            " ({} files left out by include/exclude)",
                            listed.inventory.excluded
                        )
                    } else {
                        String::new()
                    }
                ),
            ));
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
        checks.push(self.inventory_check(&listed));
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
            let gone = restic::vanished(&listed.drift, r, self.spec.policy.allow_prune);
            restic_vanishing(&mut drift_check, &mut drift_findings, gone);
        }
        checks.push(drift_check);

        let (files, restore_check, mut summary, coverage, mut extra) =
            self.restore_sample(&*target, &listed, now).await?;
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
        checks.push(coverage_check(&coverage, &listed, &self.spec.policy));
        if let Some(c) = canary_check(&listed.canaries, &files) {
            checks.push(c);
        }
        if let Some(c) = ransomware::check(&files, &self.spec.policy) {
            checks.push(c);
        }
        checks.push(restore_check);
        let observed = findings::collect(
            &checks,
            &files,
            (&listed.drift, drift_findings),
            &listed.unexpected,
        );
        let mut listed = listed;
        listed.coverage = coverage;
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

    /// Reconciles the open problems with what this run observed, and assembles the
    /// target's evidence and what to record when the run finishes. `commit_listing`:
    /// the listing becomes the one later runs compare with.
    #[allow(clippy::too_many_arguments)]
    fn conclude(
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
                    "{} files ({}) restored and verified",
                    r.files,
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
        let owner = crate::scratch::Owner {
            installation: self.verifier.catalog.installation(),
            run_id: self.run_id,
        };
        let scratch = match ScratchDir::create(
            &self.verifier.scratch_dir,
            &format!("{}-{}-keyed", self.run_id, self.index),
            owner,
        ) {
            Ok(s) => s,
            Err(e) => {
                return Some(KeyedRepository {
                    reason: format!(
                        "could not verify with the password: cannot create a scratch folder in {}: {e}",
                        self.verifier.scratch_dir.display()
                    ),
                    ..Default::default()
                });
            }
        };
        let policy = &self.spec.policy;
        let opts = restic_keyed::Options {
            seed: self.seed,
            sample_files: policy.sample_files,
            sample_bytes: match self.allowance {
                Some(left) => policy.sample_bytes.min(left.saturating_sub(read_so_far)),
                None => policy.sample_bytes,
            },
            scratch: scratch.path().to_path_buf(),
        };
        let found = restic_keyed::verify(target.clone(), password, opts).await;
        tracing::info!(verdict = %found.verdict, "restic repository checked with its password");
        drop(scratch);
        Some(found)
    }

    fn inventory_check(&self, listed: &Listed) -> CheckResult {
        let inv = &listed.inventory;
        let newest = inv
            .newest
            .as_ref()
            .map(|n| format!("; newest {}", shown(&n.path)))
            .unwrap_or_default();
        let excluded = if inv.excluded > 0 {
            format!(" ({} left out by include/exclude)", inv.excluded)
        } else {
            String::new()
        };
        let facts = format!(
            "{} files, {}{excluded}{newest}",
            inv.files,
            human_bytes(inv.bytes)
        );
        match inv.skipped_entries.first() {
            // Nothing is skipped silently: what the listing left out warns.
            Some(first) => check(
                CheckKind::Inventory,
                Verdict::Warn,
                format!(
                    "{} entr{} left out of the listing, e.g. {}: {}; {facts}",
                    inv.skipped,
                    if inv.skipped == 1 { "y" } else { "ies" },
                    shown(&first.path),
                    first.reason
                ),
            ),
            None => check(CheckKind::Inventory, Verdict::Pass, facts),
        }
    }

    /// Restores the sample, judges each file and records the verified ones.
    async fn restore_sample(
        &self,
        target: &dyn Target,
        listed: &Listed,
        now: DateTime<Utc>,
    ) -> Result<
        (
            Vec<SampledFile>,
            CheckResult,
            Option<RestoreSummary>,
            Coverage,
            Vec<CheckResult>,
        ),
        CatalogError,
    > {
        let mut coverage = listed.coverage.clone();
        let owner = crate::scratch::Owner {
            installation: self.verifier.catalog.installation(),
            run_id: self.run_id,
        };
        let scratch = match ScratchDir::create(
            &self.verifier.scratch_dir,
            &format!("{}-{}", self.run_id, self.index),
            owner,
        ) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                let c = check(
                    CheckKind::Restore,
                    Verdict::Error,
                    format!(
                        "cannot create a scratch folder in {}: {e}",
                        self.verifier.scratch_dir.display()
                    ),
                );
                return Ok((Vec::new(), c, None, coverage, Vec::new()));
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
            Some(_) => restic::expectation(path),
            None => plan.as_ref().and_then(|p| p.expected.get(path).cloned()),
        };
        let down = TargetDown::default();
        let results: Vec<(SampledFile, Option<DateTime<Utc>>)> = futures::stream::iter(picks)
            .map(|(i, entry, why)| {
                let manifest = expected(&entry.path);
                let committed = listed.committed;
                self.restore_one(
                    target, &scratch, &down, i, entry, why, manifest, committed, now,
                )
            })
            .buffered(concurrency)
            .try_collect()
            .await?;
        let phase_seconds = started.elapsed().as_secs_f64();

        let mut files = Vec::with_capacity(results.len());
        for (f, previously_verified) in results {
            if f.verified() {
                match previously_verified {
                    None => {
                        coverage.verified_files += 1;
                        coverage.verified_bytes += f.size;
                        coverage.verified_files_30d += 1;
                        coverage.verified_bytes_30d += f.size;
                    }
                    Some(at) if now.signed_duration_since(at).num_days() >= 30 => {
                        coverage.verified_files_30d += 1;
                        coverage.verified_bytes_30d += f.size;
                    }
                    Some(_) => {}
                }
            }
            files.push(f);
        }
        let budget_note = match (self.allowance, &listed.sample.newest_over_cap) {
            (Some(left), Some(n)) => Some(format!(
                "the egress budget left ({}) is smaller than the newest file {} ({}), which was not restored",
                human_bytes(left),
                shown(&n.path),
                human_bytes(n.size)
            )),
            (Some(0), None) if files.is_empty() => Some("the egress budget is used up".into()),
            _ => None,
        };
        let (check, summary) =
            restore_check(&files, phase_seconds, listed.inventory.bytes, budget_note);
        let mut extra: Vec<CheckResult> = match &listed.restic {
            Some(r) => vec![restic::check(
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
                source_check::compare(self.verifier, self.spec, source, &scratch, &mut files).await,
            );
        }
        drop(scratch);
        Ok((files, check, summary, coverage, extra))
    }

    /// Restores and judges one sampled file. Returns it with when its current version
    /// had last been verified before this run.
    #[allow(clippy::too_many_arguments)]
    async fn restore_one(
        &self,
        target: &dyn Target,
        scratch: &ScratchDir,
        down: &TargetDown,
        index: usize,
        entry: Entry,
        picked: PickReason,
        manifest: Option<ManifestMatch>,
        committed: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(SampledFile, Option<DateTime<Utc>>), CatalogError> {
        let entry = &entry;
        let catalog: &Catalog = &self.verifier.catalog;
        let (job, tname) = (&self.job.name, &self.spec.name);
        let known = catalog.file(job, tname, &entry.path)?;
        let previously_verified = known
            .as_ref()
            .filter(|k| k.modified == entry.modified && k.size == entry.size)
            .map(|k| k.verified_at);
        let mut file = SampledFile {
            path: entry.path.clone(),
            size: entry.size,
            modified: entry.modified,
            picked,
            expected: expectation(entry, known.as_ref()),
            streamed_blake3: None,
            restored_blake3: None,
            second_read_blake3: None,
            second_read_bytes: 0,
            manifest: None,
            validation: None,
            entropy: None,
            previous_entropy: None,
            source: None,
            bytes: 0,
            seconds: 0.0,
            verdict: Verdict::Error,
            reason: String::new(),
        };
        if let Some(why) = down.reason() {
            file.reason = format!("not attempted: the target stopped answering ({why})");
            return Ok((file, previously_verified));
        }
        let dest = scratch.file_for(index, &entry.path);
        self.progress(|s| s.current_file = Some(shown(&entry.path)));
        let validator = self
            .spec
            .validators
            .iter()
            .find(|v| v.files.matches(&entry.path))
            .map(|v| &v.validator);
        let opts = restore::Options {
            progress: self.progress,
            extra: manifest.as_ref().map(|m| m.algorithm),
            keep: validator.is_some(),
        };
        let restored = restore::restore_with(target, &entry.path, dest.clone(), opts).await;
        self.progress(|s| s.files_done += 1);
        match restored {
            Ok(r) => {
                let canary = (picked == PickReason::Canary)
                    .then(|| self.spec.canaries.iter().find(|c| c.path == entry.path))
                    .flatten();
                let mut j = match canary {
                    Some(c) => expect::judge_canary(entry, &r, &c.blake3, self.run_id, now),
                    None => expect::judge(
                        entry,
                        &r,
                        known.as_ref(),
                        &self.spec.policy,
                        self.run_id,
                        now,
                    ),
                };
                if j.content_mismatch
                    && let Some(k) = &known
                {
                    // Corruption, or a flaky path to the storage? Read it once more.
                    let first = r.streamed.to_hex().to_string();
                    let dest = scratch.file_for(index, &format!("{}.second-read", entry.path));
                    let again = restore::Options {
                        progress: self.progress,
                        ..Default::default()
                    };
                    match restore::restore_with(target, &entry.path, dest, again).await {
                        Ok(second) => {
                            file.second_read_blake3 = Some(second.streamed.to_hex().to_string());
                            file.second_read_bytes = second.bytes;
                            j = expect::judge_second_read(j, &first, &second, k, self.run_id, now);
                        }
                        Err(e) => {
                            j.reason = format!("{}; a second read failed: {e}", j.reason);
                        }
                    }
                }
                if let Some(mut m) = manifest {
                    let blake3 = r.streamed.to_hex().to_string();
                    if let Some(problem) =
                        manifest_check::compare(&mut m, &blake3, r.extra.as_deref())
                    {
                        j.verdict = j.verdict.max(Verdict::Fail);
                        j.reason = format!("{problem}; {}", j.reason);
                        j.record = None;
                    }
                    file.manifest = Some(m);
                }
                if let Some(v) = validator {
                    let checked = validate::validate(&dest, v).await;
                    let _ = tokio::fs::remove_file(&dest).await;
                    if checked.verdict != Verdict::Pass {
                        j.verdict = j.verdict.max(checked.verdict);
                        j.reason =
                            format!("{}: {}; {}", checked.validator, checked.detail, j.reason);
                        j.record = None;
                    }
                    file.validation = Some(checked);
                }
                // A file that changed size while keeping its modification time since the
                // last finished listing is damaged, whatever its restore shows, and never
                // becomes its own baseline.
                if let Some(before) = catalog
                    .inventory(job, tname, &entry.path)?
                    .and_then(|rec| rec.at(committed))
                    && before.modified == entry.modified
                    && before.size != entry.size
                {
                    j.verdict = Verdict::Fail;
                    j.reason = format!(
                        "size changed from {} to {} bytes while its modification time stayed {}: truncation, corruption or tampering",
                        before.size,
                        entry.size,
                        entry.modified.format("%Y-%m-%d %H:%M:%S UTC")
                    );
                    j.record = None;
                }
                // A file an open problem names is not trusted as its own baseline: a
                // truncated file restored again must not become the expected content.
                if picked == PickReason::Recheck
                    && matches!(j.expected, crate::evidence::Expectation::FirstSeen)
                {
                    j.record = None;
                }
                if let Some(rec) = &j.record {
                    catalog.put_file(job, tname, &entry.path, rec)?;
                }
                file.entropy = r.entropy;
                file.previous_entropy = known.as_ref().and_then(|k| k.entropy);
                file.streamed_blake3 = Some(r.streamed.to_hex().to_string());
                file.restored_blake3 = Some(r.on_disk.to_hex().to_string());
                file.bytes = r.bytes;
                file.seconds = r.seconds;
                file.verdict = j.verdict;
                file.reason = j.reason;
                file.expected = j.expected;
            }
            Err(RestoreError::Source { source, bytes }) => {
                file.bytes = bytes;
                if source.kind.is_target_wide() {
                    down.set(&source.message);
                }
                let after = if bytes > 0 {
                    format!(" after {}", human_bytes(bytes))
                } else {
                    String::new()
                };
                (file.verdict, file.reason) = match source.kind {
                    ErrorKind::NotFound => (
                        Verdict::Warn,
                        "vanished between the listing and the restore (pruned while we ran?)"
                            .to_string(),
                    ),
                    k if k.is_target_wide() || k == ErrorKind::PermissionDenied => (
                        Verdict::Error,
                        format!("could not be read{after}, so it is not verified: {source}"),
                    ),
                    _ => (
                        Verdict::Fail,
                        format!("the restore failed{after}: {source}"),
                    ),
                };
            }
            Err(RestoreError::Scratch(e)) => {
                file.verdict = Verdict::Error;
                file.reason = format!("scratch folder problem, the file is not verified: {e}");
            }
        }
        tracing::info!(path = %shown(&file.path), verdict = %file.verdict, "restored");
        Ok((file, previously_verified))
    }

    /// A target that could not be opened or listed: could not verify; its open
    /// problems stay open.
    fn unreachable(&self, location: String, message: &str) -> Result<TargetOutcome, CatalogError> {
        let checks = vec![check(CheckKind::Access, Verdict::Error, message)];
        let observed = findings::collect(&checks, &[], (&Drift::default(), Vec::new()), &[]);
        let mut out = self.conclude(location, checks, observed, None, Vec::new(), None, false)?;
        if out.evidence.verdict == Verdict::Error {
            out.evidence.summary = format!("could not verify: {message}");
        }
        Ok(out)
    }
}

/// In a restic repository, files vanish only through a prune: a vanishing the repository
/// check does not excuse is a proven problem that stays open until the files are back
/// (the next run compares with the shrunken listing, so the repository check alone would
/// pass again); one a permitted prune explains is expected, not a warning.
fn restic_vanishing(
    drift_check: &mut CheckResult,
    drift_findings: &mut Vec<crate::evidence::Finding>,
    gone: Option<(Verdict, String)>,
) {
    use crate::evidence::ProblemKind;
    let vanished = |f: &crate::evidence::Finding| f.kind == ProblemKind::Vanished;
    match gone {
        Some((Verdict::Fail, why)) => {
            for f in drift_findings.iter_mut().filter(|f| vanished(f)) {
                f.verdict = Verdict::Fail;
                f.summary = why.clone();
            }
            drift_check.verdict = drift_check.verdict.max(Verdict::Fail);
        }
        Some((_, why)) => {
            drift_findings.retain(|f| !vanished(f));
            drift_check.verdict =
                Verdict::worst(drift_findings.iter().map(|f| f.verdict)).unwrap_or(Verdict::Pass);
            drift_check.reason = format!("{why}; {}", drift_check.reason);
        }
        None => {}
    }
}

/// Set once a restore fails because the whole target stopped answering (connection lost,
/// timeout, credentials): the remaining files are then not attempted, each of them
/// recorded as not verified, instead of each waiting for its own timeout.
#[derive(Default)]
struct TargetDown(std::sync::OnceLock<String>);

impl TargetDown {
    fn set(&self, why: &str) {
        let _ = self.0.set(why.to_string());
    }

    fn reason(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

fn coverage_check(c: &Coverage, listed: &Listed, policy: &crate::config::Policy) -> CheckResult {
    let inv = &listed.inventory;
    let mut reason = format!(
        "{} of {} files ({}) and {} of {} verified at least once; {} of the files in the last 30 days",
        c.verified_files,
        inv.files,
        percent(c.verified_files, inv.files),
        human_bytes(c.verified_bytes),
        human_bytes(inv.bytes),
        percent(c.verified_files_30d, inv.files),
    );
    let verdict = if c.oversize_files > 0 {
        reason.push_str(&format!(
            "; {} files are larger than sample_bytes ({}) and are only restored when they are the newest: raise sample_bytes",
            c.oversize_files,
            human_bytes(policy.sample_bytes)
        ));
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    check(CheckKind::Coverage, verdict, reason)
}

/// The canary check: every configured canary listed, restored and intact.
fn canary_check(
    canaries: &[(crate::config::Canary, Option<Entry>)],
    files: &[SampledFile],
) -> Option<CheckResult> {
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
        None => check(
            CheckKind::Canary,
            Verdict::Pass,
            format!(
                "{} canar{} present and intact",
                canaries.len(),
                if canaries.len() == 1 { "y" } else { "ies" }
            ),
        ),
        Some(v) => check(
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

/// The restore check: worst file verdict, and never a pass when nothing was restored.
fn restore_check(
    files: &[SampledFile],
    phase_seconds: f64,
    target_bytes: u64,
    budget_note: Option<String>,
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
    };
    let rate = match summary.projected_full_restore_seconds {
        Some(s) => format!(
            " at {throughput:.0} MB/s; a full restore would take about {}",
            human_duration(s)
        ),
        None => String::new(),
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
                "{} files ({}) restored, hashed twice and as expected{rate}",
                ok.len(),
                human_bytes(bytes)
            ),
        )
    } else {
        let first = bad[0];
        (
            worst,
            format!(
                "{} of {} restored files {}: {}: {}; {} files ({}) as expected{rate}",
                bad.len(),
                files.len(),
                match worst {
                    Verdict::Fail => "failed",
                    Verdict::Error => "could not be verified",
                    _ => "need attention",
                },
                shown(&first.path),
                first.reason,
                ok.iter().filter(|f| f.verdict == Verdict::Pass).count(),
                human_bytes(bytes)
            ),
        )
    };
    // Files restored, but the budget kept the newest one out: not a full pass.
    let (verdict, reason) = match budget_note {
        Some(note) if !ok.is_empty() => (verdict.max(Verdict::Warn), format!("{reason}; {note}")),
        _ => (verdict, reason),
    };
    (check(CheckKind::Restore, verdict, reason), Some(summary))
}

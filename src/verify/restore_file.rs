//! The per-file restore check: one sampled file restored (BLAKE3 while it streams; with
//! `restore = "disk"` also written, flushed and hashed again from the disk), judged
//! against what was expected of it (its baseline, a canary's hash, a manifest, a
//! validator), read a second time on a mismatch, and recorded as the new baseline when it
//! verified.

use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, CatalogError};
use crate::evidence::{ManifestMatch, PickReason, SampledFile, Verdict};
use crate::format::{human_bytes, shown};
use crate::scratch::ScratchDir;
use crate::storage::{Entry, ErrorKind, Target};

use super::checks::manifest as manifest_check;
use super::expect::{self, expectation};
use super::restore::{self, RestoreError};
use super::target_run::TargetRun;
use super::validate;

/// One file to restore, and where.
pub(super) struct RestoreFile<'a> {
    pub target: &'a dyn Target,
    pub scratch: &'a ScratchDir,
    /// Set when the whole target stopped answering: then the file is not attempted.
    pub down: &'a TargetDown,
    /// Position in the sample, to keep scratch files apart.
    pub index: usize,
    pub entry: Entry,
    pub picked: PickReason,
    /// What a manifest (or the repository's naming) says its content must be.
    pub manifest: Option<ManifestMatch>,
    /// The generation of the committed listing (what "changed size" compares with).
    pub committed: Option<u64>,
    pub now: DateTime<Utc>,
}

/// A restored and judged file.
pub(super) struct RestoredFile {
    pub file: SampledFile,
    /// When its current version had last been verified before this run.
    pub previously_verified: Option<DateTime<Utc>>,
}

impl TargetRun<'_> {
    /// Restores and judges one sampled file.
    pub(super) async fn restore_one(
        &self,
        args: RestoreFile<'_>,
    ) -> Result<RestoredFile, CatalogError> {
        let RestoreFile {
            target,
            scratch,
            down,
            index,
            entry,
            picked,
            manifest,
            committed,
            now,
        } = args;
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
            read_back: None,
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
            return Ok(RestoredFile {
                file,
                previously_verified,
            });
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
            mode: self.spec.policy.restore,
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
                        mode: self.spec.policy.restore,
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
                file.restored_blake3 = r.on_disk.map(|h| h.to_hex().to_string());
                file.read_back = r.read_back;
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
        Ok(RestoredFile {
            file,
            previously_verified,
        })
    }
}

/// Set once a restore fails because the whole target stopped answering (connection lost,
/// timeout, credentials): the remaining files are then not attempted, each of them
/// recorded as not verified, instead of each waiting for its own timeout.
#[derive(Default)]
pub(super) struct TargetDown(std::sync::OnceLock<String>);

impl TargetDown {
    pub(super) fn set(&self, why: &str) {
        let _ = self.0.set(why.to_string());
    }

    pub(super) fn reason(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

//! The listing pass: one streaming walk over a target that takes the inventory, tallies
//! drift and coverage against the catalog, and feeds the sampler. Entries are handled in
//! chunks on the blocking pool (catalog look-ups and writes); memory holds one chunk, the
//! sample and the capped lists of the evidence, never the whole listing.

use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::catalog::{
    Catalog, CatalogError, Cursor, FileRecord, InventoryCursor, InventoryRecord, InventoryWriter,
    ProblemFile, RECORD_SCHEMA, Seen, Swept, TargetState, Update,
};
use crate::config::{Canary, Format, Policy};
use crate::evidence::{Coverage, Drift, FileRef, Inventory};
use crate::storage::{Entry, ErrorKind, Target, TargetError};

use super::checks::drift::DriftTally;
use super::sample::{Sample, Sampler};

const CHUNK: usize = 1024;
const RECENT_DAYS: i64 = 30;

/// What the listing pass found.
#[derive(Debug)]
pub struct Listed {
    pub inventory: Inventory,
    pub drift: Drift,
    pub coverage: Coverage,
    pub sample: Sample,
    /// Each configured canary, with its listing entry if it was found.
    pub canaries: Vec<(Canary, Option<Entry>)>,
    /// Checksum manifests found (at most [`MAX_MANIFESTS`]), and how many more there were.
    pub manifests: Vec<Entry>,
    pub manifests_left_out: u64,
    /// The generation of this listing in the catalog's inventory, and of the committed
    /// listing it was compared with.
    pub generation: u64,
    pub committed: Option<u64>,
    /// This listing's totals, to become the committed listing when the run finishes.
    pub state: TargetState,
    /// Vanished files that were not expected to go (for the open problem).
    pub unexpected: Vec<(String, ProblemFile)>,
    /// Files of open problems found in the listing, to restore again.
    pub recheck: Vec<Entry>,
    /// For a restic repository: its shape and newest snapshot and index.
    pub restic: Option<super::checks::repository::Listing>,
}

/// Manifests read per target and run.
pub const MAX_MANIFESTS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The catalog's inventory of the target was damaged (and the damage dropped).
    #[error("{0}")]
    Damaged(String),
}

/// What the listing looks out for besides backup files.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub canaries: Vec<Canary>,
    pub format: Format,
    /// Files that open problems name (corrupt, failed to restore): restored again.
    pub recheck: std::collections::HashSet<String>,
}

/// Identifies the target being listed in the catalog.
#[derive(Debug, Clone)]
pub struct Scope {
    pub job: String,
    pub target: String,
    pub run_id: String,
}

struct Pass {
    scope: Scope,
    /// The target's inventory records and baselines, merged with the listing in path
    /// order: no look-up per file, and only the chunks that changed are written.
    inventory: InventoryCursor,
    baselines: Cursor<FileRecord>,
    /// The last path listed, to check the order.
    last: Option<String>,
    /// The inventory this listing writes, and what changed in it.
    writes: Writes,
    policy: Policy,
    generation: u64,
    now: DateTime<Utc>,
    sampler: Sampler,
    drift: DriftTally,
    coverage: Coverage,
    files: u64,
    bytes: u64,
    excluded: u64,
    newest: Option<FileRef>,
    canaries: Vec<Canary>,
    /// Canaries seen in the listing.
    found: Vec<Entry>,
    recheck: std::collections::HashSet<String>,
    recheck_found: Vec<Entry>,
    manifests: Vec<Entry>,
    manifests_left_out: u64,
    restic: Option<super::checks::repository::Listing>,
}

impl Pass {
    fn take(&mut self, chunk: Vec<Entry>) -> Result<(), ListError> {
        for entry in chunk {
            if let Some(last) = &self.last
                && *last >= entry.path
            {
                return Err(ListError::Target(TargetError::new(
                    ErrorKind::Other,
                    format!(
                        "the listing gave `{}` after `{last}`: it must come in path order to be compared with the catalog",
                        entry.path
                    ),
                )));
            }
            // Kept in one buffer: no allocation per listed file.
            match &mut self.last {
                Some(last) => last.clone_from(&entry.path),
                None => self.last = Some(entry.path.clone()),
            }
            // Canaries are restored whatever include/exclude say.
            let canary = self.canaries.iter().any(|c| c.path == entry.path);
            if canary {
                self.found.push(entry.clone());
            }
            let transient =
                self.restic.is_some() && super::checks::repository::transient(&entry.path);
            if transient || !self.policy.filter.matches(&entry.path) {
                self.excluded += 1;
                continue;
            }
            self.files += 1;
            self.bytes += entry.size;
            if let Some(r) = self.restic.as_mut() {
                r.see(&entry);
            }
            if self
                .newest
                .as_ref()
                .is_none_or(|n| (entry.modified, &entry.path) > (n.modified, &n.path))
            {
                self.newest = Some(FileRef {
                    path: entry.path.clone(),
                    size: entry.size,
                    modified: entry.modified,
                });
            }

            let (committed, generation) = (self.drift.committed(), self.generation);
            let (drift, writes) = (&mut self.drift, &mut self.writes);
            let record = self.inventory.until(Some(&entry.path), |path, rec| {
                unlisted(drift, writes, committed, generation, path, rec)
            })?;
            let before = record.as_ref().and_then(|r| r.at(committed));
            self.drift.seen(&entry, before);
            let now = Seen {
                generation,
                size: entry.size,
                modified: entry.modified,
            };
            self.drift
                .swept(&entry.path, Swept::Present { now, before });

            // Coverage counts a file only if its current version was verified.
            let verified_at = self
                .baselines
                .seek(&entry.path)?
                .filter(|r| r.modified == entry.modified && r.size == entry.size)
                .map(|r| r.verified_at);
            if let Some(at) = verified_at {
                self.coverage.verified_files += 1;
                self.coverage.verified_bytes += entry.size;
                if self.now.signed_duration_since(at).num_days() < RECENT_DAYS {
                    self.coverage.verified_files_30d += 1;
                    self.coverage.verified_bytes_30d += entry.size;
                }
            }
            if self
                .policy
                .manifests
                .as_ref()
                .is_some_and(|m| m.matches(&entry.path))
            {
                if self.manifests.len() < MAX_MANIFESTS {
                    self.manifests.push(entry.clone());
                } else {
                    self.manifests_left_out += 1;
                }
            }
            if canary {
                // Restored as a canary on every run, never as a sample.
            } else if self.recheck.contains(&entry.path) {
                self.recheck_found.push(entry.clone());
            } else {
                self.sampler.offer(&entry, verified_at);
            }

            let now = Some((entry.size, entry.modified));
            let update = InventoryRecord::update(record.as_ref(), committed, generation, now);
            self.writes.push(entry.path, record.as_ref(), update)?;
        }
        Ok(())
    }

    /// After a complete listing: finds what vanished (the records after the last listed
    /// path) and records the new totals.
    fn complete(mut self, list_seconds: f64) -> Result<Listed, CatalogError> {
        let (committed, generation) = (self.drift.committed(), self.generation);
        let (drift, writes) = (&mut self.drift, &mut self.writes);
        self.inventory.until(None, |path, rec| {
            unlisted(drift, writes, committed, generation, path, rec)
        })?;
        let Writes {
            writer,
            written,
            removed,
        } = self.writes;
        let chunks = writer.finish()?;
        tracing::info!(
            files = self.files,
            records_written = written,
            records_removed = removed,
            chunks_written = chunks,
            "inventory recorded"
        );
        let run_id = &self.scope.run_id;
        let state = TargetState {
            v: RECORD_SCHEMA,
            run_id: run_id.clone(),
            at: self.now,
            generation: self.generation,
            files: self.files,
            bytes: self.bytes,
        };
        let sample = self.sampler.finish();
        self.coverage.oversize_files = sample.oversize;
        let canaries = self
            .canaries
            .iter()
            .map(|c| {
                (
                    c.clone(),
                    self.found.iter().find(|e| e.path == c.path).cloned(),
                )
            })
            .collect();
        let outcome = self.drift.finish();
        Ok(Listed {
            inventory: Inventory {
                files: self.files,
                bytes: self.bytes,
                excluded: self.excluded,
                skipped: 0,
                skipped_entries: Vec::new(),
                newest: self.newest,
                list_seconds,
            },
            drift: outcome.drift,
            unexpected: outcome.unexpected,
            coverage: self.coverage,
            sample,
            canaries,
            manifests: self.manifests,
            manifests_left_out: self.manifests_left_out,
            generation: self.generation,
            committed,
            state,
            recheck: self.recheck_found,
            restic: self.restic,
        })
    }
}

/// The inventory a listing writes: every record it keeps goes to the writer in path
/// order (the writer writes only the chunks that changed), with counts of the records
/// that changed.
struct Writes {
    writer: InventoryWriter,
    written: u64,
    removed: u64,
}

impl Writes {
    fn push(
        &mut self,
        path: String,
        previous: Option<&InventoryRecord>,
        update: Update,
    ) -> Result<(), CatalogError> {
        match update {
            Update::Keep => match previous {
                Some(rec) => self.writer.push(path, *rec),
                None => Ok(()),
            },
            Update::Write(rec) => {
                self.written += 1;
                self.writer.push(path, rec)
            }
            Update::Delete => {
                self.removed += 1;
                Ok(())
            }
        }
    }
}

/// A record of a file the listing did not have: the drift hears of it if the committed
/// listing had it, and the record says it is gone (or goes).
fn unlisted(
    drift: &mut DriftTally,
    writes: &mut Writes,
    committed: Option<u64>,
    generation: u64,
    path: String,
    rec: InventoryRecord,
) -> Result<(), CatalogError> {
    let before = rec.at(committed);
    if let Some(before) = before {
        drift.swept(&path, Swept::Vanished { before });
    }
    let update = InventoryRecord::update(Some(&rec), committed, generation, None);
    writes.push(path, Some(&rec), update)
}

/// Lists `target` completely. Any listing error aborts the pass: a partial listing is
/// never judged (the target gets an error verdict instead).
///
/// A damaged part of the catalog's inventory of the target (a chunk file missing or not
/// matching its id) makes the listing fail the same way, and is dropped from the catalog
/// (noted in the job's history): the next listing compares what is left, and the files
/// the dropped part held are new to it.
pub async fn list(
    target: &dyn Target,
    catalog: &Catalog,
    scope: Scope,
    policy: &Policy,
    extras: Extras,
    sampler: Sampler,
    now: DateTime<Utc>,
) -> Result<Listed, ListError> {
    let (job, name) = (scope.job.clone(), scope.target.clone());
    let detail = match pass(target, catalog, scope, policy, extras, sampler, now).await {
        Err(ListError::Catalog(CatalogError::InventoryDamaged { detail, .. })) => detail,
        done => return done,
    };
    let c = catalog.clone();
    let dropped = tokio::task::spawn_blocking(move || {
        let dropped = c.drop_damaged_inventory(&job, &name)?;
        if !dropped.is_empty() {
            let more = match dropped.len().saturating_sub(5) {
                0 => String::new(),
                n => format!("; and {n} more"),
            };
            c.note(
                &job,
                &format!(
                    "the inventory of target `{name}` was damaged ({}{more}); the damaged part was dropped, so the files it held are compared as new by the next listing",
                    dropped[..dropped.len().min(5)].join("; ")
                ),
            )?;
        }
        Ok::<_, CatalogError>(dropped.len())
    })
    .await
    .map_err(|e| {
        ListError::Target(TargetError::new(
            ErrorKind::Other,
            format!("the catalog's record of this target is damaged ({detail}), and dropping it failed: {e}"),
        ))
    })??;
    Err(ListError::Damaged(if dropped == 0 {
        // Read again, every chunk was whole: nothing dropped, nothing to say it was.
        format!(
            "the catalog's record of this target's last listing could not be read: {detail}; read again, it was whole, so nothing was dropped"
        )
    } else {
        format!(
            "the catalog's record of this target's last listing is damaged: {detail}. It was dropped ({}): the next run compares the files it held as new, so it cannot tell whether they changed or vanished",
            crate::format::plural(dropped as u64, "damaged chunk")
        )
    }))
}

/// One listing pass (see [`list`]).
async fn pass(
    target: &dyn Target,
    catalog: &Catalog,
    scope: Scope,
    policy: &Policy,
    extras: Extras,
    sampler: Sampler,
    now: DateTime<Utc>,
) -> Result<Listed, ListError> {
    let started = Instant::now();
    let previous = catalog.target_state(&scope.job, &scope.target)?;
    // When the previous listing began: restic index files written since are new.
    let since = previous.as_ref().map(|p| p.at);
    // A catalog of an older backproof keeps a record per file: converted first, once.
    let (c, job, name) = (catalog.clone(), scope.job.clone(), scope.target.clone());
    let writer = tokio::task::spawn_blocking(move || {
        c.chunk_inventory(&job, &name)?;
        c.inventory_writer(&job, &name)
    })
    .await
    .map_err(task_failed)??;
    let mut pass = Pass {
        inventory: catalog.inventory_cursor(&scope.job, &scope.target),
        baselines: catalog.files_cursor(&scope.job, &scope.target),
        last: None,
        writes: Writes {
            writer,
            written: 0,
            removed: 0,
        },
        generation: catalog.next_generation()?,
        sampler,
        drift: DriftTally::new(previous, policy.immutable.clone(), policy.retention, now),
        canaries: extras.canaries,
        found: Vec::new(),
        recheck: extras.recheck,
        recheck_found: Vec::new(),
        manifests: Vec::new(),
        manifests_left_out: 0,
        restic: (extras.format == Format::Restic)
            .then(|| super::checks::repository::Listing::since(since)),
        scope,
        policy: policy.clone(),
        now,
        coverage: Coverage::default(),
        files: 0,
        bytes: 0,
        excluded: 0,
        newest: None,
    };
    // The listing runs ahead in its own task while the catalog work of the previous
    // chunk is done; the channel bounds how far ahead it gets.
    let (tx, rx) = tokio::sync::mpsc::channel(2 * CHUNK);
    let mut listing = target.list();
    let lister = tokio::spawn(async move {
        while let Some(item) = listing.next().await {
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    let _stop_lister = AbortOnDrop(lister);
    let mut chunks = tokio_stream::wrappers::ReceiverStream::new(rx).ready_chunks(CHUNK);
    while let Some(chunk) = chunks.next().await {
        let entries = chunk
            .into_iter()
            .collect::<Result<Vec<Entry>, TargetError>>()?;
        pass = tokio::task::spawn_blocking(move || pass.take(entries).map(|()| pass))
            .await
            .map_err(task_failed)??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let skipped = target.skipped();
    let mut listed = tokio::task::spawn_blocking(move || pass.complete(seconds))
        .await
        .map_err(task_failed)??;
    listed.inventory.skipped = skipped.count;
    listed.inventory.skipped_entries = skipped
        .entries
        .into_iter()
        .map(|(path, reason)| crate::evidence::SkippedEntry { path, reason })
        .collect();
    Ok(listed)
}

/// A listing task that panicked: this target could not be verified (the run goes on).
fn task_failed(e: tokio::task::JoinError) -> ListError {
    ListError::Target(TargetError::new(
        ErrorKind::Other,
        format!("the listing task failed: {e}"),
    ))
}

/// Stops a spawned task when its owner goes away (an error or a cancelled run).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

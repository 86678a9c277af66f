//! restic repositories verified with their password (keyed mode), with rustic_core (the
//! Rust implementation of the restic repository format) over our own [`Target`].
//!
//! Three proofs, as `restic check` gives them and then some:
//! 1. every pack the index lists exists with the size the index gives;
//! 2. every snapshot's trees resolve (each tree blob indexed, read and decrypted), and
//!    every file's content blobs are in the index;
//! 3. a sample of real files of the newest snapshot is restored, each content blob
//!    checked against its id (the SHA-256 of its plaintext) and the file hashed with
//!    BLAKE3 as it streams; with `restore = "disk"` it is also written to the scratch
//!    folder, synced and read back past the page cache, as other targets' files are.
//!
//! Memory: the index is held once (rustic's in-memory index); index files are streamed
//! one by one for the pack check; file contents go blob by blob.
//! The password never leaves [`Secret`]: it is in no message, log or evidence field.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::DateTime;
use rand::{Rng, SeedableRng};
use rustic_core::repofile::{BlobType, IndexFile, Node, SnapshotFile};
use rustic_core::{
    BlobId, Credentials, FileType, IndexedFull, Open, ReadBackend, Repository, RepositoryBackends,
    RepositoryOptions, RusticError, TreeId,
};
use sha2::{Digest, Sha256};

use crate::config::{RestoreMode, Secret};
use crate::evidence::{
    CheckResult, KeyedRepository, PackSize, ReadBack, RestoredFile, SnapshotRef, Verdict,
};
use crate::format::{human_bytes, shown};
use crate::scratch::safe_file_name;
use crate::storage::{ErrorKind, Target};

use super::restic_backend::{ANSWER_DEADLINE, TargetBackend, path_of, target_error};

/// How many names of a kind the evidence lists; the counts are always complete.
const LIST_LIMIT: usize = 100;

/// What keyed mode may do in one run.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// Files of the newest snapshot to restore, and their bytes at most.
    pub sample_files: u64,
    pub sample_bytes: u64,
    /// Folder the sampled files are written to and read back from ([`RestoreMode::Disk`]);
    /// none: they are only streamed and hashed ([`RestoreMode::Stream`]).
    pub scratch: Option<PathBuf>,
}

/// Verifies the repository on `target` with `password`. Never fails: what could not be
/// verified is an error verdict in the result.
pub async fn verify(target: Arc<dyn Target>, password: Secret, opts: Options) -> KeyedRepository {
    let started = Instant::now();
    let backend = Arc::new(TargetBackend::new(
        target,
        tokio::runtime::Handle::current(),
        ANSWER_DEADLINE,
    ));
    // Stops the blocking work if this future is dropped (a stopped run).
    let _stop = StopOnDrop(backend.stopped.clone());
    let be = backend.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut found = KeyedRepository::default();
        let outcome = Keyed {
            backend: &be,
            found: &mut found,
        }
        .run(&password, &opts);
        (found, outcome)
    })
    .await;
    let (mut found, outcome) = match joined {
        Ok(r) => r,
        Err(e) => (
            KeyedRepository::default(),
            Err(format!("keyed check task failed: {e}")),
        ),
    };
    found.read_bytes = backend.read_bytes.load(Ordering::Relaxed);
    found.seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(()) => judge(&mut found),
        Err(why) => {
            found.verdict = Verdict::Error;
            found.reason = format!("could not verify with the password: {why}");
        }
    }
    found
}

struct StopOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The keyed check's work on the blocking thread. `Err` is "could not verify", with why.
struct Keyed<'a> {
    backend: &'a Arc<TargetBackend>,
    found: &'a mut KeyedRepository,
}

impl Keyed<'_> {
    fn run(&mut self, password: &Secret, opts: &Options) -> Result<(), String> {
        let backends = RepositoryBackends::new(self.backend.clone(), None);
        let repo = Repository::new(&RepositoryOptions::default().no_cache(true), &backends)
            .map_err(|e| self.why(&e))?;
        let repo = repo
            .open(&Credentials::password(password.expose()))
            .map_err(|e| {
                if e.is_incorrect_password() {
                    "the password does not open the repository (no key matches it)".to_string()
                } else {
                    format!("the repository could not be opened: {}", self.why(&e))
                }
            })?;
        self.packs(&repo)?;
        let snapshots = self.snapshots(&repo)?;
        let repo = match repo.to_indexed() {
            Ok(r) => r,
            // A damaged index file is already a finding; without a full index the trees
            // cannot be walked, and the report says that none were.
            Err(_) if self.found.unreadable_files > 0 => return Ok(()),
            Err(e) => return Err(self.why(&e)),
        };
        let sample = self.trees(&repo, &snapshots, opts)?;
        self.restore(&repo, sample, opts.scratch.as_deref())
    }

    /// Why a rustic operation failed, in plain words: the target's own message when the
    /// target failed, else rustic's.
    fn why(&self, e: &RusticError) -> String {
        match target_error(e) {
            Some(t) => t.message.clone(),
            None => plain(e),
        }
    }

    /// Stops when the target went down: what follows would not be a finding.
    fn still_up(&self) -> Result<(), String> {
        match self.backend.down() {
            Some(e) => Err(format!("the target stopped answering: {e}")),
            None if self.backend.stopped.load(Ordering::Relaxed) => {
                Err("the run was stopped".into())
            }
            None => Ok(()),
        }
    }

    /// Every pack the index lists exists with its size. Index files are streamed.
    fn packs<S: Open>(&mut self, repo: &Repository<S>) -> Result<(), String> {
        let listed = self
            .backend
            .list_with_size(FileType::Pack)
            .map_err(|e| format!("listing the packs failed: {}", self.why(&e)))?;
        // Pack id -> (size, seen in an index).
        let mut packs: HashMap<rustic_core::Id, (u32, bool)> = listed
            .into_iter()
            .map(|(id, size)| (id, (size, false)))
            .collect();
        let index_files = repo.stream_files::<IndexFile>().map_err(|e| self.why(&e))?;
        for item in index_files {
            self.still_up()?;
            let index = match item {
                Ok((_, index)) => index,
                Err(e) => {
                    let why = self.why(&e);
                    self.unreadable(format!("an index file: {why}"));
                    continue;
                }
            };
            self.found.index_files += 1;
            for pack in &index.packs {
                let want = pack.pack_size();
                let path = path_of(FileType::Pack, &pack.id);
                match packs.get_mut(&*pack.id) {
                    Some((_, true)) => {} // listed by an earlier index file too
                    Some((size, seen)) => {
                        *seen = true;
                        self.found.packs_indexed += 1;
                        if *size == want {
                            self.found.packs_ok += 1;
                        } else {
                            self.found.wrong_size_packs += 1;
                            if self.found.wrong_size.len() < LIST_LIMIT {
                                self.found.wrong_size.push(PackSize {
                                    path,
                                    index_size: want,
                                    size: *size,
                                });
                            }
                        }
                    }
                    None => {
                        self.found.packs_indexed += 1;
                        self.found.missing_packs += 1;
                        if self.found.missing.len() < LIST_LIMIT {
                            self.found.missing.push(path);
                        }
                        // Counted once even if another index file lists it again.
                        let _ = packs.insert(*pack.id, (want, true));
                    }
                }
            }
        }
        self.still_up()?;
        self.found.unindexed_packs = packs.values().filter(|(_, seen)| !seen).count() as u64;
        Ok(())
    }

    fn unreadable(&mut self, what: String) {
        self.found.unreadable_files += 1;
        if self.found.unreadable.len() < LIST_LIMIT {
            self.found.unreadable.push(what);
        }
    }

    /// The snapshots, newest first; an unreadable snapshot file is a finding.
    fn snapshots<S: Open>(&mut self, repo: &Repository<S>) -> Result<Vec<SnapshotFile>, String> {
        let mut out = Vec::new();
        for item in repo
            .stream_files::<SnapshotFile>()
            .map_err(|e| self.why(&e))?
        {
            self.still_up()?;
            match item {
                Ok((id, mut snap)) => {
                    snap.id = id;
                    out.push(snap);
                }
                Err(e) => {
                    let why = self.why(&e);
                    self.unreadable(format!("a snapshot file: {why}"));
                }
            }
        }
        self.still_up()?;
        out.sort_by_key(|s| std::cmp::Reverse(s.time.timestamp()));
        self.found.snapshots = out.len() as u64;
        self.found.newest_snapshot = out.first().map(|s| SnapshotRef {
            id: s.id.to_hex().as_str().to_string(),
            time: DateTime::from_timestamp(
                s.time.timestamp().as_second(),
                s.time.timestamp().subsec_nanosecond().max(0) as u32,
            ),
            hostname: s.hostname.clone(),
            paths: s.paths.iter().map(ToString::to_string).collect(),
        });
        Ok(out)
    }

    /// Walks every snapshot's trees (each distinct tree once), checks that file contents
    /// are indexed, and draws the sample from the newest snapshot's files.
    fn trees<S: IndexedFull>(
        &mut self,
        repo: &Repository<S>,
        snapshots: &[SnapshotFile],
        opts: &Options,
    ) -> Result<Vec<(String, Node)>, String> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
        let mut sample: Vec<(String, Node)> = Vec::new();
        let mut offered = 0u64;
        let mut visited: HashSet<TreeId> = HashSet::new();
        for (n, snap) in snapshots.iter().enumerate() {
            let newest = n == 0;
            let short = snap.id.to_string(); // the first 8 hex digits
            let mut stack = vec![(snap.tree, String::new())];
            while let Some((id, dir)) = stack.pop() {
                if !visited.insert(id) {
                    continue;
                }
                let tree = match repo.get_tree(&id) {
                    Ok(t) => t,
                    Err(e) => {
                        self.still_up()?;
                        let why = self.why(&e);
                        self.found.unresolved_trees += 1;
                        if self.found.unresolved.len() < LIST_LIMIT {
                            let at = if dir.is_empty() { "/" } else { &dir };
                            self.found
                                .unresolved
                                .push(format!("snapshot {short}, {at}: {why}"));
                        }
                        continue;
                    }
                };
                self.found.trees += 1;
                for node in tree.nodes {
                    let path = format!("{dir}/{}", node.name().to_string_lossy());
                    if let Some(sub) = node.subtree {
                        stack.push((sub, path));
                        continue;
                    }
                    if !node.is_file() {
                        continue;
                    }
                    let content = node.content.as_deref().unwrap_or_default();
                    let missing = content
                        .iter()
                        .filter(|b| repo.get_index_entry(*b).is_err())
                        .count() as u64;
                    if missing > 0 {
                        self.found.missing_blobs += missing;
                        if self.found.files_with_missing_blobs.len() < LIST_LIMIT {
                            self.found
                                .files_with_missing_blobs
                                .push(format!("snapshot {short}, {path}"));
                        }
                    }
                    let size = node.meta.size;
                    if newest && size > 0 && size <= opts.sample_bytes && opts.sample_files > 0 {
                        // Reservoir sampling: every file equally likely, memory bounded.
                        offered += 1;
                        if (sample.len() as u64) < opts.sample_files {
                            sample.push((path, node));
                        } else {
                            let j = rng.random_range(0..offered);
                            if j < opts.sample_files {
                                sample[j as usize] = (path, node);
                            }
                        }
                    }
                }
            }
        }
        self.still_up()?;
        sample.sort_by(|a, b| a.0.cmp(&b.0));
        // The budget is for the whole sample, not each file: files that would take it over
        // are left out.
        let mut total = 0u64;
        sample.retain(|(_, node)| {
            let fits = total.saturating_add(node.meta.size) <= opts.sample_bytes;
            if fits {
                total += node.meta.size;
            }
            fits
        });
        Ok(sample)
    }

    /// Restores the sampled files (written into `scratch` and read back, if given).
    fn restore<S: IndexedFull + Sync>(
        &mut self,
        repo: &Repository<S>,
        sample: Vec<(String, Node)>,
        scratch: Option<&Path>,
    ) -> Result<(), String> {
        if !sample.is_empty() {
            self.found.mode = Some(match scratch {
                Some(_) => RestoreMode::Disk,
                None => RestoreMode::Stream,
            });
        }
        for (i, (path, node)) in sample.into_iter().enumerate() {
            self.still_up()?;
            let dest = scratch.map(|s| s.join(safe_file_name(i, &path)));
            let file = restore_file(repo, &path, &node, dest.as_deref(), |e| self.why(e));
            if let Some(dest) = dest {
                let _ = std::fs::remove_file(&dest);
            }
            self.still_up()?;
            self.found.restored.push(file);
        }
        Ok(())
    }
}

/// Restores one file blob by blob: each blob checked against its id, BLAKE3 while
/// streaming; with a `dest`, also written there, synced and hashed again as read back.
fn restore_file<S: IndexedFull + Sync>(
    repo: &Repository<S>,
    path: &str,
    node: &Node,
    dest: Option<&Path>,
    why: impl Fn(&RusticError) -> String,
) -> RestoredFile {
    let mut file = RestoredFile {
        path: path.to_string(),
        size: node.meta.size,
        bytes: 0,
        blake3: None,
        read_back: None,
        verdict: Verdict::Fail,
        reason: String::new(),
    };
    let scratch_problem =
        |e: std::io::Error| format!("scratch folder problem, the file is not verified: {e}");
    let mut out = match dest.map(std::fs::File::create).transpose() {
        Ok(f) => f.map(std::io::BufWriter::new),
        Err(e) => {
            file.verdict = Verdict::Error;
            file.reason = scratch_problem(e);
            return file;
        }
    };
    let mut hasher = blake3::Hasher::new();
    let ids = node.content.as_deref().unwrap_or_default();
    let blobs: Vec<BlobId> = ids.iter().map(|id| BlobId::from(**id)).collect();
    let mut stopped = false;
    let failed = each_blob(repo, &blobs, |data| {
        hasher.update(&data);
        file.bytes += data.len() as u64;
        if let Some(Err(e)) = out.as_mut().map(|o| o.write_all(&data)) {
            file.verdict = Verdict::Error;
            file.reason = scratch_problem(e);
            stopped = true;
            return false;
        }
        true
    });
    match failed {
        None => {}
        Some((i, Stop::Mismatch)) => {
            file.reason = format!(
                "content blob {} does not match its id: the pack is damaged",
                blobs[i].to_hex().as_str()
            );
            return file;
        }
        Some((i, Stop::Lost)) => {
            file.verdict = Verdict::Error;
            file.reason = format!(
                "content blob {} was not handed over: its reading thread stopped",
                blobs[i].to_hex().as_str()
            );
            return file;
        }
        Some((i, Stop::Failed(e))) => {
            let t = target_error(&e);
            file.verdict = match t.map(|t| t.kind) {
                Some(k) if k.is_target_wide() || k == ErrorKind::PermissionDenied => Verdict::Error,
                _ => Verdict::Fail,
            };
            file.reason = match t {
                Some(t) if t.kind == ErrorKind::NotFound => {
                    format!("a pack holding its content is missing: {}", t.message)
                }
                _ => format!(
                    "content blob {} could not be restored: {}",
                    blobs[i].to_hex().as_str(),
                    why(&e)
                ),
            };
            return file;
        }
    }
    if stopped {
        return file;
    }
    let streamed = hasher.finalize();
    if let (Some(out), Some(dest)) = (out, dest) {
        let synced = out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_data());
        if let Err(e) = synced {
            file.verdict = Verdict::Error;
            file.reason = scratch_problem(e);
            return file;
        }
        match super::restore::read_back(dest, RestoreMode::Disk) {
            Ok((on_disk, _, how)) if on_disk == streamed => file.read_back = Some(how),
            Ok(_) => {
                file.verdict = Verdict::Error;
                file.reason = "the restored copy on the scratch disk differs from what streamed: scratch disk problem, not verified".into();
                return file;
            }
            Err(e) => {
                file.verdict = Verdict::Error;
                file.reason = format!("the restored copy could not be read back: {e}");
                return file;
            }
        }
    }
    if file.bytes != node.meta.size {
        file.reason = format!(
            "restored {} bytes, the snapshot gives {}",
            file.bytes, node.meta.size
        );
        return file;
    }
    file.blake3 = Some(streamed.to_hex().to_string());
    file.verdict = Verdict::Pass;
    file.reason = format!(
        "restored ({}), every content blob matching its id{}",
        human_bytes(file.bytes),
        match file.read_back {
            None => "",
            Some(ReadBack::Disk) => "; its copy read back from the scratch disk matches",
            Some(ReadBack::Cache) => {
                "; its copy read back through the page cache matches (the scratch file system refused direct reads)"
            }
        }
    );
    file
}

/// Threads that read, decrypt and check blobs for [`each_blob`].
const FETCHERS: usize = 2;

/// Why [`each_blob`] stopped before the end.
enum Stop {
    /// The blob's plaintext does not match its id (SHA-256).
    Mismatch,
    /// The blob could not be read or decrypted.
    Failed(Box<RusticError>),
    /// Its thread ended without handing it over (it panicked).
    Lost,
}

/// Calls `each` with the plaintext of the blobs `blobs`, in order, each checked against
/// its id first. [`FETCHERS`] threads take turns reading, decrypting and checking them,
/// each one blob ahead, while `each` hashes and writes (2 cores kept busy). Stops when
/// `each` says so, or at the first blob that is wrong or could not be read, returned
/// with its index. Memory: a blob per fetcher, the one `each` has, and rustic's blob cache
/// (at most 32 MB) for the blobs `blobs` holds more than once.
fn each_blob<S: IndexedFull + Sync>(
    repo: &Repository<S>,
    blobs: &[BlobId],
    mut each: impl FnMut(bytes::Bytes) -> bool,
) -> Option<(usize, Stop)> {
    // A blob the file holds more than once (zero-filled stretches of a disk image) goes
    // through rustic's blob cache, so it is downloaded once; every other blob is read past
    // the cache (32 MB), which would only hold blobs never asked for again.
    let mut seen = HashSet::with_capacity(blobs.len());
    let repeated: HashSet<&BlobId> = blobs.iter().filter(|b| !seen.insert(*b)).collect();
    let repeated = &repeated;
    std::thread::scope(|scope| {
        let mut turns = Vec::with_capacity(FETCHERS);
        for first in 0..FETCHERS {
            // No room in the channel: a blob is handed over when `each` takes it.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<bytes::Bytes, Stop>>(0);
            turns.push(rx);
            scope.spawn(move || {
                for blob in blobs.iter().skip(first).step_by(FETCHERS) {
                    let read = if repeated.contains(blob) {
                        repo.get_blob_cached(blob, BlobType::Data)
                    } else {
                        repo.cat_blob(BlobType::Data, (**blob).to_hex().as_str())
                    };
                    let got = match read {
                        Ok(data)
                            if rustic_core::Id::new(Sha256::digest(&data).into()) == **blob =>
                        {
                            Ok(data)
                        }
                        Ok(_) => Err(Stop::Mismatch),
                        Err(e) => Err(Stop::Failed(e)),
                    };
                    let failed = got.is_err();
                    // The receiver is gone when `each` stopped: nothing more to read.
                    if tx.send(got).is_err() || failed {
                        return;
                    }
                }
            });
        }
        for i in 0..blobs.len() {
            match turns[i % FETCHERS].recv() {
                Ok(Ok(data)) => {
                    if !each(data) {
                        return None;
                    }
                }
                Ok(Err(stop)) => return Some((i, stop)),
                Err(_) => return Some((i, Stop::Lost)),
            }
        }
        None
    })
}

/// A rustic error and its causes in one line: each one's message, without rustic's
/// help texts, context dumps or backtraces.
fn plain(e: &RusticError) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        // rustic keeps a cause that is itself a rustic error boxed.
        let rustic = err
            .downcast_ref::<RusticError>()
            .or_else(|| err.downcast_ref::<Box<RusticError>>().map(|b| &**b));
        let text = match rustic {
            Some(r) => {
                let log = r.display_log();
                let head = log.split(": caused by: ").next().unwrap_or_default();
                let head = head.trim_start_matches("Error: ");
                head.rsplit_once(" (kind: ")
                    .map_or(head, |(h, _)| h)
                    .to_string()
            }
            None => err.to_string(),
        };
        // One line, of a sensible length, whatever a cause prints.
        let text: String = text
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        let text = text.trim().trim_end_matches('.');
        if !text.is_empty() {
            parts.push(text.to_string());
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Sets the verdict and reason of a completed keyed check from what it found.
fn judge(found: &mut KeyedRepository) {
    let mut problems = Vec::new();
    if found.missing_packs > 0 {
        problems.push(format!(
            "{} the index lists missing, e.g. {}",
            crate::format::plural(found.missing_packs, "pack"),
            found.missing.first().map(|p| shown(p)).unwrap_or_default()
        ));
    }
    if let Some(p) = found.wrong_size.first() {
        problems.push(format!(
            "{} with another size than the index says, e.g. {} ({} bytes, the index says {})",
            crate::format::plural(found.wrong_size_packs, "pack"),
            shown(&p.path),
            p.size,
            p.index_size
        ));
    }
    if let Some(u) = found.unreadable.first() {
        problems.push(format!(
            "{} could not be read, e.g. {u}",
            crate::format::plural(found.unreadable_files, "index or snapshot file")
        ));
    }
    if let Some(u) = found.unresolved.first() {
        problems.push(format!(
            "{} not resolving, e.g. {u}",
            crate::format::plural(found.unresolved_trees, "tree")
        ));
    }
    if let Some(f) = found.files_with_missing_blobs.first() {
        problems.push(format!(
            "{} in no index, e.g. of {f}",
            crate::format::plural(found.missing_blobs, "content blob")
        ));
    }
    let bad: Vec<&RestoredFile> = found
        .restored
        .iter()
        .filter(|f| f.verdict != Verdict::Pass)
        .collect();
    let worst_file = Verdict::worst(bad.iter().map(|f| f.verdict));
    if let Some(f) = bad.first() {
        problems.push(format!(
            "{} of {} not as they should be, e.g. {}: {}",
            bad.len(),
            crate::format::plural(found.restored.len() as u64, "restored file"),
            shown(&f.path),
            f.reason
        ));
    }
    let ok = found.restored.len() - bad.len();
    let snapshot = found
        .newest_snapshot
        .as_ref()
        .map(|s| format!(" of snapshot {}", short(&s.id)))
        .unwrap_or_default();
    let facts = format!(
        "with the password: {} of {} indexed packs present with their size; {}, {} resolved; {}{snapshot} restored and hashed",
        found.packs_ok,
        found.packs_indexed,
        crate::format::plural(found.snapshots, "snapshot"),
        crate::format::plural(found.trees, "tree"),
        crate::format::plural(ok as u64, "file")
    );
    let structural = problems.len() - usize::from(!bad.is_empty());
    (found.verdict, found.reason) = if !problems.is_empty() {
        let verdict = if structural > 0 {
            Verdict::Fail
        } else {
            worst_file.unwrap_or(Verdict::Fail)
        };
        (verdict, format!("{} ({facts})", problems.join("; ")))
    } else if found.snapshots == 0 {
        (
            Verdict::Error,
            format!("the repository has no snapshot to verify ({facts})"),
        )
    } else if found.restored.is_empty() {
        (
            Verdict::Warn,
            format!(
                "{facts}; no file of the newest snapshot fits the sample budget, so none was restored"
            ),
        )
    } else {
        let names: Vec<String> = found
            .restored
            .iter()
            .take(5)
            .map(|f| shown(&f.path))
            .collect();
        (Verdict::Pass, format!("{facts}: {}", names.join(", ")))
    };
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Folds the keyed result into the repository check: the worse verdict, its reason first.
pub fn merge(check: &mut CheckResult, keyed: &KeyedRepository) {
    if keyed.verdict > check.verdict {
        check.reason = format!("{}; {}", keyed.reason, check.reason);
        check.verdict = keyed.verdict;
    } else {
        check.reason = format!("{}; {}", check.reason, keyed.reason);
    }
}

//! Compaction: the catalog rewritten into a fresh database, so that its file shrinks back
//! to what it holds.
//!
//! sled never gives space back to the file system. Segments freed by updates and by
//! retention stay in its file, and at every open sled 0.34 writes a whole segment of
//! markers into each free segment (`SegmentAccountant::initialize_from_snapshot`). A
//! catalog that grew once (a first listing of a million files) would keep its peak size
//! on disk, and every command would rewrite its free space. Compaction copies the live
//! records into a new database and swaps it in:
//!
//! 1. every tree is copied, in batches, into `catalog.compact`; the copy is flushed, read
//!    back, and its records (tree name, key, value) must hash the same as the source's;
//! 2. `catalog.compact.done` is written and synced: from here on the copy is the catalog;
//! 3. `catalog` is renamed `catalog.old`, `catalog.compact` is renamed `catalog`, the
//!    marker is removed, then `catalog.old`.
//!
//! [`recover`] runs at every open, under the process lock and before sled opens: it
//! finishes a swap interrupted after step 2 and removes a copy interrupted before it, so
//! a crash at any point leaves either the old catalog or the verified copy, never a mix.
//!
//! When: [`Catalog::compaction_due`] says so once the file is more than twice its size
//! after the last compaction (and at least [`MIN_GROWTH`] larger). The callers (the end
//! of a command-line run, the daemon's start) compact only when no other handle of the
//! catalog is open; `backproof compact` compacts at once.
//!
//! Cost, measured on the catalog of 500 jobs with 100,000 runs kept to 30 days (224 MiB):
//! 1.4 to 3 s. (The inventory of listed files is in chunk files outside sled, see
//! [`super::inventory`]: a copy never holds it.)

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{CATALOG_DIR, Catalog, CatalogError, Result};

/// `meta` key: the value sled's id counter of the database a copy was made from had
/// reached (so [`Catalog::next_generation`] keeps growing across compactions).
pub(super) const GENERATION_FLOOR: &[u8] = b"generation-floor";

/// `meta` key: the size of the database file right after the last compaction.
const COMPACTED_BYTES: &[u8] = b"compacted-bytes";
/// `meta` key: when an automatic compaction's copy last failed (unix seconds, big-endian).
const FAILED_AT: &[u8] = b"compact-failed-at";

/// Growth below which a catalog is never compacted (a small file is cheap to open).
pub const MIN_GROWTH: u64 = 64 << 20;

/// Records per batch of the copy, and the bytes at which a batch goes out earlier.
const BATCH_RECORDS: usize = 4096;
const BATCH_BYTES: usize = 4 << 20;
/// Batches between flushes of the copy.
const FLUSH_EVERY_BATCHES: u64 = 8;

const COPY_DIR: &str = "catalog.compact";
const DONE_MARKER: &str = "catalog.compact.done";
const OLD_DIR: &str = "catalog.old";

/// A verified copy of the catalog in `catalog.compact`, ready for [`Catalog::swap_in`].
#[derive(Debug)]
pub struct CompactCopy {
    pub stats: Compaction,
}

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Compaction {
    /// Size of the database file before, and of the copy.
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Records copied (every tree).
    pub records: u64,
    pub took: std::time::Duration,
}

pub(super) fn decode_u64(v: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = v.len().min(8);
    b[8 - n..].copy_from_slice(&v[v.len() - n..]);
    u64::from_be_bytes(b)
}

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CatalogError + '_ {
    move |source| CatalogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The size of the database file in `dir` (sled keeps its log in `dir/db`).
fn db_bytes(dir: &Path) -> Result<u64> {
    let file = dir.join("db");
    match std::fs::metadata(&file) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io(&file)(e)),
    }
}

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

fn remove_dir_if_there(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(dir)(e)),
        _ => Ok(()),
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(io(from))
}

/// Leaves `data_dir` with one catalog: finishes a swap that was interrupted once the
/// copy was complete, or removes a copy that was not. Called under the process lock.
pub(super) fn recover(data_dir: &Path) -> Result<()> {
    let (catalog, copy, done, old) = paths(data_dir);
    if done.exists() {
        if copy.exists() && !has_data(&copy) {
            // The marker outlived the copy's files (a power cut before they reached the
            // disk): the catalog as it was stays.
            tracing::error!(copy = %copy.display(), "a catalog compaction was marked complete but its copy has no data; keeping the catalog as it was");
            remove_dir_if_there(&copy)?;
            if !catalog.exists() && old.exists() {
                rename(&old, &catalog)?;
            }
        } else if copy.exists() {
            if catalog.exists() {
                remove_dir_if_there(&old)?;
                rename(&catalog, &old)?;
            }
            rename(&copy, &catalog)?;
            sync_dir(data_dir)?;
            tracing::warn!(catalog = %catalog.display(), "finished a catalog compaction that was interrupted");
        }
        std::fs::remove_file(&done).map_err(io(&done))?;
        sync_dir(data_dir)?;
    } else if copy.exists() {
        tracing::warn!(copy = %copy.display(), "removing an unfinished catalog compaction (the catalog is unchanged)");
        remove_dir_if_there(&copy)?;
    }
    if old.exists() {
        if catalog.exists() {
            remove_old(&old);
        } else {
            // Cannot come from the steps above; never lose the only copy.
            rename(&old, &catalog)?;
            sync_dir(data_dir)?;
        }
    }
    Ok(())
}

/// Whether a database folder holds a non-empty log.
fn has_data(dir: &Path) -> bool {
    std::fs::metadata(dir.join("db")).is_ok_and(|m| m.len() > 0)
}

/// Removes the catalog a compaction replaced. Best effort: the catalog itself is whole,
/// and the next open tries again.
fn remove_old(old: &Path) {
    if let Err(e) = remove_dir_if_there(old) {
        tracing::warn!(error = %e, "could not remove the catalog a compaction replaced; it is removed at the next start");
    }
}

/// Syncs every file of a folder, then the folder (its names).
fn sync_folder(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_file() {
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io(&path))?;
        }
    }
    sync_dir(dir)
}

fn paths(data_dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    (
        data_dir.join(CATALOG_DIR),
        data_dir.join(COPY_DIR),
        data_dir.join(DONE_MARKER),
        data_dir.join(OLD_DIR),
    )
}

/// BLAKE3 of a tree's records, as the copy and its check read them.
#[derive(Default)]
struct Digest(blake3::Hasher);

impl Digest {
    fn tree(&mut self, name: &[u8]) {
        self.0.update(b"T");
        self.field(name);
    }
    fn record(&mut self, k: &[u8], v: &[u8]) {
        self.0.update(b"R");
        self.field(k);
        self.field(v);
    }
    fn field(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }
}

impl Catalog {
    fn data_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Whether the database file is more than twice its size after the last compaction,
    /// and at least [`MIN_GROWTH`] larger. A catalog never compacted takes its size at
    /// this first check as that base: a catalog that only grew holds little dead space
    /// (a fresh copy of one was 10 % smaller), and the copy is not worth its cost.
    pub fn compaction_due(&self) -> Result<bool> {
        let now = db_bytes(&self.path)?;
        let base = match self.meta.get(COMPACTED_BYTES) {
            Ok(Some(v)) => decode_u64(&v),
            Ok(None) => {
                self.meta
                    .insert(COMPACTED_BYTES, &now.to_be_bytes())
                    .map_err(|e| self.db_err(e))?;
                return Ok(false);
            }
            Err(e) => return Err(self.db_err(e)),
        };
        Ok(now > base.saturating_mul(2).max(base.saturating_add(MIN_GROWTH)))
    }

    /// Makes a compaction due as soon as the file is [`MIN_GROWTH`] large (after a large
    /// removal: sled keeps the space, and state for it in memory, until a copy).
    pub(super) fn request_compaction(&self) -> Result<()> {
        self.meta
            .insert(COMPACTED_BYTES, &0u64.to_be_bytes())
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Notes when an automatic compaction's copy last failed (`None`: it worked since).
    pub fn set_compaction_failed(&self, at: Option<DateTime<Utc>>) -> Result<()> {
        match at {
            Some(at) => self
                .meta
                .insert(FAILED_AT, &at.timestamp().to_be_bytes())
                .map(drop),
            None => self.meta.remove(FAILED_AT).map(drop),
        }
        .map_err(|e| self.db_err(e))
    }

    /// When an automatic compaction's copy last failed, if it has not worked since.
    pub fn compaction_failed(&self) -> Result<Option<DateTime<Utc>>> {
        let at = self.meta.get(FAILED_AT).map_err(|e| self.db_err(e))?;
        Ok(at
            .and_then(|v| <[u8; 8]>::try_from(&v[..]).ok())
            .and_then(|b| DateTime::from_timestamp(i64::from_be_bytes(b), 0)))
    }

    /// Whether this is the only handle of the catalog (no clone, no open cursor).
    pub fn is_sole_handle(&self) -> bool {
        Arc::strong_count(&self._lock) == 1
    }

    /// Writes a verified copy of every tree into `catalog.compact` (the catalog itself is
    /// only read). On any error the partial copy is removed and the catalog is unchanged.
    pub fn prepare_compaction(&self) -> Result<CompactCopy> {
        let started = Instant::now();
        let bytes_before = db_bytes(&self.path)?;
        let (_, copy_dir, done, _) = paths(self.data_dir());
        // A marker left over would make the next open take an unverified copy.
        if done.exists() {
            std::fs::remove_file(&done).map_err(io(&done))?;
        }
        remove_dir_if_there(&copy_dir)?;
        let result = self.write_copy(&copy_dir);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&copy_dir);
        }
        let (records, bytes_after) = result?;
        Ok(CompactCopy {
            stats: Compaction {
                bytes_before,
                bytes_after,
                records,
                took: started.elapsed(),
            },
        })
    }

    fn write_copy(&self, copy_dir: &Path) -> Result<(u64, u64)> {
        let copy_err = |cause| CatalogError::Db {
            path: copy_dir.to_path_buf(),
            cause,
        };
        let floor = self.next_generation()?.saturating_add(1);
        let copy = sled::Config::new()
            .path(copy_dir)
            .cache_capacity(8 << 20)
            .flush_every_ms(None)
            .open()
            .map_err(copy_err)?;
        let mut names = self.db.tree_names();
        names.sort();
        let (mut source_digest, mut records, mut copied) = (Digest::default(), 0u64, 0u64);
        for name in &names {
            let from = self.db.open_tree(name).map_err(|e| self.db_err(e))?;
            let to = copy.open_tree(name).map_err(copy_err)?;
            source_digest.tree(name);
            let (mut batch, mut in_batch, mut batch_bytes) = (sled::Batch::default(), 0, 0);
            for item in from.iter() {
                let (k, v) = item.map_err(|e| self.db_err(e))?;
                source_digest.record(&k, &v);
                batch_bytes += k.len() + v.len();
                batch.insert(k, v);
                in_batch += 1;
                records += 1;
                if in_batch >= BATCH_RECORDS || batch_bytes >= BATCH_BYTES {
                    to.apply_batch(std::mem::take(&mut batch))
                        .map_err(copy_err)?;
                    (in_batch, batch_bytes) = (0, 0);
                    copied += 1;
                    // Written pages can leave sled's memory only once they are on disk.
                    if copied % FLUSH_EVERY_BATCHES == 0 {
                        copy.flush().map_err(copy_err)?;
                    }
                }
            }
            to.apply_batch(batch).map_err(copy_err)?;
        }
        copy.flush().map_err(copy_err)?;
        // Read the copy back: the same trees, the same records, in the same order.
        let mut copy_names = copy.tree_names();
        copy_names.sort();
        let mut copy_digest = Digest::default();
        for name in &copy_names {
            copy_digest.tree(name);
            let tree = copy.open_tree(name).map_err(copy_err)?;
            for item in tree.iter() {
                let (k, v) = item.map_err(copy_err)?;
                copy_digest.record(&k, &v);
            }
        }
        if copy_digest.0.finalize() != source_digest.0.finalize() {
            return Err(CatalogError::Corrupt {
                key: copy_dir.display().to_string(),
                message: "the compacted copy does not read back as the catalog it was made from"
                    .into(),
            });
        }
        let meta = copy.open_tree("meta").map_err(copy_err)?;
        meta.insert(GENERATION_FLOOR, &floor.to_be_bytes())
            .map_err(copy_err)?;
        copy.flush().map_err(copy_err)?;
        let bytes = db_bytes(copy_dir)?;
        meta.insert(COMPACTED_BYTES, &bytes.to_be_bytes())
            .map_err(copy_err)?;
        copy.flush().map_err(copy_err)?;
        drop((meta, copy));
        // The copy's files must be on disk, names included, before a marker says so
        // (sled does not sync its `conf`).
        sync_folder(copy_dir)?;
        Ok((records, bytes))
    }

    /// Replaces the catalog with the copy [`Catalog::prepare_compaction`] made, and opens
    /// it (same process lock). Nothing may have written to the catalog in between; if
    /// another handle of it is open, the copy is removed and the catalog stays as it is.
    pub fn swap_in(self, _copy: CompactCopy) -> Result<Catalog> {
        let data_dir = self.data_dir().to_path_buf();
        let (catalog, copy, done, old) = paths(&data_dir);
        if !self.is_sole_handle() {
            tracing::warn!(
                "catalog compaction skipped: the catalog is in use elsewhere in this process"
            );
            remove_dir_if_there(&copy)?;
            return Ok(self);
        }
        let lock = self._lock.clone();
        self.flush()?;
        drop(self);
        let mut marker = File::create(&done).map_err(io(&done))?;
        marker
            .write_all(b"the copy in catalog.compact is complete and verified\n")
            .and_then(|()| marker.sync_all())
            .map_err(io(&done))?;
        sync_dir(&data_dir)?;
        rename(&catalog, &old)?;
        rename(&copy, &catalog)?;
        sync_dir(&data_dir)?;
        std::fs::remove_file(&done).map_err(io(&done))?;
        sync_dir(&data_dir)?;
        remove_old(&old);
        Catalog::open_locked(&data_dir, lock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(c: &Catalog, n: usize) {
        let inv = &c.inventory;
        for i in 0..n {
            inv.insert(format!("job\0t\0f{i:07}"), vec![b'x'; 300])
                .unwrap();
        }
        c.flush().unwrap();
    }

    fn everything(c: &Catalog) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        let mut all = Vec::new();
        let mut names = c.db.tree_names();
        names.sort();
        for name in names {
            let t = c.db.open_tree(&name).unwrap();
            for kv in t.iter() {
                let (k, v) = kv.unwrap();
                if &*name == b"meta" && (&*k == GENERATION_FLOOR || &*k == COMPACTED_BYTES) {
                    continue;
                }
                all.push((name.to_vec(), k.to_vec(), v.to_vec()));
            }
        }
        all
    }

    #[test]
    fn a_compacted_catalog_holds_the_same_records_in_a_smaller_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(dir.path()).unwrap();
        fill(&c, 60_000);
        // Free most of it again: the file keeps its size.
        let keep: Vec<_> = c
            .inventory
            .iter()
            .keys()
            .step_by(10)
            .map(|k| k.unwrap())
            .collect();
        c.inventory.clear().unwrap();
        for k in &keep {
            c.inventory.insert(k, b"kept".to_vec()).unwrap();
        }
        c.flush().unwrap();
        let generation = c.next_generation().unwrap();
        let before = everything(&c);
        let size_before = db_bytes(&c.path).unwrap();
        let copy = c.prepare_compaction().unwrap();
        let c = c.swap_in(copy).unwrap();
        assert_eq!(everything(&c), before);
        let size_after = db_bytes(&c.path).unwrap();
        assert!(
            size_after * 2 < size_before,
            "{size_after} vs {size_before}"
        );
        assert!(c.next_generation().unwrap() > generation);
        assert!(!c.compaction_due().unwrap());
        for leftover in [COPY_DIR, DONE_MARKER, OLD_DIR] {
            assert!(!dir.path().join(leftover).exists(), "{leftover}");
        }
        // And it stays that way across a reopen.
        drop(c);
        let c = Catalog::open(dir.path()).unwrap();
        assert_eq!(everything(&c), before);
        assert!(c.next_generation().unwrap() > generation);
    }

    #[test]
    fn compaction_waits_for_the_file_to_double() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(dir.path()).unwrap();
        let grow_to = |bytes: u64| {
            let f = File::options().write(true).open(c.path.join("db")).unwrap();
            f.set_len(bytes).unwrap();
        };
        // The first check takes the size as it is as the base.
        grow_to(100 << 20);
        assert!(!c.compaction_due().unwrap());
        grow_to(199 << 20);
        assert!(!c.compaction_due().unwrap());
        grow_to(201 << 20);
        assert!(c.compaction_due().unwrap());
        // A small catalog waits for MIN_GROWTH.
        c.meta
            .insert(COMPACTED_BYTES, &(1u64 << 20).to_be_bytes())
            .unwrap();
        grow_to(60 << 20);
        assert!(!c.compaction_due().unwrap());
        grow_to(66 << 20);
        assert!(c.compaction_due().unwrap());
    }

    #[test]
    fn another_handle_keeps_the_catalog_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(dir.path()).unwrap();
        fill(&c, 10);
        let other = c.clone();
        let copy = c.prepare_compaction().unwrap();
        let c = c.swap_in(copy).unwrap();
        assert!(!dir.path().join(COPY_DIR).exists());
        other.inventory.insert(b"late", b"1".to_vec()).unwrap();
        assert!(c.inventory.get(b"late").unwrap().is_some());
    }

    /// A marker whose copy lost its data (a power cut before the copy's files reached
    /// the disk) does not replace the catalog, wherever the swap stopped.
    #[test]
    fn a_marker_without_a_whole_copy_keeps_the_catalog() {
        for renamed in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path();
            let c = Catalog::open(data).unwrap();
            c.inventory.insert(b"marker", b"old".to_vec()).unwrap();
            c.flush().unwrap();
            drop(c);
            let (catalog, copy, done, old) = paths(data);
            std::fs::create_dir(&copy).unwrap();
            File::create(copy.join("db")).unwrap();
            File::create(&done).unwrap();
            if renamed {
                std::fs::rename(&catalog, &old).unwrap();
            }
            let c = Catalog::open(data).unwrap();
            let marker = c.inventory.get(b"marker").unwrap();
            assert_eq!(marker.as_deref(), Some(&b"old"[..]), "renamed: {renamed}");
            for leftover in [COPY_DIR, DONE_MARKER, OLD_DIR] {
                assert!(!data.join(leftover).exists(), "{leftover}");
            }
        }
    }

    /// Every point a compaction can stop at leaves one whole catalog at the next open.
    #[test]
    fn an_interrupted_compaction_leaves_one_whole_catalog() {
        for stop in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path();
            let c = Catalog::open(data).unwrap();
            fill(&c, 100);
            c.inventory.insert(b"marker", b"old".to_vec()).unwrap();
            c.prepare_compaction().unwrap();
            // The copy differs from the original only in what the test marks.
            {
                let deadline = Instant::now() + crate::catalog::RELEASE_WAIT;
                let copy = loop {
                    match sled::open(data.join(COPY_DIR)) {
                        Err(_) if Instant::now() < deadline => {
                            std::thread::sleep(std::time::Duration::from_millis(50))
                        }
                        copy => break copy.unwrap(),
                    }
                };
                copy.open_tree("inventory")
                    .unwrap()
                    .insert(b"marker", b"new".to_vec())
                    .unwrap();
                copy.flush().unwrap();
            }
            drop(c);
            let (catalog, copy, done, old) = paths(data);
            // The steps of swap_in, up to `stop`.
            let mut expect = "old";
            if stop >= 1 {
                File::create(&done).unwrap();
                expect = "new";
            }
            if stop >= 2 {
                std::fs::rename(&catalog, &old).unwrap();
            }
            if stop >= 3 {
                std::fs::rename(&copy, &catalog).unwrap();
            }
            if stop >= 4 {
                std::fs::remove_file(&done).unwrap();
            }
            let c = Catalog::open(data).unwrap();
            let marker = c.inventory.get(b"marker").unwrap().unwrap();
            assert_eq!(&*marker, expect.as_bytes(), "stopped after step {stop}");
            assert!(c.inventory.get(b"job\0t\0f0000099").unwrap().is_some());
            for leftover in [COPY_DIR, DONE_MARKER, OLD_DIR] {
                assert!(
                    !data.join(leftover).exists(),
                    "{leftover} after step {stop}"
                );
            }
        }
    }
}

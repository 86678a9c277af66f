//! The inventory in chunk files: each target's committed listing, kept out of sled.
//!
//! A listing reads a target's whole inventory in path order, and sled keeps every page a
//! scan reads in memory (its cache limit does not hold for that), so a sled tree with a
//! record per file made a run's memory grow with the file count. Here the records of
//! consecutive paths are stored together in immutable chunk files under
//! `data_dir/inventory/<target>/`, named by the BLAKE3 of the target and their content,
//! and sled keeps only a small index: `job \0 target \0 first path` → chunk id.
//!
//! - **Chunking by content.** A chunk ends after a path whose hash says so (one in
//!   [`AVERAGE`]) or at [`MAX_ENTRIES`], so boundaries depend only on the paths: a new,
//!   changed or vanished file changes its own chunk, and the rest are written again
//!   byte for byte the same, which the writer sees by their ids and does not write.
//! - **Crash safety.** A listing's chunk files are written, synced and renamed into place
//!   as it goes, and its index changes are applied in one sled batch at its end: a listing
//!   that fails or is interrupted leaves the index as it was (the target's chunks never
//!   overlap or leave a gap). The files the index no longer names are removed only once it
//!   is durable; a crash leaves unnamed files at worst, which [`sweep`] removes.
//! - **Reading** verifies each chunk against its id; a missing or damaged chunk is a
//!   [`CatalogError::InventoryDamaged`], never a silently shorter listing (the listing
//!   fails, and [`Catalog::drop_damaged_inventory`] takes the damage out).
//! - **Older catalogs** kept a sled record per file (tree `inventory`): a target's first
//!   listing converts them ([`Catalog::chunk_inventory`]), and a marker in the index says
//!   when that is done.
//!
//! [`sweep`]: Catalog::sweep_inventory

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::compact::{io, sync_dir};
use super::{Catalog, CatalogError, InventoryRecord, Result, key, prefix};

/// The folder of chunk files in `data_dir`.
pub(super) const INVENTORY_DIR: &str = "inventory";
/// One path in this many ends a chunk (about 7 KiB of records and names per chunk).
const AVERAGE: u64 = 128;
/// A chunk ends here whatever its paths: bounds a chunk's memory and its rewrite.
const MAX_ENTRIES: usize = 512;
const MAGIC: &[u8] = b"backproof inventory chunk 1\n";
/// The index value of a target's marker: its records are all in chunks.
const CHUNKED: &[u8] = b"chunked-v1";

type Id = [u8; 32];
/// A chunk's records, in path order.
type Records = Vec<(String, InventoryRecord)>;

/// The index key of a target's marker: `job \0 target`, just before its chunks' keys.
fn marker(job: &str, target: &str) -> Vec<u8> {
    key(&[job, target])
}

/// The folder of a target's chunks.
fn target_dir(dir: &Path, job: &str, target: &str) -> PathBuf {
    let mut h = blake3::Hasher::new();
    h.update(&key(&[job, target]));
    dir.join(&h.finalize().to_hex()[..32])
}

/// A chunk's id: the BLAKE3 of its target and content (two targets with the same files
/// never share a chunk file, so one target's rewrite cannot remove another's).
fn chunk_id(job: &str, target: &str, content: &[u8]) -> Id {
    let mut h = blake3::Hasher::new();
    h.update(&prefix(&[job, target]));
    h.update(content);
    *h.finalize().as_bytes()
}

fn file_name(id: &Id) -> String {
    blake3::Hash::from_bytes(*id).to_hex().to_string()
}

/// Whether `path` ends a chunk.
fn boundary(path: &str) -> bool {
    let h = blake3::hash(path.as_bytes());
    let mut w = [0u8; 8];
    w.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(w).is_multiple_of(AVERAGE)
}

/// The chunk file layout: [`MAGIC`], then per record the length of the prefix it shares
/// with the previous path and the length of the rest (u32, little-endian), the rest of
/// the path, and the 50-byte record.
fn encode(entries: &[(String, InventoryRecord)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + entries.len() * 80);
    out.extend_from_slice(MAGIC);
    let mut last: &[u8] = &[];
    for (path, rec) in entries {
        let p = path.as_bytes();
        let shared = p.iter().zip(last).take_while(|(a, b)| a == b).count();
        out.extend_from_slice(&(shared as u32).to_le_bytes());
        out.extend_from_slice(&((p.len() - shared) as u32).to_le_bytes());
        out.extend_from_slice(&p[shared..]);
        out.extend_from_slice(&rec.encode());
        last = p;
    }
    out
}

fn decode(bytes: &[u8]) -> std::result::Result<Records, String> {
    let mut at = MAGIC.len();
    if !bytes.starts_with(MAGIC) {
        return Err("not an inventory chunk (unknown header)".into());
    }
    let field = |at: &mut usize, n: usize| -> std::result::Result<&[u8], String> {
        let end = at.checked_add(n).filter(|&end| end <= bytes.len());
        let end = end.ok_or_else(|| format!("cut short at byte {at} of {}", bytes.len()))?;
        let slice = &bytes[*at..end];
        *at = end;
        Ok(slice)
    };
    let word = |at: &mut usize| -> std::result::Result<usize, String> {
        let mut w = [0u8; 4];
        w.copy_from_slice(field(at, 4)?);
        Ok(u32::from_le_bytes(w) as usize)
    };
    let mut entries: Records = Vec::new();
    let mut path: Vec<u8> = Vec::new();
    while at < bytes.len() {
        let shared = word(&mut at)?;
        let len = word(&mut at)?;
        if shared > path.len() {
            return Err(format!("a path shares {shared} bytes of a shorter one"));
        }
        path.truncate(shared);
        path.extend_from_slice(field(&mut at, len)?);
        let rec = InventoryRecord::decode(field(&mut at, InventoryRecord::LEN)?)?;
        let p = String::from_utf8(path.clone()).map_err(|_| "a path is not UTF-8")?;
        if entries.last().is_some_and(|(last, _)| *last >= p) {
            return Err(format!("`{p}` is out of order"));
        }
        entries.push((p, rec));
    }
    Ok(entries)
}

fn id_of(value: &[u8]) -> Option<Id> {
    value.try_into().ok()
}

/// A target's chunk store: its folder and index key prefix.
struct Store {
    catalog: Catalog,
    job: String,
    target: String,
    dir: PathBuf,
    prefix: Vec<u8>,
}

impl Store {
    fn new(catalog: &Catalog, job: &str, target: &str) -> Store {
        Store {
            dir: target_dir(&catalog.inventory_dir(), job, target),
            prefix: prefix(&[job, target]),
            job: job.to_string(),
            target: target.to_string(),
            catalog: catalog.clone(),
        }
    }

    /// Reads and checks the chunk `id` (named by the index key `k`).
    fn read(&self, k: &[u8], value: &[u8]) -> Result<Records> {
        let first = String::from_utf8_lossy(&k[self.prefix.len().min(k.len())..]).into_owned();
        let damaged = |what: String| CatalogError::InventoryDamaged {
            target: self.target.clone(),
            detail: format!(
                "the chunk of its paths from {} on {what}",
                crate::format::shown(&first)
            ),
        };
        let id = id_of(value).ok_or_else(|| damaged("has no valid id in the index".into()))?;
        let path = self.dir.join(file_name(&id));
        // A missing file is damage; any other error to read it (no file handle left, a
        // data folder gone from under us) is the catalog failing, not the record.
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => damaged(format!("is missing ({})", path.display())),
            _ => io(&path)(e),
        })?;
        let broken = |what: &str| damaged(format!("{what} ({})", path.display()));
        if chunk_id(&self.job, &self.target, &bytes) != id {
            return Err(broken("does not match its BLAKE3 id"));
        }
        let entries = decode(&bytes).map_err(|e| broken(&format!("cannot be decoded: {e}")))?;
        match entries.first() {
            Some((p, _)) if *p == first => Ok(entries),
            _ => Err(broken("does not start with the path its index names")),
        }
    }

    /// Writes chunk `content` as `id` (synced, then renamed into place).
    fn write(&self, id: &Id, content: &[u8]) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let name = file_name(id);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(content)
            .and_then(|()| f.sync_data())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, self.dir.join(name)).map_err(io(&tmp))
    }

    /// Syncs the names of the chunk files: the target's folder, and the folders above it
    /// up to `data_dir` (a first listing creates them).
    fn sync_dir(&self) -> Result<()> {
        self.dir.ancestors().take(3).try_for_each(sync_dir)
    }

    fn index(&self) -> &sled::Tree {
        &self.catalog.inventory_chunks
    }

    fn is_chunked(&self) -> Result<bool> {
        let k = marker(&self.job, &self.target);
        let v = self.index().get(k).map_err(|e| self.catalog.db_err(e))?;
        Ok(v.is_some_and(|v| v == CHUNKED))
    }
}

/// A target's inventory records in path order, for a listing to merge with:
/// [`InventoryCursor::until`] hands out the records of the paths before a listed one,
/// then that path's own. Memory: one chunk. The index it reads does not change under it:
/// the listing's writer applies its changes at its end.
pub struct InventoryCursor {
    store: Store,
    index: std::iter::Peekable<std::iter::Fuse<sled::Iter>>,
    chunk: std::iter::Peekable<std::vec::IntoIter<(String, InventoryRecord)>>,
}

impl InventoryCursor {
    /// Calls `before` with each record of a path before `path` (that the listing did not
    /// have), in order, then returns the record of `path` itself. `None` for `path` runs
    /// to the end.
    pub fn until(
        &mut self,
        path: Option<&str>,
        mut before: impl FnMut(String, InventoryRecord) -> Result<()>,
    ) -> Result<Option<InventoryRecord>> {
        use std::cmp::Ordering;
        loop {
            if let Some((p, _)) = self.chunk.peek() {
                let order = path.map_or(Ordering::Less, |path| p.as_str().cmp(path));
                match order {
                    Ordering::Greater => return Ok(None),
                    Ordering::Equal => return Ok(self.chunk.next().map(|(_, r)| r)),
                    Ordering::Less => {
                        if let Some((p, r)) = self.chunk.next() {
                            before(p, r)?;
                        }
                        continue;
                    }
                }
            }
            // The current chunk is done: the next one, if it starts at or before `path`.
            let starts_after = match self.index.peek() {
                None => return Ok(None),
                Some(Err(_)) => false,
                Some(Ok((k, _))) => {
                    path.is_some_and(|path| &k[self.store.prefix.len()..] > path.as_bytes())
                }
            };
            if starts_after {
                return Ok(None);
            }
            match self.index.next() {
                Some(Ok((k, v))) => self.chunk = self.store.read(&k, &v)?.into_iter().peekable(),
                Some(Err(e)) => return Err(self.store.catalog.db_err(e)),
                None => return Ok(None),
            }
        }
    }
}

/// Writes a listing's records as chunks, in path order, replacing the target's stored
/// chunks: only chunks whose content changed are written. The index changes wait for
/// [`InventoryWriter::finish`], which applies them at once; a writer dropped before
/// (a listing that failed) leaves the index as it was. Memory: one chunk, and about 100
/// bytes per changed chunk (its index change, and the id of the chunk it replaced).
pub struct InventoryWriter {
    store: Store,
    /// The stored index, merged with the chunks written.
    stored: std::iter::Peekable<std::iter::Fuse<sled::Iter>>,
    entries: Records,
    batch: sled::Batch,
    changes: usize,
    replaced: Vec<Id>,
    /// The chunk files written and not yet named by the index: removed again if the
    /// writer goes without applying its batch (a listing that failed).
    written: Vec<Id>,
    chunked: bool,
}

impl InventoryWriter {
    /// Adds the record of the next path (paths strictly ascending).
    pub fn push(&mut self, path: String, rec: InventoryRecord) -> Result<()> {
        let ends = boundary(&path);
        self.entries.push((path, rec));
        if ends || self.entries.len() >= MAX_ENTRIES {
            self.close_chunk()?;
        }
        Ok(())
    }

    fn close_chunk(&mut self) -> Result<()> {
        let Some((first, _)) = self.entries.first() else {
            return Ok(());
        };
        let mut k = self.store.prefix.clone();
        k.extend_from_slice(first.as_bytes());
        let content = encode(&self.entries);
        self.entries.clear();
        let id = chunk_id(&self.store.job, &self.store.target, &content);
        // Stored chunks that start before this one are gone (their paths are in the
        // chunks written before, or vanished).
        let mut same = false;
        while let Some(item) = self.stored.peek() {
            let (sk, sv) = match item {
                Ok((sk, sv)) => (sk.clone(), sv.clone()),
                Err(_) => match self.stored.next() {
                    Some(Err(e)) => return Err(self.store.catalog.db_err(e)),
                    _ => break,
                },
            };
            if sk.as_ref() > k.as_slice() {
                break;
            }
            self.stored.next();
            if sk.as_ref() == k.as_slice() && id_of(&sv) == Some(id) {
                same = true;
            } else {
                if sk.as_ref() < k.as_slice() {
                    self.batch.remove(sk);
                    self.changes += 1;
                }
                self.replaced.extend(id_of(&sv));
            }
        }
        if !same {
            self.store.write(&id, &content)?;
            self.written.push(id);
            self.batch.insert(k, &id[..]);
            self.changes += 1;
        }
        Ok(())
    }

    /// Writes the last chunk and applies the index changes in one batch (the stored
    /// chunks after the last one written go), then, once the index is durable, removes
    /// the files of the chunks it no longer names. Returns the chunks written.
    pub fn finish(mut self) -> Result<u64> {
        self.close_chunk()?;
        while let Some(item) = self.stored.next() {
            let (sk, sv) = item.map_err(|e| self.store.catalog.db_err(e))?;
            self.batch.remove(sk);
            self.changes += 1;
            self.replaced.extend(id_of(&sv));
        }
        if !self.chunked {
            self.batch
                .insert(marker(&self.store.job, &self.store.target), CHUNKED);
            self.changes += 1;
        }
        if self.changes == 0 {
            return Ok(0);
        }
        // The index must never name a file that a power cut could lose: the files were
        // synced as written, their names are synced here.
        if !self.written.is_empty() {
            self.store.sync_dir()?;
        }
        let catalog = &self.store.catalog;
        let batch = std::mem::take(&mut self.batch);
        catalog
            .inventory_chunks
            .apply_batch(batch)
            .map_err(|e| catalog.db_err(e))?;
        // Named now: they stay whatever happens next.
        let written = std::mem::take(&mut self.written).len() as u64;
        if self.replaced.is_empty() {
            return Ok(written);
        }
        self.store.catalog.flush()?;
        for id in &self.replaced {
            let path = self.store.dir.join(file_name(id));
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    // Left for the next sweep: an unnamed file is never read.
                    tracing::warn!(file = %path.display(), error = %e, "could not remove a replaced inventory chunk");
                }
                _ => {}
            }
        }
        Ok(written)
    }
}

impl Drop for InventoryWriter {
    /// A listing that failed: the index is as it was, and the chunks written for it go
    /// (best effort; a sweep takes what is left).
    fn drop(&mut self) {
        for id in &self.written {
            let _ = std::fs::remove_file(self.store.dir.join(file_name(id)));
        }
    }
}

/// Point look-ups in a target's inventory, keeping the last chunk read (look-ups in path
/// order, as a manifest's lines often are, read each chunk once).
pub struct InventoryLookup {
    store: Store,
    chunked: bool,
    /// The last chunk read, with its index entry.
    last: Option<(sled::IVec, sled::IVec, Records)>,
}

impl InventoryLookup {
    /// The inventory record of `path`.
    pub fn get(&mut self, path: &str) -> Result<Option<InventoryRecord>> {
        let catalog = &self.store.catalog;
        let k = key(&[&self.store.job, &self.store.target, path]);
        if !self.chunked {
            return match catalog.inventory.get(&k).map_err(|e| catalog.db_err(e))? {
                None => Ok(None),
                Some(v) => super::decode_inventory(&k, &v).map(Some),
            };
        }
        let found = self
            .store
            .index()
            .range(self.store.prefix.clone()..=k)
            .next_back();
        let Some(item) = found else {
            return Ok(None);
        };
        let (ck, cv) = item.map_err(|e| catalog.db_err(e))?;
        let chunk = match self.last.take() {
            Some((lk, lv, chunk)) if lk == ck && lv == cv => chunk,
            _ => self.store.read(&ck, &cv)?,
        };
        let found = chunk
            .binary_search_by(|(p, _)| p.as_str().cmp(path))
            .ok()
            .map(|i| chunk[i].1);
        self.last = Some((ck, cv, chunk));
        Ok(found)
    }
}

impl Catalog {
    /// The folder of the chunk files, beside the database's.
    fn inventory_dir(&self) -> PathBuf {
        let data_dir = self.path.parent().unwrap_or(Path::new("."));
        data_dir.join(INVENTORY_DIR)
    }

    /// The target's inventory records, in path order (the order listings come in).
    /// Call [`Catalog::chunk_inventory`] first: records of an older catalog not yet
    /// converted are not seen.
    pub fn inventory_cursor(&self, job: &str, target: &str) -> InventoryCursor {
        let store = Store::new(self, job, target);
        InventoryCursor {
            index: store.index().scan_prefix(&store.prefix).fuse().peekable(),
            chunk: Vec::new().into_iter().peekable(),
            store,
        }
    }

    /// A writer that replaces the target's inventory with the records pushed to it.
    pub fn inventory_writer(&self, job: &str, target: &str) -> Result<InventoryWriter> {
        let store = Store::new(self, job, target);
        Ok(InventoryWriter {
            stored: store.index().scan_prefix(&store.prefix).fuse().peekable(),
            chunked: store.is_chunked()?,
            store,
            entries: Vec::new(),
            batch: sled::Batch::default(),
            changes: 0,
            replaced: Vec::new(),
            written: Vec::new(),
        })
    }

    /// Point look-ups in the target's inventory.
    pub fn inventory_lookup(&self, job: &str, target: &str) -> Result<InventoryLookup> {
        let store = Store::new(self, job, target);
        Ok(InventoryLookup {
            chunked: store.is_chunked()?,
            store,
            last: None,
        })
    }

    /// The inventory record of one path.
    pub fn inventory(
        &self,
        job: &str,
        target: &str,
        path: &str,
    ) -> Result<Option<InventoryRecord>> {
        self.inventory_lookup(job, target)?.get(path)
    }

    /// Removes from the target's index every chunk that cannot be read back whole
    /// (missing or damaged) and returns what was wrong with each. The records they held
    /// are lost: their files are new to the next listing.
    pub fn drop_damaged_inventory(&self, job: &str, target: &str) -> Result<Vec<String>> {
        let store = Store::new(self, job, target);
        let mut batch = sled::Batch::default();
        let mut dropped = Vec::new();
        for item in store.index().scan_prefix(&store.prefix) {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            match store.read(&k, &v) {
                Ok(_) => {}
                Err(CatalogError::InventoryDamaged { detail, .. }) => {
                    batch.remove(k);
                    dropped.push(detail);
                }
                Err(e) => return Err(e),
            }
        }
        if !dropped.is_empty() {
            store
                .index()
                .apply_batch(batch)
                .map_err(|e| self.db_err(e))?;
            self.flush()?;
        }
        Ok(dropped)
    }

    /// Converts the target's records of an older catalog (a sled record per file) into
    /// chunks, once: the marker is written with the last chunk, and the old records are
    /// removed after it. Interrupted, it starts again from the old records.
    pub fn chunk_inventory(&self, job: &str, target: &str) -> Result<()> {
        let store = Store::new(self, job, target);
        let old = prefix(&[job, target]);
        if !store.is_chunked()? {
            let mut writer = self.inventory_writer(job, target)?;
            for item in self.inventory.scan_prefix(&old) {
                let (k, v) = item.map_err(|e| self.db_err(e))?;
                let rec = super::decode_inventory(&k, &v)?;
                let path = String::from_utf8_lossy(&k[old.len()..]).into_owned();
                writer.push(path, rec)?;
            }
            writer.finish()?;
        }
        // The old records (also those an interrupted removal left).
        let mut batch = sled::Batch::default();
        let (mut n, mut removed) = (0, 0u64);
        for item in self.inventory.scan_prefix(&old).keys() {
            batch.remove(item.map_err(|e| self.db_err(e))?);
            n += 1;
            if n == 4096 {
                let b = std::mem::take(&mut batch);
                self.inventory.apply_batch(b).map_err(|e| self.db_err(e))?;
                removed += n;
                n = 0;
            }
        }
        if n > 0 {
            self.inventory
                .apply_batch(batch)
                .map_err(|e| self.db_err(e))?;
            removed += n;
        }
        if removed > 0 {
            // Their space stays in sled's file, and sled holds state for it in memory:
            // the next chance to compact takes it back.
            self.request_compaction()?;
        }
        Ok(())
    }

    /// Removes the chunk files the index does not name (left by a crash, or by a
    /// catalog moved aside). Only with no other handle: a listing in progress writes a
    /// chunk before the index names it. Returns how many files went.
    pub fn sweep_inventory(&self) -> Result<u64> {
        if !self.is_sole_handle() {
            return Ok(0);
        }
        // What the index no longer names must be durably so before its file goes.
        self.flush()?;
        let mut named: HashSet<Id> = HashSet::new();
        for item in self.inventory_chunks.iter().values() {
            named.extend(id_of(&item.map_err(|e| self.db_err(e))?));
        }
        let mut removed = 0;
        let dir = self.inventory_dir();
        let folders = match std::fs::read_dir(&dir) {
            Ok(folders) => folders,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(&dir)(e)),
        };
        for folder in folders {
            let folder = folder.map_err(io(&dir))?.path();
            if !folder.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&folder).map_err(io(&folder))? {
                let path = file.map_err(io(&folder))?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let id = blake3::Hash::from_hex(name).ok().map(|h| *h.as_bytes());
                if id.is_some_and(|id| named.contains(&id)) {
                    continue;
                }
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "could not remove an inventory chunk file no index names");
                    }
                }
            }
            // An empty folder (a target whose chunks all went) goes too.
            let _ = std::fs::remove_dir(&folder);
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Seen, Slot};

    fn rec(size: u64) -> InventoryRecord {
        InventoryRecord {
            slots: [
                Some(Slot::Present(Seen {
                    generation: 1,
                    size,
                    modified: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                })),
                None,
            ],
            exact: false,
        }
    }

    fn paths(n: usize) -> Vec<String> {
        let mut p: Vec<String> = (0..n)
            .map(|i| format!("host-{}/day-{:02}/chunk-{i:05}.bin", i / 1000, i % 7))
            .collect();
        p.sort();
        p
    }

    /// `n` records, record `i` of size `i`.
    fn numbered(n: usize) -> Records {
        paths(n)
            .into_iter()
            .enumerate()
            .map(|(i, p)| (p, rec(i as u64)))
            .collect()
    }

    /// `n` records all of `size`.
    fn alike(n: usize, size: u64) -> Records {
        paths(n).into_iter().map(|p| (p, rec(size))).collect()
    }

    /// An empty catalog in a temporary folder.
    fn open() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(dir.path()).unwrap();
        (dir, c)
    }

    fn write(c: &Catalog, t: &str, records: &[(String, InventoryRecord)]) -> u64 {
        let mut w = c.inventory_writer("j", t).unwrap();
        for (p, r) in records {
            w.push(p.clone(), *r).unwrap();
        }
        w.finish().unwrap()
    }

    fn read(c: &Catalog, t: &str) -> Vec<(String, InventoryRecord)> {
        let mut all = Vec::new();
        c.inventory_cursor("j", t)
            .until(None, |p, r| {
                all.push((p, r));
                Ok(())
            })
            .unwrap();
        all
    }

    fn files(c: &Catalog, t: &str) -> usize {
        std::fs::read_dir(target_dir(&c.inventory_dir(), "j", t))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn index_len(c: &Catalog, t: &str) -> usize {
        c.inventory_chunks.scan_prefix(prefix(&["j", t])).count()
    }

    #[test]
    fn records_come_back_in_order_and_by_path() {
        let (_dir, c) = open();
        let records = numbered(5000);
        let chunks = write(&c, "t", &records);
        write(&c, "other", &records[..10]);
        // About one chunk per AVERAGE paths, none longer than MAX_ENTRIES.
        assert!(
            chunks > 5000 / (2 * AVERAGE) && chunks < 5000 / 16,
            "{chunks}"
        );
        assert_eq!(files(&c, "t") as u64, chunks);
        assert_eq!(index_len(&c, "t") as u64, chunks);
        assert_eq!(read(&c, "t"), records);
        assert_eq!(read(&c, "other"), &records[..10]);
        for i in [0, 1, 777, 4999] {
            let (p, r) = &records[i];
            assert_eq!(c.inventory("j", "t", p).unwrap(), Some(*r), "{p}");
        }
        assert_eq!(c.inventory("j", "t", "host-0/day-00/zzz").unwrap(), None);
        assert_eq!(c.inventory("j", "t", "").unwrap(), None);
        assert_eq!(c.inventory("j", "nothing", "a").unwrap(), None);

        // The cursor hands out the records before a path, then the path's own.
        let mut cursor = c.inventory_cursor("j", "t");
        let mut passed = Vec::new();
        let got = cursor.until(Some(&records[600].0), |p, _| {
            passed.push(p);
            Ok(())
        });
        assert_eq!(got.unwrap(), Some(records[600].1));
        assert_eq!(passed.len(), 600);
        assert_eq!(
            cursor
                .until(Some("host-0/day-00/zzz"), |_, _| Ok(()))
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_listing_writes_only_the_chunks_that_changed() {
        let (_dir, c) = open();
        let mut records = alike(5000, 1);
        let all = write(&c, "t", &records);
        assert_eq!(
            write(&c, "t", &records),
            0,
            "nothing changed, nothing written"
        );

        records[2500].1 = rec(2);
        assert_eq!(write(&c, "t", &records), 1);
        // A file gone and one new: at most their chunks (and a boundary's neighbour).
        records.remove(100);
        records.push(("zz-new".into(), rec(3)));
        assert!(write(&c, "t", &records) <= 3);
        assert_eq!(read(&c, "t"), records);
        // The replaced chunks' files went with them.
        assert_eq!(files(&c, "t"), index_len(&c, "t"));
        assert!(files(&c, "t").abs_diff(all as usize) <= 2);

        // Everything vanished: no chunk left.
        assert_eq!(write(&c, "t", &[]), 0);
        assert_eq!(read(&c, "t"), []);
        assert_eq!((files(&c, "t"), index_len(&c, "t")), (0, 0));
    }

    /// The listing reads the stored chunks while it writes the new ones: nothing it writes
    /// may come back as a stored record, whatever moves.
    #[test]
    fn reading_while_writing_hands_out_each_stored_record_once() {
        let (_dir, c) = open();
        let all = paths(6000);
        // Stored: every other path. Listed: every path but each seventh, so new
        // boundaries fall between stored ones and stored chunks vanish in part.
        let stored: Vec<_> = all.iter().step_by(2).map(|p| (p.clone(), rec(1))).collect();
        write(&c, "t", &stored);
        let listed: Vec<&String> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 7 != 0)
            .map(|(_, p)| p)
            .collect();
        let mut cursor = c.inventory_cursor("j", "t");
        let mut writer = c.inventory_writer("j", "t").unwrap();
        let mut seen = Vec::new();
        let mut expected = Vec::new();
        for p in &listed {
            let before = cursor
                .until(Some(p), |p, r| {
                    seen.push(p);
                    let _ = r;
                    Ok(())
                })
                .unwrap();
            if before.is_some() {
                seen.push(p.to_string());
            }
            let r = rec(if before.is_some() { 1 } else { 2 });
            writer.push(p.to_string(), r).unwrap();
            expected.push((p.to_string(), r));
        }
        cursor
            .until(None, |p, _| {
                seen.push(p);
                Ok(())
            })
            .unwrap();
        writer.finish().unwrap();
        let stored_paths: Vec<String> = stored.into_iter().map(|(p, _)| p).collect();
        assert_eq!(seen, stored_paths);
        assert_eq!(read(&c, "t"), expected);
        assert_eq!(files(&c, "t"), index_len(&c, "t"));
    }

    #[test]
    fn a_listing_that_stops_half_way_leaves_the_index_as_it_was() {
        let (_dir, c) = open();
        let records = alike(4000, 1);
        write(&c, "t", &records);
        let index = index_len(&c, "t");
        let mut w = c.inventory_writer("j", "t").unwrap();
        for (p, _) in &records[..2000] {
            w.push(p.clone(), rec(2)).unwrap();
        }
        assert!(files(&c, "t") > index);
        drop(w);
        assert_eq!(read(&c, "t"), records);
        assert_eq!(index_len(&c, "t"), index);
        // Its chunk files went with it.
        assert_eq!(files(&c, "t"), index);
    }

    #[test]
    fn a_damaged_or_missing_chunk_is_an_error_not_a_shorter_listing() {
        let (_dir, c) = open();
        let records = alike(2000, 1);
        write(&c, "t", &records);
        let folder = target_dir(&c.inventory_dir(), "j", "t");
        let mut names: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        let mut bytes = std::fs::read(&names[0]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&names[0], bytes).unwrap();
        let e = c.inventory_cursor("j", "t").until(None, |_, _| Ok(()));
        assert!(
            matches!(&e, Err(CatalogError::InventoryDamaged { detail, .. }) if detail.contains("BLAKE3")),
            "{:?}",
            e.err()
        );
        std::fs::remove_file(&names[0]).unwrap();
        let e = c.inventory_cursor("j", "t").until(None, |_, _| Ok(()));
        assert!(
            matches!(&e, Err(CatalogError::InventoryDamaged { detail, .. }) if detail.contains("is missing")),
            "{:?}",
            e.err()
        );
        // Dropping the damaged chunk leaves the others readable; their records stay.
        let dropped = c.drop_damaged_inventory("j", "t").unwrap();
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        let rest = read(&c, "t");
        assert!(!rest.is_empty() && rest.len() < records.len());
        assert!(rest.iter().all(|r| records.contains(r)));
        assert_eq!(
            c.drop_damaged_inventory("j", "t").unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_lookup_reads_a_chunk_once_for_paths_in_order() {
        let (_dir, c) = open();
        let records = numbered(3000);
        write(&c, "t", &records);
        let mut lookup = c.inventory_lookup("j", "t").unwrap();
        for (p, r) in records.iter().step_by(3) {
            assert_eq!(lookup.get(p).unwrap(), Some(*r), "{p}");
            assert_eq!(lookup.get(&format!("{p}~")).unwrap(), None);
        }
        // Every file gone: the chunk in memory still answers, any other is an error.
        for f in std::fs::read_dir(target_dir(&c.inventory_dir(), "j", "t")).unwrap() {
            std::fs::remove_file(f.unwrap().path()).unwrap();
        }
        assert_eq!(lookup.get(&records[2999].0).unwrap(), Some(records[2999].1));
        assert!(lookup.get(&records[0].0).is_err());
    }

    #[test]
    fn an_index_entry_naming_another_chunk_is_damage() {
        let (_dir, c) = open();
        let records = alike(2000, 1);
        write(&c, "t", &records);
        let entries: Vec<_> = c
            .inventory_chunks
            .scan_prefix(prefix(&["j", "t"]))
            .map(|e| e.unwrap())
            .collect();
        assert!(entries.len() > 1);
        // The first chunk's entry names the second chunk's (whole, matching) file.
        c.inventory_chunks
            .insert(&entries[0].0, entries[1].1.clone())
            .unwrap();
        let e = c.inventory_cursor("j", "t").until(None, |_, _| Ok(()));
        assert!(
            matches!(&e, Err(CatalogError::InventoryDamaged { detail, .. }) if detail.contains("does not start with")),
            "{:?}",
            e.err()
        );
    }

    #[test]
    fn decoding_rejects_what_it_cannot_trust() {
        let records = alike(50, 7);
        let bytes = encode(&records);
        assert_eq!(decode(&bytes).unwrap(), records);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&bytes[1..]).is_err());
        let swapped = encode(&[records[1].clone(), records[0].clone()]);
        assert!(decode(&swapped).unwrap_err().contains("out of order"));
    }

    #[test]
    fn an_older_catalogs_records_are_converted_once() {
        let (_dir, c) = open();
        // More than one batch of removals (4,096).
        let records = numbered(5000);
        for (p, r) in &records {
            c.inventory
                .insert(key(&["j", "t", p]), &r.encode()[..])
                .unwrap();
        }
        c.inventory
            .insert(key(&["j", "u", "x"]), &rec(1).encode()[..])
            .unwrap();
        // Before the conversion, a look-up reads the old record.
        assert_eq!(
            c.inventory("j", "t", &records[5].0).unwrap(),
            Some(records[5].1)
        );
        c.chunk_inventory("j", "t").unwrap();
        assert_eq!(read(&c, "t"), records);
        assert_eq!(
            c.inventory("j", "t", &records[5].0).unwrap(),
            Some(records[5].1)
        );
        assert_eq!(c.inventory.scan_prefix(prefix(&["j", "t"])).count(), 0);
        // Another target's old records wait for its own listing.
        assert_eq!(c.inventory.len(), 1);
        // The space they held is given back at the next compaction.
        let base = c.meta.get(b"compacted-bytes").unwrap();
        assert_eq!(base.as_deref(), Some(&[0u8; 8][..]));
        // A target without old records asks for nothing.
        c.meta.remove(b"compacted-bytes").unwrap();
        c.chunk_inventory("j", "new").unwrap();
        assert_eq!(c.meta.get(b"compacted-bytes").unwrap(), None);
        // Done once: an old record left behind is removed, not read again.
        c.inventory
            .insert(key(&["j", "t", "zzz"]), &rec(1).encode()[..])
            .unwrap();
        c.chunk_inventory("j", "t").unwrap();
        assert_eq!(read(&c, "t"), records);
        assert_eq!(c.inventory.len(), 1);
    }

    #[test]
    fn a_sweep_removes_the_files_no_index_names() {
        let (_dir, c) = open();
        // No chunk written yet: no folder, nothing to do.
        assert_eq!(c.sweep_inventory().unwrap(), 0);
        let records = alike(2000, 1);
        write(&c, "t", &records);
        let kept = files(&c, "t");
        let folder = target_dir(&c.inventory_dir(), "j", "t");
        std::fs::write(folder.join(file_name(&[7; 32])), b"orphan").unwrap();
        std::fs::write(folder.join("x.tmp"), b"half written").unwrap();
        std::fs::create_dir_all(c.inventory_dir().join("gone")).unwrap();
        {
            let _other = c.clone();
            assert_eq!(
                c.sweep_inventory().unwrap(),
                0,
                "another handle may be writing"
            );
        }
        assert_eq!(c.sweep_inventory().unwrap(), 2);
        assert_eq!(files(&c, "t"), kept);
        assert!(!c.inventory_dir().join("gone").exists());
        assert_eq!(read(&c, "t"), records);
    }
}

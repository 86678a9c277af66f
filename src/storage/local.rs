//! Local folders and mounted storage (NAS, USB): a walk of the folder tree with `std::fs`.
//!
//! Symbolic links follow the target's `follow_symlinks` policy: by default (`inside`) a
//! link is followed only when what it points to resolves inside the target's root, so a
//! link to `/etc/shadow` or `/etc` never pulls host files into a client's backup set;
//! `none` follows no link, `all` follows every link (loops are detected). Whatever the
//! walk leaves out (links not followed, broken links, devices, pipes, sockets) is counted
//! and listed by [`Target::skipped`], never dropped silently. A name that is not UTF-8
//! makes the listing fail, which gives the target an error verdict.

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::config::FollowSymlinks;

use super::store::{open_and_read, open_error, read_error};
use super::{
    BlockingRead, ByteStream, Entry, ErrorKind, Skipped, Target, TargetError, io_kind, path_order,
};

/// Entries sent from the walk at once.
const BATCH: usize = 512;

/// A local folder.
pub struct LocalTarget {
    root: PathBuf,
    /// The root with every link resolved: what "inside" means.
    canonical: PathBuf,
    follow: FollowSymlinks,
    location: String,
    skipped: Arc<Mutex<Skipped>>,
}

/// Opens the folder `root`. It must exist, be a folder and be readable: a missing
/// mount point is a "could not verify", never an empty pass.
pub async fn open(root: &Path, follow: FollowSymlinks) -> Result<LocalTarget, TargetError> {
    let root: PathBuf = root.to_path_buf();
    let checked = root.clone();
    let canonical = tokio::task::spawn_blocking(move || check_root(&checked))
        .await
        .map_err(|e| TargetError::new(ErrorKind::Other, e.to_string()))??;
    Ok(LocalTarget {
        location: format!("file://{}", root.display()),
        root,
        canonical,
        follow,
        skipped: Arc::new(Mutex::new(Skipped::default())),
    })
}

fn check_root(root: &Path) -> Result<PathBuf, TargetError> {
    let shown = root.display();
    let meta = std::fs::metadata(root).map_err(|e| {
        let kind = io_kind(&e);
        let msg = match kind {
            ErrorKind::NotFound => {
                format!("folder {shown} does not exist (is the disk or share mounted?)")
            }
            ErrorKind::PermissionDenied => format!("permission denied on folder {shown}"),
            _ => format!("cannot open folder {shown}: {e}"),
        };
        TargetError::new(kind, msg)
    })?;
    if !meta.is_dir() {
        return Err(TargetError::new(
            ErrorKind::NotFound,
            format!("{shown} is not a folder"),
        ));
    }
    std::fs::read_dir(root)
        .map_err(|e| TargetError::new(io_kind(&e), format!("cannot read folder {shown}: {e}")))?;
    std::fs::canonicalize(root)
        .map_err(|e| TargetError::new(io_kind(&e), format!("cannot resolve {shown}: {e}")))
}

fn modified(meta: &std::fs::Metadata) -> DateTime<Utc> {
    meta.modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// One entry of a folder being walked: a file, or a folder (relative path, path on disk).
enum Child {
    File(Entry),
    Folder(String, PathBuf),
}

impl Child {
    /// The entry's own name (the last part of its path).
    fn name(&self) -> &str {
        let rel = match self {
            Child::File(e) => &e.path,
            Child::Folder(rel, _) => rel,
        };
        rel.rsplit('/').next().unwrap_or(rel)
    }

    fn is_folder(&self) -> bool {
        matches!(self, Child::Folder(..))
    }
}

/// The walk of a folder tree, run on the blocking pool.
struct Walk {
    root: PathBuf,
    canonical: PathBuf,
    follow: FollowSymlinks,
    /// Folders entered, by device and inode: a link back up is a loop, not a new folder.
    visited: HashSet<(u64, u64)>,
    skipped: Skipped,
    /// Where the skipped entries are reported, before the listing ends.
    report: Arc<Mutex<Skipped>>,
    batch: Vec<Result<Entry, TargetError>>,
    tx: tokio::sync::mpsc::Sender<Vec<Result<Entry, TargetError>>>,
}

impl Walk {
    /// Sends the batch; `false` when the listing was dropped.
    fn flush(&mut self) -> bool {
        let batch = std::mem::take(&mut self.batch);
        batch.is_empty() || self.tx.blocking_send(batch).is_ok()
    }

    fn push(&mut self, item: Result<Entry, TargetError>) -> bool {
        self.batch.push(item);
        self.batch.len() < BATCH || self.flush()
    }

    fn skip(&mut self, path: String, reason: String) {
        self.skipped.add(path, reason);
    }

    /// Walks the whole tree depth-first, each folder's entries in [`path_order`], so
    /// that paths come out in byte order; stops early when the listing is dropped or on
    /// an error. Memory holds the entries of the folders being walked (one per level),
    /// never the whole tree.
    fn run(mut self) {
        if let Ok(m) = std::fs::metadata(&self.root) {
            self.visited.insert((m.dev(), m.ino()));
        }
        let root = self.root.clone();
        let mut stack = match self.folder(String::new(), &root) {
            Ok(children) => vec![children.into_iter()],
            Err(e) => {
                self.push(Err(e));
                return self.finish();
            }
        };
        while let Some(top) = stack.last_mut() {
            let Some(child) = top.next() else {
                stack.pop();
                continue;
            };
            let more = match child {
                Child::File(entry) => self.push(Ok(entry)),
                Child::Folder(rel, path) => match self.folder(format!("{rel}/"), &path) {
                    Ok(children) => {
                        stack.push(children.into_iter());
                        true
                    }
                    Err(e) => {
                        self.push(Err(e));
                        false
                    }
                },
            };
            if !more {
                break;
            }
        }
        self.finish()
    }

    /// The entries of one folder worth listing, in [`path_order`].
    fn folder(&mut self, prefix: String, dir: &Path) -> Result<Vec<Child>, TargetError> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            TargetError::new(
                io_kind(&e),
                format!("cannot read folder {}: {e}", dir.display()),
            )
        })?;
        let mut children = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                TargetError::new(
                    io_kind(&e),
                    format!("listing folder {} failed: {e}", dir.display()),
                )
            })?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(TargetError::new(
                    ErrorKind::InvalidName,
                    format!(
                        "a name in {} is not valid UTF-8 ({}): rename it so it can be verified",
                        dir.display(),
                        name.to_string_lossy()
                    ),
                ));
            };
            if let Some(child) = self.visit(&entry, format!("{prefix}{name}"))? {
                children.push(child);
            }
        }
        children.sort_by(|a, b| path_order(a.name(), a.is_folder(), b.name(), b.is_folder()));
        Ok(children)
    }

    /// One directory entry: a file to list, a folder to enter, or nothing (skipped, or
    /// gone since the folder was read).
    fn visit(
        &mut self,
        entry: &std::fs::DirEntry,
        rel: String,
    ) -> Result<Option<Child>, TargetError> {
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|e| TargetError::new(io_kind(&e), format!("{rel}: {e}")))?;
        let meta = if file_type.is_symlink() {
            match self.follow_link(&path, &rel) {
                Some(meta) => meta,
                None => return Ok(None),
            }
        } else {
            match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(TargetError::new(io_kind(&e), format!("{rel}: {e}"))),
            }
        };
        if meta.is_file() {
            Ok(Some(Child::File(Entry {
                path: rel,
                size: meta.len(),
                modified: modified(&meta),
            })))
        } else if meta.is_dir() {
            if self.visited.insert((meta.dev(), meta.ino())) {
                Ok(Some(Child::Folder(rel, path)))
            } else {
                self.skip(
                    rel,
                    "a link back to a folder already listed (a loop)".into(),
                );
                Ok(None)
            }
        } else {
            self.skip(rel, "not a regular file (a device, pipe or socket)".into());
            Ok(None)
        }
    }

    /// What a symbolic link leads to, if the policy follows it.
    fn follow_link(&mut self, path: &Path, rel: &str) -> Option<std::fs::Metadata> {
        if self.follow == FollowSymlinks::None {
            self.skip(
                rel.to_string(),
                "symbolic link, not followed (follow_symlinks = \"none\")".into(),
            );
            return None;
        }
        let resolved = match std::fs::canonicalize(path) {
            Ok(r) => r,
            Err(_) => {
                let to = std::fs::read_link(path)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                self.skip(rel.to_string(), format!("broken symbolic link to {to}"));
                return None;
            }
        };
        if self.follow == FollowSymlinks::Inside && !resolved.starts_with(&self.canonical) {
            self.skip(
                rel.to_string(),
                format!(
                    "symbolic link to {} outside the target, not followed (follow_symlinks = \"inside\")",
                    resolved.display()
                ),
            );
            return None;
        }
        match std::fs::metadata(path) {
            Ok(m) => Some(m),
            Err(e) => {
                self.skip(
                    rel.to_string(),
                    format!("symbolic link that cannot be read: {e}"),
                );
                None
            }
        }
    }

    /// Reports what was skipped, then ends the listing (the sender drops with `self`).
    fn finish(mut self) {
        if let Ok(mut r) = self.report.lock() {
            *r = std::mem::take(&mut self.skipped);
        }
        self.flush();
    }
}

impl LocalTarget {
    /// The file `path` (relative, from a listing) on disk, if the link policy allows
    /// reaching it (see [`resolve`]).
    fn resolve(&self, path: &str) -> Result<PathBuf, TargetError> {
        resolve(&self.root, &self.canonical, self.follow, path)
    }
}

/// The file `path` (relative, from a listing) under `root` on disk, if the link policy
/// allows reaching it: names are untrusted, and a link may have been swapped since.
fn resolve(
    root: &Path,
    canonical: &Path,
    follow: FollowSymlinks,
    path: &str,
) -> Result<PathBuf, TargetError> {
    let rel = Path::new(path);
    if path.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(TargetError::new(
            ErrorKind::InvalidName,
            format!("`{path}` is not a path inside the target"),
        ));
    }
    let full = root.join(rel);
    let real = std::fs::canonicalize(&full).map_err(|e| {
        let kind = io_kind(&e);
        let msg = match kind {
            ErrorKind::NotFound => format!("`{path}` does not exist"),
            _ => format!("`{path}`: {e}"),
        };
        TargetError::new(kind, msg)
    })?;
    let allowed = match follow {
        FollowSymlinks::All => true,
        FollowSymlinks::Inside => real.starts_with(canonical),
        FollowSymlinks::None => real == canonical.join(rel),
    };
    if !allowed {
        return Err(TargetError::new(
            ErrorKind::PermissionDenied,
            format!(
                "`{path}` leads through a symbolic link to {}, which the link policy does not follow",
                real.display()
            ),
        ));
    }
    Ok(full)
}

/// A file of a local target read with blocking calls: resolved and opened at the first
/// read, on the caller's thread.
struct LocalRead {
    root: PathBuf,
    canonical: PathBuf,
    follow: FollowSymlinks,
    path: String,
    file: Option<std::fs::File>,
}

impl BlockingRead for LocalRead {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TargetError> {
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                let full = resolve(&self.root, &self.canonical, self.follow, &self.path)?;
                let f = std::fs::File::open(full).map_err(|e| open_error(&self.path, &e))?;
                self.file.insert(f)
            }
        };
        loop {
            match file.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(&self.path, &e)),
            }
        }
    }
}

#[async_trait]
impl Target for LocalTarget {
    fn location(&self) -> &str {
        &self.location
    }

    /// Two files at once: each is read and hashed on its own thread, so two keep two
    /// cores busy where one waits on its own reads.
    fn default_concurrency(&self) -> usize {
        2
    }

    fn list(&self) -> BoxStream<'static, Result<Entry, TargetError>> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let walk = Walk {
            root: self.root.clone(),
            canonical: self.canonical.clone(),
            follow: self.follow,
            visited: HashSet::new(),
            skipped: Skipped::default(),
            report: self.skipped.clone(),
            batch: Vec::with_capacity(BATCH),
            tx,
        };
        if let Ok(mut s) = self.skipped.lock() {
            *s = Skipped::default();
        }
        tokio::task::spawn_blocking(move || walk.run());
        tokio_stream::wrappers::ReceiverStream::new(rx)
            .flat_map(futures::stream::iter)
            .boxed()
    }

    fn skipped(&self) -> Skipped {
        self.skipped.lock().map(|s| s.clone()).unwrap_or_default()
    }

    async fn stat(&self, path: &str) -> Result<Entry, TargetError> {
        let full = self.resolve(path)?;
        let meta = tokio::fs::metadata(&full).await.map_err(|e| {
            let kind = io_kind(&e);
            TargetError::new(kind, format!("`{path}`: {e}"))
        })?;
        Ok(Entry {
            path: path.to_string(),
            size: meta.len(),
            modified: modified(&meta),
        })
    }

    async fn read(&self, path: &str) -> Result<ByteStream, TargetError> {
        let full = self.resolve(path)?;
        open_and_read(full, path.to_string()).await
    }

    /// The piece read where it is (`pread`), not from the start of the file (a restic
    /// pack's blobs are read this way).
    async fn read_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, TargetError> {
        use std::os::unix::fs::FileExt;
        let full = self.resolve(path)?;
        let what = path.to_string();
        let want = super::check_range(&what, len)?;
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&full).map_err(|e| open_error(&what, &e))?;
            super::read_piece(
                &what,
                offset,
                want,
                |buf, done| file.read_at(buf, offset.saturating_add(done as u64)),
                |e| read_error(&what, &e),
            )
        })
        .await
        .map_err(|e| TargetError::new(ErrorKind::Other, format!("read task failed: {e}")))?
    }

    fn blocking_reader(&self, path: &str) -> Option<Box<dyn BlockingRead>> {
        Some(Box::new(LocalRead {
            root: self.root.clone(),
            canonical: self.canonical.clone(),
            follow: self.follow,
            path: path.to_string(),
            file: None,
        }))
    }
}

//! Storage targets: where backups are read from.
//!
//! One small trait, [`Target`], with one module per backend. The checks in
//! [`crate::verify`] only ever see this trait. [`store::StoreTarget`] adapts any
//! `object_store` backend (S3); [`local`] walks local folders with `std::fs`, [`smb`]
//! talks to SMB shares. A new backend implements the trait and passes the shared suite in
//! `tests/common/suite.rs`.

mod buffer;
pub mod local;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "smb")]
pub mod smb;
pub mod store;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::config::{Location, TargetSpec};

/// One file (object) of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the target's root, `/`-separated. Untrusted: it comes from the
    /// storage and may contain anything the storage allows.
    pub path: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
}

/// What a listing left out on purpose (links not followed, special files), with why: the
/// count, and up to [`Skipped::LIST_LIMIT`] of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    pub count: u64,
    pub entries: Vec<(String, String)>,
}

impl Skipped {
    pub const LIST_LIMIT: usize = 100;

    pub fn add(&mut self, path: String, reason: String) {
        self.count += 1;
        if self.entries.len() < Self::LIST_LIMIT {
            self.entries.push((path, reason));
        }
    }
}

/// The bytes of one file, in order, as they arrive.
pub type ByteStream = BoxStream<'static, Result<Bytes, TargetError>>;

/// The order of two entries of one folder (`name`, and whether it is a folder) that makes
/// a depth-first walk list every path in byte order: a folder sorts as its name followed
/// by `/`, where all of its paths begin.
pub fn path_order(a: &str, a_folder: bool, b: &str, b_folder: bool) -> std::cmp::Ordering {
    let slash = |folder: bool| if folder { &b"/"[..] } else { &b""[..] };
    let a = a.as_bytes().iter().chain(slash(a_folder));
    let b = b.as_bytes().iter().chain(slash(b_folder));
    a.cmp(b)
}

/// A file read with blocking calls, piece by piece (see [`Target::blocking_reader`]).
pub trait BlockingRead: Send {
    /// Fills the start of `buf` with the next bytes of the file and says how many; 0 at
    /// the end.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TargetError>;
}

/// Read access to one backup location.
#[async_trait]
pub trait Target: Send + Sync + 'static {
    /// Where this target is, for people: never contains a secret.
    fn location(&self) -> &str;

    /// How many files to restore at once when the policy does not say.
    fn default_concurrency(&self) -> usize {
        1
    }

    /// Every file under the target's root, as a stream (never collected by the target),
    /// in byte order of path: the listing pass merges it with the catalog's records in
    /// that order (and refuses a listing out of order). A backend that walks folders gets
    /// this order by walking depth-first with each folder's entries in [`path_order`].
    fn list(&self) -> BoxStream<'static, Result<Entry, TargetError>>;

    /// What the last complete listing left out on purpose, and why. Nothing, for
    /// backends that leave nothing out.
    fn skipped(&self) -> Skipped {
        Skipped::default()
    }

    /// Size and modification time of one file.
    async fn stat(&self, path: &str) -> Result<Entry, TargetError>;

    /// The content of one file as a stream of chunks of bounded size.
    async fn read(&self, path: &str) -> Result<ByteStream, TargetError>;

    /// The content of one file as a blocking reader, for backends whose reads are plain
    /// system calls (local files): a restore then reads and hashes each piece on one
    /// thread while it is still in the CPU cache, instead of handing chunks between
    /// threads. Nothing is opened until the first read, which the caller makes on a
    /// blocking thread. `None` (the default): use [`Target::read`].
    fn blocking_reader(&self, _path: &str) -> Option<Box<dyn BlockingRead>> {
        None
    }

    /// The files under `folder` (a path prefix ending in `/`). By default the whole
    /// listing, filtered; backends that can list a prefix do better.
    fn list_under(&self, folder: &str) -> BoxStream<'static, Result<Entry, TargetError>> {
        use futures::TryStreamExt;
        let folder = folder.to_string();
        self.list()
            .try_filter(move |e| std::future::ready(e.path.starts_with(&folder)))
            .boxed()
    }

    /// `len` bytes of one file from `offset` on (for small pieces of large files, at most
    /// [`MAX_RANGE`]: the piece is held in memory whole). By
    /// default the file is read from its start and the bytes before `offset` skipped;
    /// backends that can read a range do better.
    async fn read_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, TargetError> {
        check_range(path, len)?;
        let mut stream = self.read(path).await?;
        let end = offset.saturating_add(len);
        let mut out = bytes::BytesMut::with_capacity(len.min(16 << 20) as usize);
        let mut pos = 0u64;
        while pos < end {
            let Some(chunk) = stream.next().await else {
                break;
            };
            let chunk = chunk?;
            let next = pos + chunk.len() as u64;
            if next > offset {
                let from = offset.saturating_sub(pos) as usize;
                let to = (end.min(next) - pos) as usize;
                out.extend_from_slice(&chunk[from..to]);
            }
            pos = next;
        }
        if (out.len() as u64) < len {
            return Err(TargetError::new(
                ErrorKind::Read,
                format!("`{path}` ends at byte {pos}, before the range {offset}..{end}"),
            ));
        }
        Ok(out.freeze())
    }
}

/// The largest piece [`Target::read_range`] reads (its caller holds it whole).
pub const MAX_RANGE: u64 = 256 << 20;

/// A [`Target::read_range`] of `len` bytes is refused above [`MAX_RANGE`].
pub(crate) fn check_range(path: &str, len: u64) -> Result<usize, TargetError> {
    usize::try_from(len)
        .ok()
        .filter(|_| len <= MAX_RANGE)
        .ok_or_else(|| {
            TargetError::new(
                ErrorKind::Read,
                format!("`{path}`: a piece of {len} bytes is more than is read at once"),
            )
        })
}

/// A piece of `want` bytes of `path` from byte `offset` on, filled by `read` (given the
/// rest of the piece and how much of it is filled) until full; a file that ends first
/// is an error, and `failed` words a read error.
pub(crate) fn read_piece(
    path: &str,
    offset: u64,
    want: usize,
    mut read: impl FnMut(&mut [u8], usize) -> std::io::Result<usize>,
    failed: impl Fn(std::io::Error) -> TargetError,
) -> Result<Bytes, TargetError> {
    let mut buf = vec![0u8; want];
    let mut done = 0;
    while done < want {
        match read(&mut buf[done..], done) {
            Ok(0) => {
                return Err(TargetError::new(
                    ErrorKind::Read,
                    format!("`{path}`: {done} bytes read from byte {offset}, {want} wanted"),
                ));
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failed(e)),
        }
    }
    Ok(Bytes::from(buf))
}

/// Opens the target a configuration entry describes. Local folders and SMB shares are
/// checked here (missing folder, wrong password); S3 is first contacted by the listing.
pub async fn open(spec: &TargetSpec) -> Result<Arc<dyn Target>, TargetError> {
    match &spec.location {
        Location::Local(path) => Ok(Arc::new(
            local::open(path, spec.policy.follow_symlinks).await?,
        )),
        #[cfg(feature = "s3")]
        Location::S3(loc) => Ok(Arc::new(s3::open(loc)?)),
        #[cfg(feature = "smb")]
        Location::Smb(loc) => Ok(Arc::new(smb::open(loc).await?)),
        #[allow(unreachable_patterns)]
        other => Err(TargetError::new(
            ErrorKind::Other,
            format!("this backproof was built without support for {other}"),
        )),
    }
}

/// What kind of problem a target had. Decides the verdict: see [`ErrorKind::is_target_wide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The root, or one file, does not exist.
    NotFound,
    PermissionDenied,
    /// Credentials were refused.
    Auth,
    /// The server or device could not be reached.
    Unreachable,
    Timeout,
    /// A name the storage returned cannot be used.
    InvalidName,
    /// Reading failed part way (I/O error, server error, checksum error on the server).
    Read,
    Other,
}

impl ErrorKind {
    /// Problems that stop the whole target from being verified, as opposed to one file
    /// that cannot be read while the rest of the target answers.
    pub fn is_target_wide(self) -> bool {
        matches!(
            self,
            ErrorKind::Auth | ErrorKind::Unreachable | ErrorKind::Timeout
        )
    }
}

/// A target could not do what was asked. The message is plain words for a technician and
/// never contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub struct TargetError {
    pub kind: ErrorKind,
    pub message: String,
}

impl TargetError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        TargetError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Classifies an I/O error by its kind.
pub fn io_kind(err: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::NotFound => ErrorKind::NotFound,
        K::PermissionDenied => ErrorKind::PermissionDenied,
        K::TimedOut => ErrorKind::Timeout,
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown => ErrorKind::Unreachable,
        _ => ErrorKind::Read,
    }
}

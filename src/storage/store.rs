//! [`Target`] over any `object_store` backend (S3).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, GetResultPayload, ObjectMeta, ObjectStore, ObjectStoreExt,
};

use super::buffer::BufferPool;
use super::{ByteStream, Entry, ErrorKind, Target, TargetError, io_kind};

/// Chunks read from a local file: large, since a local disk has no latency to hide.
const FILE_CHUNK: usize = 4 << 20;

/// The chunk buffers of every local file read, shared so that a restore of many small
/// files does not allocate and zero a new buffer for each.
static FILE_BUFFERS: std::sync::LazyLock<Arc<BufferPool>> =
    std::sync::LazyLock::new(|| BufferPool::new(FILE_CHUNK));

/// Turns a backend's error about `what` (a path, or "listing") into plain words.
pub type ErrorMapper = Arc<dyn Fn(object_store::Error, &str) -> TargetError + Send + Sync>;

/// An `object_store` backend seen as a [`Target`], optionally below a key prefix.
pub struct StoreTarget {
    location: String,
    store: Arc<dyn ObjectStore>,
    prefix: Option<Path>,
    default_concurrency: usize,
    errors: ErrorMapper,
    ranged: Option<RangedReads>,
}

/// Large objects read as ranges of `part` bytes, `in_flight` of them at once (in order),
/// all pinned to the version (ETag) the first range came from. Memory: `in_flight` parts.
#[derive(Debug, Clone, Copy)]
pub struct RangedReads {
    pub part: u64,
    pub in_flight: usize,
}

impl StoreTarget {
    pub fn new(
        location: impl Into<String>,
        store: Arc<dyn ObjectStore>,
        prefix: Option<Path>,
        default_concurrency: usize,
    ) -> Self {
        StoreTarget {
            location: location.into(),
            store,
            prefix,
            default_concurrency,
            errors: Arc::new(map_error),
            ranged: None,
        }
    }

    /// Reads large objects as ranges, several at once (see [`RangedReads`]).
    pub fn with_ranged_reads(mut self, ranged: RangedReads) -> Self {
        self.ranged = Some(ranged);
        self
    }

    /// Uses `errors` to phrase this backend's errors.
    pub fn with_errors(mut self, errors: ErrorMapper) -> Self {
        self.errors = errors;
        self
    }

    fn full_path(&self, path: &str) -> Result<Path, TargetError> {
        let joined = match &self.prefix {
            Some(prefix) => format!("{prefix}/{path}"),
            None => path.to_string(),
        };
        Path::parse(&joined).map_err(|e| {
            TargetError::new(
                ErrorKind::InvalidName,
                format!("`{path}` is not a valid name: {e}"),
            )
        })
    }

    fn entry(prefix: Option<&Path>, meta: ObjectMeta) -> Entry {
        let full = meta.location.as_ref();
        let path = match prefix {
            Some(p) => full
                .strip_prefix(p.as_ref())
                .map(|s| s.trim_start_matches('/'))
                .unwrap_or(full),
            None => full,
        };
        Entry {
            path: path.to_string(),
            size: meta.size,
            modified: meta.last_modified,
        }
    }
}

#[async_trait]
impl Target for StoreTarget {
    fn location(&self) -> &str {
        &self.location
    }

    fn default_concurrency(&self) -> usize {
        self.default_concurrency
    }

    fn list(&self) -> BoxStream<'static, Result<Entry, TargetError>> {
        let prefix = self.prefix.clone();
        let errors = self.errors.clone();
        let entries = self.store.list(self.prefix.as_ref()).map(move |r| match r {
            Ok(meta) => Ok(Self::entry(prefix.as_ref(), meta)),
            Err(e) => Err(errors(e, "listing")),
        });
        without_folder_markers(entries.boxed())
    }

    async fn stat(&self, path: &str) -> Result<Entry, TargetError> {
        let full = self.full_path(path)?;
        let meta = self
            .store
            .head(&full)
            .await
            .map_err(|e| (self.errors)(e, path))?;
        Ok(Self::entry(self.prefix.as_ref(), meta))
    }

    fn list_under(&self, folder: &str) -> BoxStream<'static, Result<Entry, TargetError>> {
        let full = match self.full_path(folder.trim_end_matches('/')) {
            Ok(p) => p,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let prefix = self.prefix.clone();
        let errors = self.errors.clone();
        let entries = self.store.list(Some(&full)).map(move |r| match r {
            Ok(meta) => Ok(Self::entry(prefix.as_ref(), meta)),
            Err(e) => Err(errors(e, "listing")),
        });
        without_folder_markers(entries.boxed())
    }

    async fn read_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, TargetError> {
        super::check_range(path, len)?;
        let full = self.full_path(path)?;
        let bytes = self
            .store
            .get_range(&full, offset..offset.saturating_add(len))
            .await
            .map_err(|e| (self.errors)(e, path))?;
        if (bytes.len() as u64) < len {
            return Err(TargetError::new(
                ErrorKind::Read,
                format!(
                    "`{path}`: {} bytes read from byte {offset}, {len} wanted",
                    bytes.len()
                ),
            ));
        }
        Ok(bytes)
    }

    async fn read(&self, path: &str) -> Result<ByteStream, TargetError> {
        let full = self.full_path(path)?;
        match self.ranged {
            Some(ranged) => self.read_ranged(full, path, ranged).await,
            None => self.read_whole(&full, path).await,
        }
    }
}

impl StoreTarget {
    /// The object in one request, streamed.
    async fn read_whole(&self, full: &Path, path: &str) -> Result<ByteStream, TargetError> {
        let result = self
            .store
            .get(full)
            .await
            .map_err(|e| (self.errors)(e, path))?;
        let what = path.to_string();
        let errors = self.errors.clone();
        Ok(match result.payload {
            GetResultPayload::File(file, _) => read_file(file, what),
            GetResultPayload::Stream(s) => s.map_err(move |e| errors(e, &what)).boxed(),
        })
    }

    /// The first part of the object streamed; when the object is larger, the rest as
    /// ranges of the same version fetched `in_flight` at a time, handed on in order.
    async fn read_ranged(
        &self,
        full: Path,
        path: &str,
        ranged: RangedReads,
    ) -> Result<ByteStream, TargetError> {
        let RangedReads { part, in_flight } = ranged;
        let first = GetOptions {
            range: Some(GetRange::Bounded(0..part)),
            ..Default::default()
        };
        let first = match self.store.get_opts(&full, first).await {
            Ok(first) => first,
            // An empty object has no range to read, and every other error is best told
            // by a plain read of the whole object.
            Err(_) => return self.read_whole(&full, path).await,
        };
        let size = first.meta.size;
        let Some(e_tag) = first.meta.e_tag.clone().filter(|_| size > part) else {
            if size > part {
                // Without an ETag, parts could come from different versions.
                return self.read_whole(&full, path).await;
            }
            let (what, errors) = (path.to_string(), self.errors.clone());
            return Ok(first
                .into_stream()
                .map_err(move |e| errors(e, &what))
                .boxed());
        };
        let (what, errors) = (path.to_string(), self.errors.clone());
        let head = first.into_stream().map_err(move |e| errors(e, &what));
        let store = self.store.clone();
        let (what, errors) = (path.to_string(), self.errors.clone());
        let starts = (1..).map(move |i| i * part).take_while(move |s| *s < size);
        let rest = futures::stream::iter(starts)
            .map(move |start| {
                let range = start..(start + part).min(size);
                let options = GetOptions {
                    range: Some(GetRange::Bounded(range.clone())),
                    if_match: Some(e_tag.clone()),
                    ..Default::default()
                };
                let (store, full) = (store.clone(), full.clone());
                // The part is kept as the pieces it arrived in: joined into one buffer,
                // each part was a fresh allocation the kernel had to zero and a copy of
                // every byte (a third of the CPU of reading a large object).
                async move {
                    let mut body = store.get_opts(&full, options).await?.into_stream();
                    let (mut pieces, mut got) = (Vec::new(), 0u64);
                    let wanted = range.end - range.start;
                    while let Some(piece) = body.next().await {
                        let piece = piece?;
                        got += piece.len() as u64;
                        pieces.push(piece);
                        if got > wanted {
                            break; // more than the range: an error below, memory bounded
                        }
                    }
                    Ok::<_, object_store::Error>((range, got, pieces))
                }
            })
            .buffered(in_flight)
            .map(move |got| match got {
                Ok((range, got, pieces)) if got == range.end - range.start => {
                    Ok(futures::stream::iter(pieces.into_iter().map(Ok)))
                }
                Ok((range, got, _)) => {
                    let wanted = range.end - range.start;
                    // Reading stopped once a part passed its range: then `got` is a floor.
                    let read = if got > wanted {
                        format!("more than {wanted}")
                    } else {
                        got.to_string()
                    };
                    Err(TargetError::new(
                        ErrorKind::Read,
                        format!(
                            "`{what}`: {read} bytes read from byte {}, {wanted} expected",
                            range.start
                        ),
                    ))
                }
                Err(e) => Err(errors(e, &what)),
            })
            .try_flatten();
        Ok(head.chain(rest).boxed())
    }
}

/// Reads a local file to its end (not just to the size seen when it was opened) in large
/// chunks, each on the blocking pool, with recycled buffers ([`FILE_BUFFERS`]).
pub(crate) fn read_file(file: std::fs::File, what: String) -> ByteStream {
    read_file_after(file, what, None)
}

/// A stream of listing items.
type ByteStreamOf<T> = BoxStream<'static, Result<T, TargetError>>;

/// Drops the folder markers of a bucket listing: the empty objects `db/` that consoles
/// create for a folder, which the listing gives as a file `db` (its trailing `/` trimmed).
/// S3 lists keys in byte order, where `db/` comes after `db.sql`: as a file `db`, the
/// marker would break the path order. A marker is an empty object followed by the
/// objects under it, or an empty object out of order.
fn without_folder_markers(entries: ByteStreamOf<Entry>) -> ByteStreamOf<Entry> {
    struct State {
        entries: ByteStreamOf<Entry>,
        /// An empty object, until the next one shows whether it is a folder marker.
        held: Option<Entry>,
        /// An entry to give out next.
        next: Option<Entry>,
        last: Option<String>,
    }
    let under = |folder: &Entry, e: &Entry| {
        e.path.len() > folder.path.len()
            && e.path.starts_with(&folder.path)
            && e.path.as_bytes()[folder.path.len()] == b'/'
    };
    let state = State {
        entries,
        held: None,
        next: None,
        last: None,
    };
    futures::stream::unfold(state, move |mut st| async move {
        if let Some(e) = st.next.take() {
            return Some((Ok(e), st));
        }
        loop {
            let e = match st.entries.next().await {
                None => return st.held.take().map(|h| (Ok(h), st)),
                Some(Err(err)) => return Some((Err(err), st)),
                Some(Ok(e)) => e,
            };
            if e.size == 0 && st.last.as_ref().is_some_and(|l| e.path <= *l) {
                continue; // a marker listed after its folder's siblings
            }
            match &mut st.last {
                Some(last) => last.clone_from(&e.path),
                None => st.last = Some(e.path.clone()),
            }
            let before = st.held.take().filter(|h| !under(h, &e));
            if e.size == 0 {
                st.held = Some(e);
            } else {
                st.next = Some(e);
            }
            if let Some(out) = before.or_else(|| st.next.take()) {
                return Some((Ok(out), st));
            }
        }
    })
    .boxed()
}

/// Opening the local file `what` failed.
pub(crate) fn open_error(what: &str, e: &std::io::Error) -> TargetError {
    let kind = io_kind(e);
    let msg = match kind {
        ErrorKind::NotFound => format!("`{what}` does not exist"),
        ErrorKind::PermissionDenied => format!("permission denied on `{what}`: {e}"),
        _ => format!("`{what}`: {e}"),
    };
    TargetError::new(kind, msg)
}

/// Reading the open local file `what` failed.
pub(crate) fn read_error(what: &str, e: &std::io::Error) -> TargetError {
    TargetError::new(io_kind(e), format!("reading `{what}` failed: {e}"))
}

/// Opens the local file `path` and reads its first chunk in one hand-off to the blocking
/// pool (a small file is then read whole), then goes on as [`read_file`].
pub(crate) async fn open_and_read(
    path: std::path::PathBuf,
    what: String,
) -> Result<ByteStream, TargetError> {
    let opened = tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let first = FILE_BUFFERS.read_chunk_to_end(&mut file);
        Ok::<_, std::io::Error>((file, first))
    })
    .await
    .map_err(|e| TargetError::new(ErrorKind::Other, format!("read task failed: {e}")))?;
    let (file, first) = opened.map_err(|e| open_error(&what, &e))?;
    Ok(match first {
        Err(e) => futures::stream::once(async move { Err(read_error(&what, &e)) }).boxed(),
        Ok((first, true)) => futures::stream::iter(first.map(Ok)).boxed(),
        Ok((first, false)) => read_file_after(file, what, first),
    })
}

/// [`read_file`] after a `first` chunk already read.
fn read_file_after(file: std::fs::File, what: String, first: Option<Bytes>) -> ByteStream {
    let rest = futures::stream::try_unfold(Some((file, what)), |state| async move {
        let Some((mut file, what)) = state else {
            return Ok(None);
        };
        let (file, what, chunk) = tokio::task::spawn_blocking(move || {
            let chunk = FILE_BUFFERS.read_chunk_to_end(&mut file);
            (file, what, chunk)
        })
        .await
        .map_err(|e| TargetError::new(ErrorKind::Other, format!("read task failed: {e}")))?;
        match chunk {
            Ok((None, _)) => Ok(None),
            // The end is seen: no further hand-off just to learn it.
            Ok((Some(bytes), true)) => Ok(Some((bytes, None))),
            Ok((Some(bytes), false)) => Ok(Some((bytes, Some((file, what))))),
            Err(e) => Err(read_error(&what, &e)),
        }
    });
    futures::stream::iter(first.map(Ok)).chain(rest).boxed()
}

/// Turns an `object_store` error into a [`TargetError`] about `what`, keeping the root
/// cause in plain words.
pub fn map_error(err: object_store::Error, what: &str) -> TargetError {
    let kind = error_kind(&err);
    let cause = root_cause(&err);
    let message = match kind {
        ErrorKind::NotFound => format!("`{what}` does not exist"),
        ErrorKind::PermissionDenied => format!("permission denied on `{what}`: {cause}"),
        _ => format!("{what}: {cause}"),
    };
    TargetError::new(kind, message)
}

/// The kind of an `object_store` error: from its variant, else from an HTTP or I/O error
/// in its chain of causes.
pub fn error_kind(err: &object_store::Error) -> ErrorKind {
    use object_store::Error as E;
    match err {
        E::NotFound { .. } => ErrorKind::NotFound,
        E::PermissionDenied { .. } => ErrorKind::PermissionDenied,
        E::Unauthenticated { .. } => ErrorKind::Auth,
        E::InvalidPath { .. } => ErrorKind::InvalidName,
        _ => http_kind(err)
            .or_else(|| io_source(err).map(io_kind))
            .unwrap_or(ErrorKind::Other),
    }
}

#[cfg(feature = "s3")]
fn http_kind(err: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(h) = e.downcast_ref::<HttpError>() {
            return Some(match h.kind() {
                HttpErrorKind::Connect => ErrorKind::Unreachable,
                HttpErrorKind::Timeout => ErrorKind::Timeout,
                _ => ErrorKind::Read,
            });
        }
        cur = e.source();
    }
    None
}

#[cfg(not(feature = "s3"))]
fn http_kind(_: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    None
}

fn io_source<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = e.source();
    }
    None
}

/// The innermost error's message.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        last = e.to_string();
        cur = e.source();
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn folder_markers_are_dropped_and_empty_files_kept() {
        let e = |path: &str, size| {
            Ok(Entry {
                path: path.into(),
                size,
                modified: chrono::DateTime::UNIX_EPOCH,
            })
        };
        // As S3 lists them: `db/` (a marker, trimmed to `db`) after `db.sql`; `e/` before
        // `e/f`; `a.txt` and `g` are really empty files.
        let listed = vec![
            e("a.txt", 0),
            e("db.sql", 5),
            e("db", 0),
            e("db/x", 3),
            e("e", 0),
            e("e/f", 1),
            e("g", 0),
        ];
        let kept: Vec<String> = without_folder_markers(futures::stream::iter(listed).boxed())
            .map(|r| r.unwrap().path)
            .collect()
            .await;
        assert_eq!(kept, ["a.txt", "db.sql", "db/x", "e/f", "g"]);
    }
}

//! [`Target`] over any `object_store` backend (local files today, S3 next).

use std::io::Read;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetResultPayload, ObjectMeta, ObjectStore, ObjectStoreExt};

use super::{ByteStream, Entry, ErrorKind, Target, TargetError, io_kind};

/// Size of the chunks read from a local file; the stream holds one at a time.
const FILE_CHUNK: u64 = 4 << 20;

/// An `object_store` backend seen as a [`Target`], optionally below a key prefix.
pub struct StoreTarget {
    location: String,
    store: Arc<dyn ObjectStore>,
    prefix: Option<Path>,
    default_concurrency: usize,
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
        }
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
        self.store
            .list(self.prefix.as_ref())
            .map(move |r| match r {
                Ok(meta) => Ok(Self::entry(prefix.as_ref(), meta)),
                Err(e) => Err(map_error(e, "listing failed")),
            })
            .boxed()
    }

    async fn stat(&self, path: &str) -> Result<Entry, TargetError> {
        let full = self.full_path(path)?;
        let meta = self
            .store
            .head(&full)
            .await
            .map_err(|e| map_error(e, path))?;
        Ok(Self::entry(self.prefix.as_ref(), meta))
    }

    async fn read(&self, path: &str) -> Result<ByteStream, TargetError> {
        let full = self.full_path(path)?;
        let result = self
            .store
            .get(&full)
            .await
            .map_err(|e| map_error(e, path))?;
        let what = path.to_string();
        Ok(match result.payload {
            GetResultPayload::File(file, _) => read_file(file, what),
            GetResultPayload::Stream(s) => s.map_err(move |e| map_error(e, &what)).boxed(),
        })
    }
}

/// Reads a local file to its end (not just to the size seen when it was opened) in large
/// chunks, each on the blocking pool. Chunk buffers are recycled once the consumer drops
/// them: fresh multi-megabyte buffers would cost page faults and zeroing on every chunk.
fn read_file(file: std::fs::File, what: String) -> ByteStream {
    let pool = Arc::new(BufferPool::default());
    futures::stream::try_unfold((file, what, pool), |(mut file, what, pool)| async move {
        let (file, what, pool, chunk) = tokio::task::spawn_blocking(move || {
            let mut buf = pool.take();
            let r = (&mut file).take(FILE_CHUNK).read_to_end(&mut buf);
            let chunk = r.map(|_| PooledBuffer {
                buf,
                pool: pool.clone(),
            });
            (file, what, pool, chunk)
        })
        .await
        .map_err(|e| TargetError::new(ErrorKind::Other, format!("read task failed: {e}")))?;
        match chunk {
            Ok(buf) if buf.buf.is_empty() => Ok(None),
            Ok(buf) => Ok(Some((Bytes::from_owner(buf), (file, what, pool)))),
            Err(e) => Err(TargetError::new(
                io_kind(&e),
                format!("reading `{what}` failed: {e}"),
            )),
        }
    })
    .boxed()
}

/// A few chunk buffers kept for reuse by one read stream.
#[derive(Default)]
struct BufferPool(std::sync::Mutex<Vec<Vec<u8>>>);

impl BufferPool {
    const KEEP: usize = 8;

    fn take(&self) -> Vec<u8> {
        let reused = self.0.lock().map(|mut p| p.pop()).unwrap_or(None);
        reused.unwrap_or_else(|| Vec::with_capacity(FILE_CHUNK as usize))
    }
}

/// A chunk that returns its buffer to the pool when the last `Bytes` of it is dropped.
struct PooledBuffer {
    buf: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for PooledBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if let Ok(mut pool) = self.pool.0.lock()
            && pool.len() < BufferPool::KEEP
        {
            pool.push(buf);
        }
    }
}

/// Turns an `object_store` error into a [`TargetError`] about `what`, keeping the root
/// cause in plain words.
pub fn map_error(err: object_store::Error, what: &str) -> TargetError {
    use object_store::Error as E;
    let kind = match &err {
        E::NotFound { .. } => ErrorKind::NotFound,
        E::PermissionDenied { .. } => ErrorKind::PermissionDenied,
        E::Unauthenticated { .. } => ErrorKind::Auth,
        E::InvalidPath { .. } => ErrorKind::InvalidName,
        _ => io_source(&err).map(io_kind).unwrap_or(ErrorKind::Other),
    };
    let cause = root_cause(&err);
    let message = match kind {
        ErrorKind::NotFound => format!("`{what}` does not exist"),
        ErrorKind::PermissionDenied => format!("permission denied on `{what}`: {cause}"),
        _ => format!("{what}: {cause}"),
    };
    TargetError::new(kind, message)
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

/// The innermost error's message, prefixed by the one that names a path if any.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        last = e.to_string();
        cur = e.source();
    }
    last
}

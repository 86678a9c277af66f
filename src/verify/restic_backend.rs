//! Any [`Target`] seen as a read-only rustic_core backend, so that keyed mode works on
//! local folders, S3 and SMB alike.
//!
//! rustic_core's backend traits are blocking; targets are async. Each call runs the
//! target's future on the run's Tokio runtime through a [`Handle`], from the blocking
//! thread rustic calls it on, with a deadline on every answer. Once the target stops
//! answering as a whole (unreachable, timeout, credentials), or the run is stopped, every
//! further call fails at once instead of waiting again.

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use rustic_core::{
    ErrorKind as RusticKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend,
};
use tokio::runtime::Handle;

use crate::storage::{ErrorKind, Target, TargetError};

/// The longest wait for any one answer of the target (a listing entry, a chunk, a range).
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(300);

/// The largest piece of a pack read at once. restic's blobs are at most 8 MiB (plus a
/// little for encryption); an index asking for more is damaged, and memory stays bounded.
const MAX_PIECE: u32 = 64 << 20;

/// The largest whole file read into memory (keys, snapshots, index files, which are
/// small; packs are only read in pieces).
const MAX_WHOLE: usize = 256 << 20;

/// A target as a rustic_core backend.
pub struct TargetBackend {
    target: Arc<dyn Target>,
    handle: Handle,
    deadline: Duration,
    /// Set when the run is stopped: calls fail at once.
    pub stopped: Arc<AtomicBool>,
    /// Bytes read from the target so far (the egress of keyed mode).
    pub read_bytes: AtomicU64,
    /// The first error that stopped the whole target.
    down: OnceLock<TargetError>,
}

impl std::fmt::Debug for TargetBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TargetBackend({})", self.target.location())
    }
}

impl TargetBackend {
    pub fn new(target: Arc<dyn Target>, handle: Handle, deadline: Duration) -> TargetBackend {
        TargetBackend {
            target,
            handle,
            deadline,
            stopped: Arc::new(AtomicBool::new(false)),
            read_bytes: AtomicU64::new(0),
            down: OnceLock::new(),
        }
    }

    /// Why the whole target stopped answering, if it did.
    pub fn down(&self) -> Option<&TargetError> {
        self.down.get()
    }

    /// Runs `fut` on the runtime from this (blocking) thread, within the deadline.
    fn call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, TargetError>>,
    ) -> Result<T, TargetError> {
        if self.stopped.load(Ordering::Relaxed) {
            return Err(TargetError::new(ErrorKind::Other, "the run was stopped"));
        }
        if let Some(e) = self.down.get() {
            return Err(e.clone());
        }
        let deadline = self.deadline;
        let result = self.handle.block_on(async {
            tokio::time::timeout(deadline, fut)
                .await
                .unwrap_or_else(|_| {
                    Err(TargetError::new(
                        ErrorKind::Timeout,
                        format!(
                            "{what}: no answer within {}",
                            humantime::format_duration(deadline)
                        ),
                    ))
                })
        });
        if let Err(e) = &result
            && e.kind.is_target_wide()
        {
            let _ = self.down.set(e.clone());
        }
        result
    }

    /// Lists `folder/`, every answer within the deadline.
    fn list_folder(&self, folder: &str) -> Result<Vec<(String, u64)>, TargetError> {
        let mut stream = self.target.list_under(&format!("{folder}/"));
        let mut out = Vec::new();
        loop {
            let next = self.call(&format!("listing {folder}/"), async {
                stream.next().await.transpose()
            })?;
            match next {
                Some(e) => out.push((e.path, e.size)),
                None => return Ok(out),
            }
        }
    }
}

/// Where restic keeps a file of type `tpe` named `id`.
pub fn path_of(tpe: FileType, id: &Id) -> String {
    let hex = id.to_hex();
    let hex = hex.as_str();
    match tpe {
        FileType::Config => "config".into(),
        FileType::Pack => format!("data/{}/{hex}", &hex[..2]),
        other => format!("{}/{hex}", other.dirname()),
    }
}

/// A target error as a rustic error that keeps it as its source, so that what went wrong
/// can be told apart later ([`target_error`]).
fn to_rustic(e: TargetError) -> Box<RusticError> {
    RusticError::with_source(RusticKind::Backend, "reading the repository failed", e)
}

/// The target error at the root of a rustic error, if there is one.
pub fn target_error(e: &RusticError) -> Option<&TargetError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<TargetError>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

impl ReadBackend for TargetBackend {
    fn location(&self) -> String {
        self.target.location().to_string()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        if tpe == FileType::Config {
            let target = self.target.clone();
            return match self.call("config", async move { target.stat("config").await }) {
                Ok(e) => Ok(vec![(
                    Id::default(),
                    u32::try_from(e.size).unwrap_or(u32::MAX),
                )]),
                Err(e) if e.kind == ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(to_rustic(e)),
            };
        }
        let files = self.list_folder(tpe.dirname()).map_err(to_rustic)?;
        Ok(files
            .into_iter()
            .filter_map(|(path, size)| {
                let name = path.rsplit('/').next()?;
                let id = Id::from_str(name).ok()?;
                // restic files are far below 4 GiB; a larger one cannot be one of them.
                Some((id, u32::try_from(size).ok()?))
            })
            .collect())
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<Bytes> {
        let path = path_of(tpe, id);
        let target = self.target.clone();
        let p = path.clone();
        let mut stream = self
            .call(&path, async move { target.read(&p).await })
            .map_err(to_rustic)?;
        let mut out = BytesMut::new();
        loop {
            let next = self
                .call(&path, async { stream.next().await.transpose() })
                .map_err(to_rustic)?;
            match next {
                Some(chunk) => {
                    self.read_bytes
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    if out.len() + chunk.len() > MAX_WHOLE {
                        return Err(to_rustic(TargetError::new(
                            ErrorKind::Read,
                            format!(
                                "{path} is larger than {MAX_WHOLE} bytes: not a restic {tpe:?} file"
                            ),
                        )));
                    }
                    out.extend_from_slice(&chunk);
                }
                None => return Ok(out.freeze()),
            }
        }
    }

    fn read_partial(
        &self,
        tpe: FileType,
        id: &Id,
        _cacheable: bool,
        offset: u32,
        length: u32,
    ) -> RusticResult<Bytes> {
        let path = path_of(tpe, id);
        if length > MAX_PIECE {
            return Err(to_rustic(TargetError::new(
                ErrorKind::Read,
                format!("{path}: a piece of {length} bytes is asked for, larger than any blob"),
            )));
        }
        let target = self.target.clone();
        let p = path.clone();
        let bytes = self
            .call(&path, async move {
                target
                    .read_range(&p, u64::from(offset), u64::from(length))
                    .await
            })
            .map_err(to_rustic)?;
        self.read_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes)
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        path_of(tpe, id)
    }
}

/// Keyed mode only reads: every write is refused.
impl WriteBackend for TargetBackend {
    fn write_bytes(&self, tpe: FileType, id: &Id, _: bool, _: Bytes) -> RusticResult<()> {
        Err(read_only("write", tpe, id))
    }

    fn remove(&self, tpe: FileType, id: &Id, _: bool) -> RusticResult<()> {
        Err(read_only("remove", tpe, id))
    }
}

fn read_only(what: &str, tpe: FileType, id: &Id) -> Box<RusticError> {
    RusticError::new(
        RusticKind::Unsupported,
        format!(
            "backproof opens repositories read-only and does not {what} {}",
            path_of(tpe, id)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restic_layout() {
        let hex = "4f801fd45b82cc9cd5e36660f0ee9f0c8c8d477bc89d8a374a7e0193e5a48de5";
        let id = Id::from_str(hex).unwrap();
        assert_eq!(path_of(FileType::Pack, &id), format!("data/4f/{hex}"));
        assert_eq!(path_of(FileType::Index, &id), format!("index/{hex}"));
        assert_eq!(path_of(FileType::Snapshot, &id), format!("snapshots/{hex}"));
        assert_eq!(path_of(FileType::Key, &id), format!("keys/{hex}"));
        assert_eq!(path_of(FileType::Config, &id), "config");
    }
}

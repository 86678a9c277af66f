//! Test restore of one file: stream it out of the target into the scratch folder while
//! hashing it with BLAKE3, then read the restored copy back from disk and hash it again.
//!
//! The target's stream is pumped into a small bounded channel (read-ahead of a few chunks)
//! and a blocking sink hashes and writes each chunk in parallel. Memory per restore is a
//! few chunks, whatever the file size.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;

use crate::storage::{Target, TargetError};

use super::manifest::Digester;
use crate::evidence::Algorithm;

/// Batches waiting between the target and the sink.
const READ_AHEAD: usize = 2;
/// The pump hands chunks to the sink in batches of at least this many bytes, so that
/// small network chunks do not each cost a hand-over.
const BATCH: usize = 1 << 20;
/// Window of the restored copy mapped at a time when reading it back.
const REREAD_WINDOW: u64 = 2 << 20;

/// A file restored into the scratch folder.
#[derive(Debug, Clone)]
pub struct Restored {
    pub bytes: u64,
    /// BLAKE3 of the bytes as they streamed out of the target.
    pub streamed: blake3::Hash,
    /// BLAKE3 of the restored copy read back from the scratch disk.
    pub on_disk: blake3::Hash,
    /// Time from opening the file on the target to the end of the second hash.
    pub seconds: f64,
    /// Hex digest of the streamed bytes in the extra algorithm asked for (a manifest's).
    pub extra: Option<String>,
    /// Shannon entropy (bits per byte) of the first [`ENTROPY_WINDOW`] bytes: near 8 for
    /// encrypted or random data, lower for most formats that are not compressed.
    pub entropy: Option<f32>,
}

/// Bytes at the start of a file whose entropy is measured.
pub const ENTROPY_WINDOW: usize = 4 << 20;

/// Counts bytes of the start of a file, for its entropy.
struct Histogram {
    counts: [u64; 256],
    seen: usize,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: [0; 256],
            seen: 0,
        }
    }

    fn add(&mut self, bytes: &[u8]) {
        let take = bytes.len().min(ENTROPY_WINDOW - self.seen);
        for b in &bytes[..take] {
            self.counts[*b as usize] += 1;
        }
        self.seen += take;
    }

    fn entropy(&self) -> Option<f32> {
        if self.seen == 0 {
            return None;
        }
        let n = self.seen as f64;
        let h: f64 = self
            .counts
            .iter()
            .filter(|c| **c > 0)
            .map(|c| {
                let p = *c as f64 / n;
                -p * p.log2()
            })
            .sum();
        Some(h as f32)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The target could not deliver the file (or broke off after `bytes`).
    #[error("{source}")]
    Source { source: TargetError, bytes: u64 },
    /// Our own side failed: the scratch disk. Says nothing about the backup.
    #[error("scratch folder: {0}")]
    Scratch(std::io::Error),
}

/// Restores `path` from `target` into the new file `dest` and hashes it twice. `dest`
/// must not exist; it is created without following links.
pub async fn restore(
    target: &dyn Target,
    path: &str,
    dest: PathBuf,
) -> Result<Restored, RestoreError> {
    restore_with(target, path, dest, Options::default()).await
}

/// How a restore is done.
#[derive(Default, Clone, Copy)]
pub struct Options<'a> {
    /// Where to count the bytes as they stream.
    pub progress: Option<&'a crate::progress::Progress>,
    /// A digest to compute alongside BLAKE3 in the same pass (a manifest's algorithm).
    pub extra: Option<Algorithm>,
    /// Leave the restored copy in place (for validation); the caller removes it.
    pub keep: bool,
}

/// [`restore`] with [`Options`].
pub async fn restore_with(
    target: &dyn Target,
    path: &str,
    dest: PathBuf,
    opts: Options<'_>,
) -> Result<Restored, RestoreError> {
    let Options {
        progress,
        extra,
        keep,
    } = opts;
    let started = Instant::now();
    let mut stream = target
        .read(path)
        .await
        .map_err(|source| RestoreError::Source { source, bytes: 0 })?;

    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(READ_AHEAD);
    let sink_dest = dest.clone();
    let digester = extra.and_then(Digester::new);
    let sink = tokio::task::spawn_blocking(move || sink(&sink_dest, rx, digester));

    let mut source_error = None;
    let mut batch = Vec::new();
    let mut batched = 0;
    loop {
        let item = stream.next().await;
        let end = match item {
            Some(Ok(chunk)) => {
                batched += chunk.len();
                if let Some(p) = progress {
                    p.add_bytes(chunk.len() as u64);
                }
                batch.push(chunk);
                false
            }
            Some(Err(e)) => {
                source_error = Some(e);
                true
            }
            None => true,
        };
        if (batched >= BATCH || end) && !batch.is_empty() {
            batched = 0;
            if tx.send(std::mem::take(&mut batch)).await.is_err() {
                break; // the sink failed; its error is reported below
            }
        }
        if end {
            break;
        }
    }
    drop(tx);
    drop(stream);
    let (streamed, extra, entropy, bytes) = sink
        .await
        .expect("restore sink panicked")
        .map_err(RestoreError::Scratch)?;
    if let Some(source) = source_error {
        return Err(RestoreError::Source { source, bytes });
    }

    let reread_dest = dest.clone();
    let (on_disk, disk_bytes) = tokio::task::spawn_blocking(move || hash_file(&reread_dest))
        .await
        .expect("re-hash task panicked")
        .map_err(RestoreError::Scratch)?;
    // The copy has served its purpose; free the scratch space for the next file.
    if !keep {
        let _ = tokio::fs::remove_file(&dest).await;
    }
    if disk_bytes != bytes {
        return Err(RestoreError::Scratch(std::io::Error::other(format!(
            "the restored copy has {disk_bytes} bytes on disk but {bytes} were written"
        ))));
    }
    Ok(Restored {
        bytes,
        streamed,
        on_disk,
        seconds: started.elapsed().as_secs_f64(),
        extra,
        entropy,
    })
}

/// Writes and hashes each batch, the two in parallel.
fn sink(
    dest: &Path,
    mut rx: tokio::sync::mpsc::Receiver<Vec<Bytes>>,
    mut extra: Option<Digester>,
) -> std::io::Result<(blake3::Hash, Option<String>, Option<f32>, u64)> {
    let mut histogram = Histogram::new();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)?;
    let mut hasher = blake3::Hasher::new();
    let mut bytes = 0u64;
    while let Some(batch) = rx.blocking_recv() {
        let ((), written) = rayon::join(
            || {
                for chunk in &batch {
                    // Large chunks are hashed on every core left idle by the write.
                    if chunk.len() >= 1 << 20 {
                        hasher.update_rayon(chunk);
                    } else {
                        hasher.update(chunk);
                    }
                    if let Some(d) = extra.as_mut() {
                        d.update(chunk);
                    }
                    if histogram.seen < ENTROPY_WINDOW {
                        histogram.add(chunk);
                    }
                }
            },
            || batch.iter().try_for_each(|chunk| file.write_all(chunk)),
        );
        written?;
        bytes += batch.iter().map(|c| c.len() as u64).sum::<u64>();
    }
    file.flush()?;
    Ok((
        hasher.finalize(),
        extra.map(Digester::finish_hex),
        histogram.entropy(),
        bytes,
    ))
}

/// BLAKE3 and length of a restored copy in the scratch folder, hashed on all cores.
///
/// The file is mapped one window at a time, so reading it back costs no copy and memory
/// stays bounded by the window. Only for files in our own scratch folder: a mapped file
/// truncated by someone else would crash the process (SIGBUS), which is why files on a
/// target are always read, never mapped.
pub fn hash_file(path: &Path) -> std::io::Result<(blake3::Hash, u64)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut hasher = blake3::Hasher::new();
    let mut offset = 0u64;
    while offset < len {
        let window = REREAD_WINDOW.min(len - offset);
        // SAFETY: the file is our own restored copy in a private (0700) scratch folder;
        // nothing else writes or truncates it while it is mapped.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(window as usize)
                .map(&file)?
        };
        hasher.update_rayon(&map);
        offset += window;
    }
    // Anything appended since `len` was read would be a scratch problem: report it.
    let mut rest = Vec::new();
    let mut f = file;
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(len))?;
    f.read_to_end(&mut rest)?;
    hasher.update(&rest);
    Ok((hasher.finalize(), len + rest.len() as u64))
}

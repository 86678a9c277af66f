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

use crate::target::{Target, TargetError};

/// Chunks waiting between the target and the sink.
const READ_AHEAD: usize = 4;
/// Buffer for reading the restored copy back.
const REREAD_CHUNK: usize = 4 << 20;

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
    let started = Instant::now();
    let mut stream = target
        .read(path)
        .await
        .map_err(|source| RestoreError::Source { source, bytes: 0 })?;

    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(READ_AHEAD);
    let sink_dest = dest.clone();
    let sink = tokio::task::spawn_blocking(move || sink(&sink_dest, rx));

    let mut source_error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                if tx.send(chunk).await.is_err() {
                    break; // the sink failed; its error is reported below
                }
            }
            Err(e) => {
                source_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    drop(stream);
    let (streamed, bytes) = sink
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
    let _ = tokio::fs::remove_file(&dest).await;
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
    })
}

/// Writes and hashes each chunk, the two in parallel.
fn sink(
    dest: &Path,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> std::io::Result<(blake3::Hash, u64)> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)?;
    let mut hasher = blake3::Hasher::new();
    let mut bytes = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        let ((), written) = rayon::join(
            || {
                hasher.update(&chunk);
            },
            || file.write_all(&chunk),
        );
        written?;
        bytes += chunk.len() as u64;
    }
    file.flush()?;
    Ok((hasher.finalize(), bytes))
}

/// BLAKE3 and length of a file, read with a bounded buffer and hashed on all cores.
pub fn hash_file(path: &Path) -> std::io::Result<(blake3::Hash, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; REREAD_CHUNK];
    let mut bytes = 0u64;
    loop {
        let n = read_full(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update_rayon(&buf[..n]);
        bytes += n as u64;
    }
    Ok((hasher.finalize(), bytes))
}

fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

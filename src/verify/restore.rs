//! Test restore of one file: stream it out of the target while hashing it with BLAKE3.
//!
//! What each mode proves ([`RestoreMode`]): `stream` hashes the bytes as the target
//! delivers them, which proves what the backup holds, and writes no copy unless a
//! validator needs one. `disk` also writes the copy into the scratch folder, flushes it to
//! the disk and reads it back past the page cache (`O_DIRECT`) to hash it again: a read
//! back through the cache right after the write would only prove that the write path
//! works, not that the disk holds the bytes. A copy written for a validator is read back
//! through the cache, and the evidence says so ([`ReadBack`]).
//!
//! The target's stream is pumped into a small bounded channel (read-ahead of a few chunks)
//! and one blocking sink hashes (and writes) each chunk. BLAKE3 runs on one thread: its
//! SIMD code is fast enough, and more threads only fight the reader, the runtime and the
//! other restores for the cores. Memory per restore is a few chunks, whatever the file
//! size.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;

use crate::config::RestoreMode;
use crate::evidence::ReadBack;
use crate::storage::{BlockingRead, Target, TargetError};

use super::manifest::Digester;
use crate::evidence::Algorithm;

/// Batches waiting between the target and the sink.
const READ_AHEAD: usize = 2;
/// The pump hands chunks to the sink in batches of at least this many bytes, so that
/// small network chunks do not each cost a hand-over.
const BATCH: usize = 1 << 20;
/// Bytes hashed then written at a time: small enough to stay in the CPU cache between
/// the two, and page-cache writes of this size stay fast where multi-megabyte ones were
/// erratic.
const PIECE: usize = 256 << 10;
/// Bytes a [`BlockingRead`] is read for before the thread is given back (see
/// [`read_in_place`]).
const STEP: usize = 16 << 20;
/// Window of the restored copy mapped at a time when reading it back through the cache.
const REREAD_WINDOW: u64 = 2 << 20;
/// Buffer of a read-back past the page cache, and its alignment (`O_DIRECT` wants
/// buffers, offsets and lengths aligned to the disk's block size).
const DIRECT_BUFFER: usize = 1 << 20;
const DIRECT_ALIGN: usize = 4096;

/// A file restored (streamed and hashed, perhaps written and read back).
#[derive(Debug, Clone)]
pub struct Restored {
    pub bytes: u64,
    /// BLAKE3 of the bytes as they streamed out of the target.
    pub streamed: blake3::Hash,
    /// BLAKE3 of the copy read back from the scratch folder, when one was written.
    pub on_disk: Option<blake3::Hash>,
    /// How that copy was read back.
    pub read_back: Option<ReadBack>,
    /// Time from opening the file on the target to the end of the last hash.
    pub seconds: f64,
    /// Hex digest of the streamed bytes in the extra algorithm asked for (a manifest's).
    pub extra: Option<String>,
    /// Shannon entropy (bits per byte) of the start of the file, sampled in its first
    /// [`ENTROPY_WINDOW`] bytes: near 8 for encrypted or random data, lower for most
    /// formats that are not compressed.
    pub entropy: Option<f32>,
}

/// Bytes at the start of a file whose entropy is measured.
pub const ENTROPY_WINDOW: usize = 4 << 20;

/// The first bytes of a file, counted whole for its entropy; past them, only the first
/// [`ENTROPY_SAMPLE`] bytes of each [`ENTROPY_STRIDE`] are counted (counting every byte of
/// the window cost more than hashing it).
const ENTROPY_WHOLE: usize = 64 << 10;
const ENTROPY_STRIDE: usize = 64 << 10;
const ENTROPY_SAMPLE: usize = 4 << 10;

/// Counts bytes of the start of a file, for its entropy.
struct Histogram {
    /// Four tables counted in turn, so that runs of one byte value do not make each
    /// count wait for the previous one; summed at the end.
    counts: [[u32; 256]; 4],
    /// Bytes counted.
    seen: usize,
    /// Bytes of the file gone past (counted or not).
    pos: usize,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: [[0; 256]; 4],
            seen: 0,
            pos: 0,
        }
    }

    fn done(&self) -> bool {
        self.pos >= ENTROPY_WINDOW
    }

    fn add(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.done() {
            let left = (ENTROPY_WINDOW - self.pos).min(bytes.len());
            let in_stride = self.pos % ENTROPY_STRIDE;
            let (count, take) = if self.pos < ENTROPY_WHOLE {
                (true, (ENTROPY_WHOLE - self.pos).min(left))
            } else if in_stride < ENTROPY_SAMPLE {
                (true, (ENTROPY_SAMPLE - in_stride).min(left))
            } else {
                (false, (ENTROPY_STRIDE - in_stride).min(left))
            };
            if count {
                self.count(&bytes[..take]);
                self.seen += take;
            }
            self.pos += take;
            bytes = &bytes[take..];
        }
    }

    fn count(&mut self, bytes: &[u8]) {
        let [a, b, c, d] = &mut self.counts;
        let mut quads = bytes.chunks_exact(4);
        for q in &mut quads {
            a[q[0] as usize] += 1;
            b[q[1] as usize] += 1;
            c[q[2] as usize] += 1;
            d[q[3] as usize] += 1;
        }
        for x in quads.remainder() {
            a[*x as usize] += 1;
        }
    }

    fn entropy(&self) -> Option<f32> {
        if self.seen == 0 {
            return None;
        }
        let n = self.seen as f64;
        let h: f64 = (0..256)
            .map(|v| {
                self.counts
                    .iter()
                    .map(|lane| u64::from(lane[v]))
                    .sum::<u64>()
            })
            .filter(|c| *c > 0)
            .map(|c| {
                let p = c as f64 / n;
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

/// Restores `path` from `target` into the new file `dest`, flushes it to the disk and
/// reads it back ([`RestoreMode::Disk`]). `dest` must not exist; it is created without
/// following links.
pub async fn restore(
    target: &dyn Target,
    path: &str,
    dest: PathBuf,
) -> Result<Restored, RestoreError> {
    let opts = Options {
        mode: RestoreMode::Disk,
        ..Options::default()
    };
    restore_with(target, path, dest, opts).await
}

/// How a restore is done.
#[derive(Default, Clone, Copy)]
pub struct Options<'a> {
    /// Where to count the bytes as they stream.
    pub progress: Option<&'a crate::progress::Progress>,
    /// A digest to compute alongside BLAKE3 in the same pass (a manifest's algorithm).
    pub extra: Option<Algorithm>,
    /// Write the copy and leave it in place (for validation); the caller removes it.
    pub keep: bool,
    /// Whether the copy is written to the disk and read back from it.
    pub mode: RestoreMode,
}

/// [`restore`] with [`Options`]. With [`RestoreMode::Stream`] and without `keep`, nothing
/// is written and `dest` is not created.
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
        mode,
    } = opts;
    let write = keep || mode == RestoreMode::Disk;
    let started = Instant::now();
    let sink_dest = write.then(|| dest.clone());
    let digester = extra.and_then(Digester::new);
    let sync = mode == RestoreMode::Disk;
    let (sunk, source_error) = match target.blocking_reader(path) {
        Some(reader) => read_in_place(reader, sink_dest, sync, digester, progress).await,
        None => {
            let stream = target
                .read(path)
                .await
                .map_err(|source| RestoreError::Source { source, bytes: 0 })?;
            pump(stream, sink_dest, sync, digester, progress).await
        }
    };
    let Sunk {
        streamed,
        extra,
        entropy,
        bytes,
    } = match sunk {
        Ok(s) => s,
        Err(e) => {
            if write {
                let _ = tokio::fs::remove_file(&dest).await;
            }
            return Err(RestoreError::Scratch(e));
        }
    };
    if let Some(source) = source_error {
        if write {
            let _ = tokio::fs::remove_file(&dest).await;
        }
        return Err(RestoreError::Source { source, bytes });
    }
    let (on_disk, read_back) = if write {
        let reread_dest = dest.clone();
        let reread = tokio::task::spawn_blocking(move || read_back(&reread_dest, mode))
            .await
            .map_err(|e| {
                RestoreError::Scratch(std::io::Error::other(format!("read-back failed: {e}")))
            });
        // The copy has served its purpose; free the scratch space for the next file.
        if !keep {
            let _ = tokio::fs::remove_file(&dest).await;
        }
        let (hash, disk_bytes, how) = reread?.map_err(RestoreError::Scratch)?;
        if disk_bytes != bytes {
            return Err(RestoreError::Scratch(std::io::Error::other(format!(
                "the restored copy has {disk_bytes} bytes on disk but {bytes} were written"
            ))));
        }
        (Some(hash), Some(how))
    } else {
        (None, None)
    };
    Ok(Restored {
        bytes,
        streamed,
        on_disk,
        read_back,
        seconds: started.elapsed().as_secs_f64(),
        extra,
        entropy,
    })
}

/// What the sink computed over the streamed bytes.
struct Sunk {
    streamed: blake3::Hash,
    extra: Option<String>,
    entropy: Option<f32>,
    bytes: u64,
}

/// How the bytes of a file went: what the sink made of them (an `Err` is a scratch
/// problem), and the target's error if it broke off.
type Pumped = (std::io::Result<Sunk>, Option<TargetError>);

/// Streams the target's chunks to a [`Sink`] on the blocking pool, through a small
/// bounded channel.
async fn pump(
    mut stream: crate::storage::ByteStream,
    dest: Option<PathBuf>,
    sync: bool,
    digester: Option<Digester>,
    progress: Option<&crate::progress::Progress>,
) -> Pumped {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(READ_AHEAD);
    let sink = tokio::task::spawn_blocking(move || {
        let mut sink = Sink::new(dest.as_deref(), digester)?;
        while let Some(batch) = rx.blocking_recv() {
            for chunk in &batch {
                sink.add(chunk)?;
            }
        }
        sink.finish(sync)
    });
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
    let sunk = sink
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(format!("hashing failed: {e}"))));
    (sunk, source_error)
}

/// Reads a file from a target's [`BlockingRead`] and feeds each piece to a [`Sink`] on
/// the same blocking thread, while the piece is still in the CPU cache: no chunk crosses
/// threads. The thread is given back every [`STEP`] bytes, to count progress.
async fn read_in_place(
    reader: Box<dyn BlockingRead>,
    dest: Option<PathBuf>,
    sync: bool,
    digester: Option<Digester>,
    progress: Option<&crate::progress::Progress>,
) -> Pumped {
    let mut reader = reader;
    // The sink is made on the blocking thread of the first step (it creates the copy).
    let mut state = SinkState::ToMake(dest, digester);
    loop {
        let stepped = tokio::task::spawn_blocking(move || {
            let mut sink = match state {
                SinkState::Made(sink) => *sink,
                SinkState::ToMake(dest, digester) => Sink::new(dest.as_deref(), digester)?,
            };
            let (read, outcome) = PIECE_BUFFER.with_borrow_mut(|buf| {
                buf.resize(PIECE, 0);
                step(reader.as_mut(), &mut sink, buf)
            });
            Ok::<_, std::io::Error>((reader, sink, read, outcome))
        })
        .await;
        let (back, sink, read, outcome) = match stepped {
            Ok(Ok(stepped)) => stepped,
            Ok(Err(e)) => return (Err(e), None),
            Err(e) => {
                return (
                    Err(std::io::Error::other(format!("hashing failed: {e}"))),
                    None,
                );
            }
        };
        if let Some(p) = progress {
            p.add_bytes(read as u64);
        }
        match outcome {
            Step::More => (reader, state) = (back, SinkState::Made(Box::new(sink))),
            Step::End => return (sink.finish(sync), None),
            // The target broke off: what was read so far is counted, nothing is kept.
            Step::Source(source) => return (sink.finish(false), Some(source)),
            Step::Scratch(e) => return (Err(e), None),
        }
    }
}

/// The sink of [`read_in_place`], before and after its first step.
enum SinkState {
    ToMake(Option<PathBuf>, Option<Digester>),
    Made(Box<Sink>),
}

thread_local! {
    /// The buffer each blocking thread reads pieces into: allocated once per thread.
    static PIECE_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads and sinks up to [`STEP`] bytes; how many, and where it stopped.
fn step(reader: &mut dyn BlockingRead, sink: &mut Sink, buf: &mut [u8]) -> (usize, Step) {
    let mut read = 0usize;
    loop {
        match reader.read(buf) {
            Ok(0) => return (read, Step::End),
            Ok(n) => {
                if let Err(e) = sink.add(&buf[..n]) {
                    return (read, Step::Scratch(e));
                }
                read += n;
                if read >= STEP {
                    return (read, Step::More);
                }
            }
            Err(e) => return (read, Step::Source(e)),
        }
    }
}

/// Where one step of [`read_in_place`] stopped.
enum Step {
    More,
    End,
    Source(TargetError),
    Scratch(std::io::Error),
}

/// Hashes the bytes of a file as they come, and writes them to a copy when given one
/// (flushed to the disk at the end when asked).
struct Sink {
    hasher: blake3::Hasher,
    extra: Option<Digester>,
    histogram: Histogram,
    file: Option<File>,
    bytes: u64,
}

impl Sink {
    fn new(dest: Option<&Path>, extra: Option<Digester>) -> std::io::Result<Sink> {
        let file = match dest {
            Some(dest) => Some(
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(dest)?,
            ),
            None => None,
        };
        Ok(Sink {
            hasher: blake3::Hasher::new(),
            extra,
            histogram: Histogram::new(),
            file,
            bytes: 0,
        })
    }

    /// The next bytes of the file, hashed then written in pieces small enough to stay in
    /// the CPU cache between the two.
    fn add(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        for piece in chunk.chunks(PIECE) {
            self.hasher.update(piece);
            if let Some(d) = self.extra.as_mut() {
                d.update(piece);
            }
            if !self.histogram.done() {
                self.histogram.add(piece);
            }
            if let Some(f) = self.file.as_mut() {
                f.write_all(piece)?;
            }
        }
        self.bytes += chunk.len() as u64;
        Ok(())
    }

    fn finish(self, sync: bool) -> std::io::Result<Sunk> {
        if let Some(mut f) = self.file {
            f.flush()?;
            if sync {
                f.sync_data()?;
            }
        }
        Ok(Sunk {
            streamed: self.hasher.finalize(),
            extra: self.extra.map(Digester::finish_hex),
            entropy: self.histogram.entropy(),
            bytes: self.bytes,
        })
    }
}

/// Hashes the copy written at `path`: past the page cache with [`RestoreMode::Disk`] when
/// the file system allows it, through the cache otherwise.
pub(super) fn read_back(
    path: &Path,
    mode: RestoreMode,
) -> std::io::Result<(blake3::Hash, u64, ReadBack)> {
    if mode == RestoreMode::Disk
        && let Some((hash, len)) = hash_file_direct(path)?
    {
        return Ok((hash, len, ReadBack::Disk));
    }
    let (hash, len) = hash_file(path)?;
    Ok((hash, len, ReadBack::Cache))
}

/// BLAKE3 and length of a file read with `O_DIRECT` (from the disk, not the page cache);
/// `None` when the file system does not do direct reads.
fn hash_file_direct(path: &Path) -> std::io::Result<Option<(blake3::Hash, u64)>> {
    let refused = |e: &std::io::Error| e.raw_os_error() == Some(libc::EINVAL);
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if refused(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut raw = vec![0u8; DIRECT_BUFFER + DIRECT_ALIGN];
    let start = raw.as_ptr().align_offset(DIRECT_ALIGN);
    let buf = &mut raw[start..start + DIRECT_BUFFER];
    let mut hasher = blake3::Hasher::new();
    let mut len = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if len == 0 && refused(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
        if n % DIRECT_ALIGN != 0 {
            // Only the end of the file is not a whole block; a short read anywhere else
            // shows as a length that differs from what was written.
            break;
        }
    }
    Ok(Some((hasher.finalize(), len)))
}

/// BLAKE3 and length of a restored copy in the scratch folder, read through the cache.
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
        hasher.update(&map);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entropy_of(bytes: &[u8], piece: usize) -> f32 {
        let mut h = Histogram::new();
        for p in bytes.chunks(piece) {
            h.add(p);
        }
        h.entropy().unwrap()
    }

    #[test]
    fn entropy_is_sampled_the_same_whatever_the_chunking() {
        let mut random = vec![0u8; 6 << 20];
        blake3::Hasher::new().finalize_xof().fill(&mut random);
        let whole = entropy_of(&random, random.len());
        assert!(whole > 7.99, "{whole}");
        for piece in [1, 4095, 65_537, 1 << 20] {
            assert_eq!(entropy_of(&random, piece), whole, "pieces of {piece}");
        }
        // Text stays far below random data; a small file is counted whole.
        let text = b"the quick brown fox jumps over the lazy dog ".repeat(200_000);
        assert!(entropy_of(&text, 1 << 20) < 4.5);
        let one = entropy_of(b"aaaa", 4);
        assert_eq!(one, 0.0);
        let two = entropy_of(b"abab", 3);
        assert!((two - 1.0).abs() < 1e-6, "{two}");
    }

    #[test]
    fn counted_bytes_are_the_whole_start_then_samples_within_the_window() {
        let mut h = Histogram::new();
        h.add(&vec![7u8; 10 << 20]);
        let sampled = (ENTROPY_WINDOW - ENTROPY_WHOLE) / ENTROPY_STRIDE * ENTROPY_SAMPLE;
        assert_eq!(h.seen, ENTROPY_WHOLE + sampled);
        assert!(h.done());
    }
}

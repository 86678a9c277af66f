//! Chunk buffers for blocking readers (local files, SMB), recycled once the consumer drops
//! them: fresh multi-megabyte buffers would cost page faults and zeroing on every chunk.

use std::io::Read;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// A few chunk buffers kept for reuse by one read stream.
pub struct BufferPool {
    chunk: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    const KEEP: usize = 8;

    /// A pool of buffers of `chunk` bytes.
    pub fn new(chunk: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            chunk,
            free: Mutex::new(Vec::new()),
        })
    }

    /// A buffer of `chunk` bytes: a recycled one, or a new zeroed one (fresh pages from
    /// the system, touched only as they are filled).
    fn take(&self) -> Vec<u8> {
        let reused = self.free.lock().map(|mut p| p.pop()).unwrap_or(None);
        reused.unwrap_or_else(|| vec![0; self.chunk])
    }

    /// Reads the next chunk of up to the pool's chunk size; `None` at the end.
    pub fn read_chunk(self: &Arc<Self>, reader: &mut impl Read) -> std::io::Result<Option<Bytes>> {
        Ok(self.read_chunk_to_end(reader)?.0)
    }

    /// [`Self::read_chunk`], and whether the reader ended while filling it. Reads straight
    /// into the whole buffer until it is full or the reader ends (`read_to_end` would
    /// start with small reads and grow them, a dozen calls per megabyte).
    pub fn read_chunk_to_end(
        self: &Arc<Self>,
        reader: &mut impl Read,
    ) -> std::io::Result<(Option<Bytes>, bool)> {
        let mut buf = self.take();
        let mut len = 0;
        let mut ended = false;
        while len < buf.len() {
            match reader.read(&mut buf[len..]) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if len == 0 {
            return Ok((None, true));
        }
        let chunk = Bytes::from_owner(PooledBuffer {
            buf,
            len,
            pool: self.clone(),
        });
        Ok((Some(chunk), ended))
    }
}

/// A chunk that returns its buffer to the pool when the last `Bytes` of it is dropped.
struct PooledBuffer {
    buf: Vec<u8>,
    /// Bytes of `buf` filled.
    len: usize,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for PooledBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if let Ok(mut pool) = self.pool.free.lock()
            && pool.len() < BufferPool::KEEP
        {
            pool.push(buf);
        }
    }
}

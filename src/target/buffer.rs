//! Chunk buffers for blocking readers (local files, SMB), recycled once the consumer drops
//! them: fresh multi-megabyte buffers would cost page faults and zeroing on every chunk.

use std::io::Read;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Size of the chunks read by blocking readers.
pub const CHUNK: u64 = 4 << 20;

/// A few chunk buffers kept for reuse by one read stream.
#[derive(Default)]
pub struct BufferPool(Mutex<Vec<Vec<u8>>>);

impl BufferPool {
    const KEEP: usize = 8;

    fn take(&self) -> Vec<u8> {
        let reused = self.0.lock().map(|mut p| p.pop()).unwrap_or(None);
        reused.unwrap_or_else(|| Vec::with_capacity(CHUNK as usize))
    }

    /// Reads the next chunk of up to [`CHUNK`] bytes; `None` at the end.
    pub fn read_chunk(self: &Arc<Self>, reader: &mut impl Read) -> std::io::Result<Option<Bytes>> {
        let mut buf = self.take();
        reader.take(CHUNK).read_to_end(&mut buf)?;
        if buf.is_empty() {
            return Ok(None);
        }
        Ok(Some(Bytes::from_owner(PooledBuffer {
            buf,
            pool: self.clone(),
        })))
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

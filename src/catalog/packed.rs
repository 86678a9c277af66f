//! Run documents as the `runs` tree stores them: compressed with zstd.
//!
//! A run's evidence is a few kilobytes of JSON, and the catalog keeps every run retention
//! allows: those documents are most of sled's file, and sled's start-up (every command,
//! every daemon start) reads a header of each of the file's segments. Compressed, they
//! take about a quarter of the room (measured on a real run's evidence: 4,630 bytes of
//! JSON, 1,193 compressed).
//!
//! The document's bytes are what its hash is taken of (the evidence chain): unpacking
//! gives them back exactly. A value that is not a zstd frame is a document as older
//! catalogs stored it, JSON as is (JSON never starts with zstd's magic number).

use std::borrow::Cow;

/// The first four bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// zstd's level: its default, fast to write at every progress update of a run.
const LEVEL: i32 = 3;

/// The stored form of `document`.
pub(super) fn pack(document: &[u8]) -> Vec<u8> {
    // Compression in memory fails only on allocation; the document as is stays readable.
    zstd::bulk::compress(document, LEVEL).unwrap_or_else(|_| document.to_vec())
}

/// The document `stored` holds, exactly as it was packed.
pub(super) fn unpack(stored: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    if !stored.starts_with(&ZSTD_MAGIC) {
        return Ok(Cow::Borrowed(stored));
    }
    zstd::stream::decode_all(stored)
        .map(Cow::Owned)
        .map_err(|e| format!("its compressed document cannot be read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_comes_back_byte_for_byte_and_smaller() {
        let doc = serde_json::to_vec(&serde_json::json!({
            "run_id": "r", "targets": (0..40).map(|i| serde_json::json!({
                "name": format!("target-{i}"), "verdict": "pass", "files": i,
            })).collect::<Vec<_>>(),
        }))
        .unwrap();
        let stored = pack(&doc);
        assert!(stored.starts_with(&ZSTD_MAGIC));
        assert!(
            stored.len() * 3 < doc.len(),
            "{} of {}",
            stored.len(),
            doc.len()
        );
        assert_eq!(unpack(&stored).unwrap().as_ref(), doc.as_slice());
    }

    #[test]
    fn an_older_plain_document_is_read_as_it_is_and_a_damaged_frame_is_an_error() {
        let plain = br#"{"run_id":"r"}"#;
        assert!(matches!(unpack(plain).unwrap(), Cow::Borrowed(b) if b == plain));
        let mut stored = pack(&[b'x'; 4096]);
        stored.truncate(stored.len() - 2);
        assert!(unpack(&stored).is_err());
    }
}

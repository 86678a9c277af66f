//! The shared suite every `Target` implementation must pass (local, S3, SMB, ...).
//!
//! A backend's test file seeds the fixture files below onto its storage with whatever
//! means that storage offers, opens a `Target` on it and calls [`run`].

use std::collections::BTreeMap;

use backproof::storage::{ErrorKind, Target};
use futures::{StreamExt, TryStreamExt};

/// Files the backend's test must put on its storage before calling [`run`]: path and
/// content. Names exercise folders, spaces, unicode, `%`, `#`, a long path, and the byte
/// order of paths around a folder's name.
pub fn fixture_files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("top.bin".to_string(), content("top", 1)),
        ("empty.bin".to_string(), Vec::new()),
        ("dir/sub/deep.bin".to_string(), content("deep", 70_001)),
        // Around the folder `dir` in byte order: `-` sorts before `/`, `0` after it.
        ("dir-a.bin".to_string(), content("dir-a", 10)),
        ("dir0.bin".to_string(), content("dir0", 11)),
        (
            "spaces and ünïcødé/ç 100% #1.bin".to_string(),
            content("odd", 4096),
        ),
        // Larger than any sane chunk, odd size: reads must stream in several chunks.
        (
            "big/large.bin".to_string(),
            content("large", 9 * 1024 * 1024 + 13),
        ),
    ];
    let long_dir = (0..6)
        .map(|i| format!("level-{i}-{}", "d".repeat(30)))
        .collect::<Vec<_>>();
    files.push((
        format!("{}/long-name-{}.bin", long_dir.join("/"), "n".repeat(80)),
        content("long", 333),
    ));
    files
}

pub fn content(seed: &str, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut v);
    v
}

/// Runs every check of the suite against `target`, which holds exactly [`fixture_files`].
pub async fn run(target: &dyn Target) {
    let expected: BTreeMap<String, Vec<u8>> = fixture_files().into_iter().collect();

    // list: every file once, with its size, and a plausible modification time.
    let listed: Vec<_> = target.list().try_collect().await.expect("list");
    let names: BTreeMap<String, u64> = listed.iter().map(|e| (e.path.clone(), e.size)).collect();
    assert_eq!(names.len(), listed.len(), "no duplicates in the listing");
    assert_eq!(
        names.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "listing holds exactly the fixture files"
    );
    // In byte order of path (the listing pass merges it with the catalog in that order).
    let order: Vec<&str> = listed.iter().map(|e| e.path.as_str()).collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "listing not in byte order of path: {order:#?}"
    );
    let now = chrono::Utc::now();
    for e in &listed {
        assert_eq!(e.size, expected[&e.path].len() as u64, "size of {}", e.path);
        let age = now.signed_duration_since(e.modified);
        assert!(
            age.num_days() < 1 && age.num_seconds() > -300,
            "modification time of {} is {}",
            e.path,
            e.modified
        );
    }

    // stat agrees with the listing.
    for e in &listed {
        let s = target
            .stat(&e.path)
            .await
            .unwrap_or_else(|err| panic!("stat {}: {err}", e.path));
        assert_eq!(
            (s.size, s.modified.timestamp()),
            (e.size, e.modified.timestamp()),
            "{}",
            e.path
        );
    }

    // read returns exactly the bytes, in bounded chunks.
    for (path, bytes) in &expected {
        let mut stream = target
            .read(path)
            .await
            .unwrap_or_else(|e| panic!("read {path}: {e}"));
        let mut hasher = blake3::Hasher::new();
        let mut total = 0usize;
        let mut chunks = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap_or_else(|e| panic!("reading {path}: {e}"));
            assert!(
                chunk.len() <= 16 << 20,
                "chunk of {} bytes is not bounded",
                chunk.len()
            );
            hasher.update(&chunk);
            total += chunk.len();
            chunks += 1;
        }
        assert_eq!(total, bytes.len(), "length of {path}");
        assert_eq!(hasher.finalize(), blake3::hash(bytes), "content of {path}");
        if bytes.len() > 8 << 20 {
            assert!(chunks > 1, "{path} came in one chunk: not streamed");
        }
    }

    // A blocking reader, where the backend has one, reads exactly the same bytes.
    for (path, bytes) in &expected {
        let Some(mut reader) = target.blocking_reader(path) else {
            break;
        };
        let got = tokio::task::spawn_blocking(move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 100_000];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => return Ok(got),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => return Err(e),
                }
            }
        })
        .await
        .expect("blocking read task")
        .unwrap_or_else(|e| panic!("blocking read of {path}: {e}"));
        assert_eq!(got.len(), bytes.len(), "length of {path}, read blocking");
        assert!(got == *bytes, "content of {path}, read blocking");
    }
    if let Some(mut reader) = target.blocking_reader("no/such/file.bin") {
        let err = tokio::task::spawn_blocking(move || reader.read(&mut [0u8; 16]))
            .await
            .expect("blocking read task")
            .expect_err("blocking read of a missing file");
        assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    }

    // A missing file is NotFound, for stat and for read.
    let err = target
        .stat("no/such/file.bin")
        .await
        .expect_err("stat of missing file");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    let err = match target.read("no/such/file.bin").await {
        Err(e) => e,
        Ok(s) => s
            .try_collect::<Vec<_>>()
            .await
            .expect_err("read of missing file"),
    };
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");

    // list_under lists one folder only; read_range reads a piece, even across chunks.
    let under: Vec<_> = target
        .list_under("dir/")
        .try_collect()
        .await
        .expect("list_under");
    let under: Vec<_> = under.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(under, ["dir/sub/deep.bin"]);
    let big = &expected["big/large.bin"];
    for (offset, len) in [(0u64, 10u64), (4 << 20, 3 << 20), (big.len() as u64 - 7, 7)] {
        let piece = target
            .read_range("big/large.bin", offset, len)
            .await
            .unwrap_or_else(|e| panic!("read_range {offset}+{len}: {e}"));
        assert_eq!(&piece[..], &big[offset as usize..(offset + len) as usize]);
    }
    let err = target
        .read_range("big/large.bin", big.len() as u64 - 7, 8)
        .await
        .expect_err("a range past the end");
    assert_ne!(err.kind, ErrorKind::NotFound, "{err}");

    // A test restore through the pipeline's restore function gives matching hashes.
    let scratch = tempfile::tempdir().unwrap();
    let big = "big/large.bin";
    let r = backproof::verify::restore::restore(target, big, scratch.path().join("r"))
        .await
        .expect("restore");
    assert_eq!(r.streamed, blake3::hash(&expected[big]));
    assert_eq!(Some(r.streamed), r.on_disk);
    assert_eq!(r.bytes, expected[big].len() as u64);
}

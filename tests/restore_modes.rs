//! The restore modes, end to end: `restore = "stream"` (the default) hashes the bytes as
//! they stream and claims nothing more; `restore = "disk"` writes each file to the scratch
//! folder, flushes it and reads it back past the page cache, and a scratch disk that
//! cannot hold the copy is an error, never a pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn fixture(policy: &str) -> Fixture {
    let f = Fixture::new(policy);
    f.file("daily/mon.tar", 300_000, hours(30));
    f.file("daily/tue.tar", 3 << 20, hours(2));
    f
}

fn source_hash(f: &Fixture, file: &serde_json::Value) -> String {
    let path = f.backups.join(file["path"].as_str().unwrap());
    blake3::hash(&std::fs::read(path).unwrap())
        .to_hex()
        .to_string()
}

/// The restore line of the text report.
fn restore_line(f: &Fixture) -> String {
    let out = f.backproof(&["run", "acme"]);
    out.stdout
        .lines()
        .find(|l| l.trim_start().starts_with("restore "))
        .unwrap_or_else(|| panic!("no restore line:\n{}", out.stdout))
        .to_string()
}

#[test]
fn the_default_streams_hashes_once_and_claims_no_read_back() {
    let f = fixture("sample_files = 100");
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "nas");
    assert_eq!(t["restore"]["mode"], "stream", "{:#}", t["restore"]);
    let files = t["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    for file in files {
        assert_eq!(file["streamed_blake3"], source_hash(&f, file).as_str());
        assert!(file["restored_blake3"].is_null(), "{file:#}");
        assert!(file.get("read_back").is_none(), "{file:#}");
        assert_eq!(file["verdict"], "pass");
    }
    let reason = reason_of(check(t, "restore")).to_string();
    assert!(reason.contains("as they streamed"), "{reason}");
    assert!(
        !reason.contains("read back") && !reason.contains("twice"),
        "{reason}"
    );
    let line = restore_line(&f);
    assert!(
        !line.contains("read back") && !line.contains("twice"),
        "{line}"
    );

    // The streamed hash alone still catches corruption that keeps size and date.
    corrupt_in_place(&f.backups.join("daily/tue.tar"));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let tue = sampled(target(&ev, "nas"), "daily/tue.tar").unwrap();
    assert_eq!(tue["verdict"], "fail", "{tue:#}");
}

#[test]
fn disk_mode_writes_flushes_and_reads_back_from_the_disk() {
    let f = fixture("sample_files = 100\nrestore = \"disk\"");
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "nas");
    assert_eq!(t["restore"]["mode"], "disk", "{:#}", t["restore"]);
    for file in t["files"].as_array().unwrap() {
        let expected = source_hash(&f, file);
        assert_eq!(file["streamed_blake3"], expected.as_str());
        assert_eq!(file["restored_blake3"], expected.as_str(), "{file:#}");
        // The test folders are on a file system that does direct I/O (ext4, xfs...).
        assert_eq!(file["read_back"], "disk", "{file:#}");
    }
    let reason = reason_of(check(t, "restore")).to_string();
    assert!(reason.contains("read back from the disk"), "{reason}");
    assert!(restore_line(&f).contains("read back from the disk"));
    assert!(scratch_is_empty(&f), "scratch left behind");
}

/// A tmpfs of `size` mounted at `path` for one test, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(path: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(path)
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "this test mounts a small tmpfs: run it as root"
        );
        SmallDisk(path.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn disk_mode_catches_a_scratch_disk_too_small_for_the_copy() {
    // One file at a time: the small file's copy fits, the large one's does not.
    let f = fixture("sample_files = 100\nrestore = \"disk\"\nconcurrency = 1");
    let scratch = f.dir.path().join("small-scratch");
    let _disk = SmallDisk::mount(&scratch, "1m");
    std::fs::write(
        &f.config,
        format!(
            "data_dir = \"data\"\nscratch_dir = \"{}\"\n",
            scratch.display()
        ),
    )
    .unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    let t = target(&ev, "nas");
    let tue = sampled(t, "daily/tue.tar").unwrap();
    assert_eq!(tue["verdict"], "error", "{tue:#}");
    assert!(reason_of(tue).contains("scratch folder problem"), "{tue:#}");
    assert!(tue["restored_blake3"].is_null(), "{tue:#}");
    let mon = sampled(t, "daily/mon.tar").unwrap();
    assert_eq!(mon["verdict"], "pass", "{mon:#}");
    assert_eq!(check(t, "restore")["verdict"], "error");

    // Streaming needs no room for a copy: the same backup verifies.
    f.job_with_target(
        "sample_files = 100",
        &format!("name = \"nas\"\nurl = \"file://{}\"", f.backups.display()),
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
}

//! Real restic repositories, made by the `restic` binary (Debian package), for tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "correct horse battery staple";

/// Runs restic on `repo` with `args`; `env` adds variables (S3 credentials).
pub fn restic(repo: &str, args: &[&str], env: &[(&str, &str)]) {
    let out = Command::new("restic")
        .arg("--repo")
        .arg(repo)
        .args(["--quiet", "--no-cache"])
        .args(args)
        .env("RESTIC_PASSWORD", PASSWORD)
        .env_remove("AWS_CA_BUNDLE")
        .envs(env.iter().copied())
        .output()
        .expect("restic (Debian package restic; tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "restic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs restic on `repo` for at most `limit` (restic 0.14 retries a missing pack for up
/// to 15 minutes): its exit code (`None` when it had to be killed) and everything it
/// printed.
pub fn restic_bounded(repo: &str, args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("restic.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("restic")
        .arg("--repo")
        .arg(repo)
        .args(["--no-cache", "--no-lock"])
        .args(args)
        .env("RESTIC_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("restic");
    let deadline = Instant::now() + limit;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (code, std::fs::read_to_string(&log).unwrap_or_default())
}

/// Some data to back up: a few files, one large enough to make several blobs.
pub fn data() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("ledger.db"),
        super::suite::content("ledger", 3_000_000),
    )
    .unwrap();
    std::fs::write(d.path().join("letter.txt"), b"Dear client,\n").unwrap();
    std::fs::create_dir(d.path().join("scans")).unwrap();
    std::fs::write(
        d.path().join("scans/x-ray.png"),
        super::suite::content("xray", 500_000),
    )
    .unwrap();
    d
}

/// `restic init` and three `restic backup` runs of a changing folder, as a client's
/// repository looks after three nights. Returns the folder as of the last backup.
pub fn three_backups(repo: &str, env: &[(&str, &str)]) -> tempfile::TempDir {
    restic(repo, &["init"], env);
    let d = data();
    let src = d.path().to_str().unwrap().to_string();
    restic(repo, &["backup", &src], env);
    std::fs::write(
        d.path().join("scans/y-ray.png"),
        super::suite::content("yray", 200_000),
    )
    .unwrap();
    restic(repo, &["backup", &src], env);
    std::fs::write(d.path().join("letter.txt"), b"Dear client, again.\n").unwrap();
    std::fs::write(d.path().join("minutes.txt"), b"Present: everyone.\n").unwrap();
    restic(repo, &["backup", &src], env);
    d
}

/// The files of `dir` in a repository folder (`data` holds subfolders).
pub fn files_in(repo: &Path, dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![repo.join(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The pack files (`data/xx/<sha256>`) of a repository folder.
pub fn packs(repo: &Path) -> Vec<PathBuf> {
    files_in(repo, "data")
}

/// A path below `repo` as the evidence names it.
pub fn rel(repo: &Path, p: &Path) -> String {
    p.strip_prefix(repo).unwrap().to_str().unwrap().to_string()
}

/// Checks keyed mode's evidence of a healthy repository whose newest snapshot is the
/// folder `src`: every pack present, and every restored file identical to its original
/// (BLAKE3, as `b3sum` prints it).
pub fn check_keyed(ev: &serde_json::Value, src: &Path) {
    let k = &ev["targets"][0]["restic_keyed"];
    assert_eq!(k["verdict"], "pass", "{k:#}");
    assert_eq!(k["missing_packs"], 0, "{k:#}");
    assert!(k["packs_ok"].as_u64().unwrap() > 0, "{k:#}");
    assert_eq!(k["packs_ok"], k["packs_indexed"], "{k:#}");
    assert!(k["trees"].as_u64().unwrap() > 0, "{k:#}");
    let restored = k["restored"].as_array().unwrap();
    assert!(!restored.is_empty(), "{k:#}");
    let root = src.to_str().unwrap();
    for f in restored {
        let path = f["path"].as_str().unwrap();
        let inside = path
            .strip_prefix(root)
            .unwrap_or_else(|| panic!("{path} is not under {root}"))
            .trim_start_matches('/');
        let original = std::fs::read(src.join(inside)).unwrap();
        assert_eq!(f["verdict"], "pass", "{f}");
        assert_eq!(f["size"], original.len() as u64, "{f}");
        assert_eq!(
            f["blake3"],
            blake3::hash(&original).to_hex().as_str(),
            "{f}"
        );
    }
}

/// Every file of `src`, relative.
pub fn source_files(src: &Path) -> Vec<String> {
    files_in(src, "").iter().map(|p| rel(src, p)).collect()
}

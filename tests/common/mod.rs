//! Helpers for tests that drive the real `backproof` binary against real folders.
#![allow(dead_code)]

pub mod daemon;
pub mod receiver;
pub mod restic;
pub mod servers;
pub mod staller;
pub mod suite;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::Value;

/// A temporary installation: a backup folder, a configuration and a data folder.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub backups: PathBuf,
    pub config: PathBuf,
}

/// What one invocation of the binary printed and returned.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl Fixture {
    /// A fixture with one job `acme` whose target `nas` is the backup folder.
    pub fn new(policy: &str) -> Fixture {
        let f = Fixture::empty();
        f.job_with_target(
            policy,
            &format!("name = \"nas\"\nurl = \"file://{}\"", f.backups.display()),
        );
        f
    }

    /// A configuration with no job yet.
    pub fn empty() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let backups = dir.path().join("backups");
        std::fs::create_dir_all(&backups).unwrap();
        let config = dir.path().join("backproof.toml");
        std::fs::write(&config, "data_dir = \"data\"\n").unwrap();
        std::fs::create_dir_all(dir.path().join("jobs.d")).unwrap();
        Fixture {
            dir,
            backups,
            config,
        }
    }

    /// Writes job `acme` with `policy` and one `[[targets]]` entry whose body is `target`.
    pub fn job_with_target(&self, policy: &str, target: &str) {
        self.write_job("acme", &format!(
            "client = \"Acme Dental\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"30 2 * * *\"\n\n[policy]\n{policy}\n\n[[targets]]\n{target}\n"
        ));
    }

    /// Writes a secret file in the fixture and returns its path.
    pub fn secret(&self, name: &str, value: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, format!("{value}\n")).unwrap();
        p
    }

    pub fn write_job(&self, name: &str, text: &str) {
        std::fs::write(
            self.dir.path().join("jobs.d").join(format!("{name}.toml")),
            text,
        )
        .unwrap();
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes a backup file of `size` pseudo-random bytes, modified `age` ago.
    pub fn file(&self, rel: &str, size: usize, age: Duration) -> PathBuf {
        let path = self.backups.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut content = vec![0u8; size];
        blake3::Hasher::new()
            .update(rel.as_bytes())
            .finalize_xof()
            .fill(&mut content);
        std::fs::write(&path, &content).unwrap();
        set_mtime(&path, SystemTime::now() - age);
        path
    }

    /// Runs the binary with this fixture's configuration.
    pub fn backproof(&self, args: &[&str]) -> Output {
        backproof_with(&self.config, args)
    }

    /// `backproof run JOB --json` plus extra arguments.
    pub fn run_json(&self, job: &str, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["run", job, "--json"];
        args.extend_from_slice(extra);
        let out = self.backproof(&args);
        let code = out.code;
        (code, out.json())
    }
}

pub fn backproof_with(config: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_backproof"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("BACKPROOF_CONFIG")
        .output()
        .expect("run backproof");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

pub fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Overwrites bytes in the middle of a file, keeping its size and modification time.
pub fn corrupt_in_place(path: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    let meta = std::fs::metadata(path).unwrap();
    let mtime = meta.modified().unwrap();
    let mut f = std::fs::File::options().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(meta.len() / 2)).unwrap();
    f.write_all(b"\xde\xad\xbe\xef").unwrap();
    f.set_modified(mtime).unwrap();
}

/// Cuts a file in half, keeping its modification time.
pub fn truncate_in_place(path: &Path) {
    let meta = std::fs::metadata(path).unwrap();
    let mtime = meta.modified().unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_len(meta.len() / 2).unwrap();
    f.set_modified(mtime).unwrap();
}

/// The evidence of one target of a run.
pub fn target<'a>(ev: &'a Value, name: &str) -> &'a Value {
    ev["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name} in {ev:#}"))
}

/// The check of a target by name.
pub fn check<'a>(t: &'a Value, name: &str) -> &'a Value {
    t["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {t:#}"))
}

/// Sampled file entries of a target by path.
pub fn sampled<'a>(t: &'a Value, path: &str) -> Option<&'a Value> {
    t["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
}

/// The `reason` text of a check, file or drift entry in the JSON evidence.
pub fn reason_of(v: &Value) -> &str {
    v["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("no reason in {v:#}"))
}

/// Starts `backproof run JOB --json` in the background, its output captured.
pub fn spawn_run(f: &Fixture, job: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_backproof"))
        .args(["--config", f.config.to_str().unwrap(), "run", job, "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until a restore is under way: a run's scratch folder is in place (it gets its
/// `run-` name only once its marker is whole; restores stream unless `restore = "disk"`,
/// so no restored file need appear).
pub fn wait_restoring(f: &Fixture) {
    let scratch = f.data_dir().join("scratch");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let in_place = |run: std::fs::DirEntry| {
        let name = run.file_name().to_string_lossy().into_owned();
        name.starts_with("run-")
            && !name.ends_with(".new")
            && run.path().join(".backproof-run").exists()
    };
    while !std::fs::read_dir(&scratch)
        .map(|d| d.flatten().any(in_place))
        .unwrap_or(false)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the restore never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `cond` holds (checked every 20 ms), at most `limit`: a test waits for
/// what it needs, never a fixed time.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the clock is past `t` (at most 10 s).
pub fn wait_past(t: chrono::DateTime<chrono::Utc>) {
    wait_for(
        &format!("the clock past {t}"),
        Duration::from_secs(10),
        || chrono::Utc::now() > t,
    );
}

/// Bytes in the restored files of the run scratch folders (restores under way); the
/// folders' own marker file (`.backproof-run`) does not count.
pub fn scratch_bytes(f: &Fixture) -> u64 {
    let Ok(runs) = std::fs::read_dir(f.data_dir().join("scratch")) else {
        return 0;
    };
    runs.flatten()
        .filter_map(|run| std::fs::read_dir(run.path()).ok())
        .flat_map(|files| files.flatten())
        .filter(|file| !file.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|file| file.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// The kinds of the open problems of a target's evidence.
pub fn problem_kinds(t: &Value) -> Vec<String> {
    t["problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["kind"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The scratch folder holds nothing (no run folder left behind).
pub fn scratch_is_empty(f: &Fixture) -> bool {
    std::fs::read_dir(f.data_dir().join("scratch"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

/// Waits for a background run; returns its exit code and evidence.
pub fn finish_run(child: std::process::Child) -> (i32, Value) {
    let out = child.wait_with_output().unwrap();
    let ev = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), ev)
}

/// Runs the binary like [`backproof_with`], but kills it and fails the test if it has not
/// exited within `limit`. Returns its output and how long it took.
pub fn backproof_bounded(
    config: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> (Output, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let (out_file, err_file) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let started = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_backproof"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("BACKPROOF_CONFIG")
        .envs(env.iter().copied())
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .expect("run backproof");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "backproof {} did not exit within {limit:?}; it printed:\n{}{}",
                args.join(" "),
                std::fs::read_to_string(&out_file).unwrap_or_default(),
                std::fs::read_to_string(&err_file).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = Output {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out_file).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_file).unwrap_or_default(),
    };
    (output, started.elapsed())
}

/// The job `acme` (Acme Dental, one technician) with `job_extra` among its keys and two
/// local targets: `nas` (three files under `set/`) and `usb` (three files beside it).
pub fn two_target_fixture(job_extra: &str) -> Fixture {
    let f = Fixture::empty();
    let usb = f.dir.path().join("usb");
    f.write_job(
        "acme",
        &format!(
            "client = \"Acme Dental\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"30 2 * * *\"\n{job_extra}\n\n[policy]\nsample_files = 100\n\n[[targets]]\nname = \"nas\"\nurl = \"file://{}\"\n\n[[targets]]\nname = \"usb\"\nurl = \"file://{}\"\n",
            f.backups.display(),
            usb.display()
        ),
    );
    for i in 0..3 {
        f.file(
            &format!("set/f{i:02}.bak"),
            4_000 + i * 101,
            hours(1 + 24 * i as u64),
        );
        f.file(
            &format!("../usb/u{i:02}.bak"),
            3_000 + i * 77,
            hours(2 + 24 * i as u64),
        );
    }
    f
}

//! Getting started: `init`, `job add`, the message when there is no configuration, and
//! `run` without a job.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Fixture, backproof_with, hours};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_backproof"));
    c.env_remove("BACKPROOF_CONFIG");
    c
}

#[test]
fn init_writes_a_configuration_that_passes_check_config_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["init", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let config = dir.path().join("backproof.toml");
    let example = dir.path().join("jobs.d/example-client.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.lines().filter(|l| l.starts_with('#')).count() >= 5,
        "commented: {text}"
    );

    let out = backproof_with(&config, &["check-config"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("example-client: Example Client"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.is_empty(),
        "no warnings on a fresh configuration: {}",
        out.stderr
    );

    // A second init refuses, and leaves the edited files as they are.
    std::fs::write(&example, "client = \"edited\"\n").unwrap();
    let out = backproof_with(&config, &["init"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
    assert_eq!(
        std::fs::read_to_string(&example).unwrap(),
        "client = \"edited\"\n"
    );
}

#[test]
fn no_configuration_says_where_it_looked_and_suggests_init() {
    let missing = Path::new("/nonexistent/backproof.toml");
    let out = backproof_with(missing, &["status"]);
    assert_eq!(out.code, 2);
    for part in [
        "no configuration file at /nonexistent/backproof.toml (given with --config)",
        "--config PATH, else $BACKPROOF_CONFIG, else /etc/backproof/backproof.toml",
        "`backproof --config /nonexistent/backproof.toml init`",
    ] {
        assert!(
            out.stderr.contains(part),
            "{part:?} missing in:\n{}",
            out.stderr
        );
    }
    let out = bin()
        .arg("history")
        .arg("acme")
        .env("BACKPROOF_CONFIG", missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("(from $BACKPROOF_CONFIG)"), "{stderr}");
}

#[test]
fn job_add_writes_a_job_that_runs_and_keeps_nothing_invalid() {
    let f = Fixture::empty();
    f.file("daily/a.bak", 1000, hours(2));
    let url = f.backups.display().to_string();
    let add = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "job",
            "add",
            name,
            "--client",
            "Acme \"Dental\"",
            "--url",
            &url,
        ];
        args.extend_from_slice(extra);
        f.backproof(&args)
    };
    let out = add("acme", &["--technician", "noc@msp.example"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("acme/main: reachable"),
        "{}",
        out.stdout
    );
    let out = f.backproof(&["check-config"]);
    assert!(
        out.stdout.contains("acme: Acme \"Dental\""),
        "{}",
        out.stdout
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");

    // The same name again is refused; the file stays as it was.
    let before = std::fs::read_to_string(f.dir.path().join("jobs.d/acme.toml")).unwrap();
    let out = add("acme", &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    let after = std::fs::read_to_string(f.dir.path().join("jobs.d/acme.toml")).unwrap();
    assert_eq!(before, after);

    // A job that would make the configuration invalid is not kept.
    let out = add("other", &["--schedule", "every day"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("other.toml:"), "{}", out.stderr);
    assert!(!f.dir.path().join("jobs.d/other.toml").exists());
    // An unreachable folder is told; the file is kept for the technician to fix.
    let out = f.backproof(&[
        "job",
        "add",
        "gone",
        "--client",
        "Gone",
        "--url",
        "/nonexistent/backups",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("gone/main: ERROR"), "{}", out.stdout);
}

#[test]
fn run_without_a_job_lists_the_jobs() {
    let f = Fixture::new("");
    let out = f.backproof(&["run"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("backproof run JOB"), "{}", out.stderr);
    assert!(
        out.stderr.contains("  acme  Acme Dental (1 target)"),
        "{}",
        out.stderr
    );
}

//! `backproof watch RUN_ID`: re-attaching to a run of the daemon; Ctrl-C stops watching,
//! and the run goes on in the daemon.

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::daemon::Daemon;
use common::staller::Staller;
use common::{Fixture, hours};

fn start_run(d: &Daemon) -> String {
    let (code, v) = d.post("/v1/jobs/acme/runs", serde_json::json!({}));
    assert_eq!(code, 202, "{v}");
    v["run_id"].as_str().unwrap().to_string()
}

#[test]
fn watch_follows_a_daemon_run_to_its_verdict() {
    let f = Fixture::new("");
    f.file("a.bak", 10_000, hours(1));
    // Without a daemon there is nothing to re-attach to, and it says so.
    let out = f.backproof(&["watch", "20261128-000000-abcd"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no daemon is running"),
        "{}",
        out.stderr
    );

    let d = Daemon::start(&f, "");
    let id = start_run(&d);
    let out = f.backproof(&["watch", &id]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("Run {id}")), "{}", out.stdout);
    assert!(out.stdout.contains("Verdict: PASS"), "{}", out.stdout);
}

#[test]
fn ctrl_c_while_watching_leaves_the_run_going_in_the_daemon() {
    // An S3 endpoint that accepts and never answers: the run stays in progress.
    let silent = Staller::silent();
    let f = Fixture::empty();
    let secret = f.secret("s3.secret", "not-a-real-key");
    f.job_with_target(
        "",
        &format!(
            "name = \"offsite\"\nurl = \"s3://bucket/\"\nendpoint = \"http://127.0.0.1:{}\"\npath_style = true\naccess_key_id = \"AK\"\nsecret_access_key_file = \"{}\"\ntimeout = \"120s\"",
            silent.port,
            secret.display()
        ),
    );
    let d = Daemon::start(&f, "");
    let id = start_run(&d);
    let mut watch = Command::new(env!("CARGO_BIN_EXE_backproof"))
        .args(["--config", f.config.to_str().unwrap(), "watch", &id])
        .env_remove("BACKPROOF_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its first line says it is watching (and listening for Ctrl-C).
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = watch.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(first.contains(&format!("watching run {id}")), "{first}");
    assert!(
        Command::new("kill")
            .args(["-INT", &watch.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = watch.wait().unwrap();
    let rest: Vec<String> = rx.iter().collect();
    assert_eq!(status.code(), Some(2), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains(&format!("run {id} goes on in the daemon"))),
        "{rest:?}"
    );
    let (_, p) = d.get(&format!("/v1/runs/{id}/progress"));
    assert_eq!(p["state"], "running", "{p}");
}

//! `backproof check`: the Nagios answer for RMM agents, from the catalog (or the daemon's
//! API) without running anything.

mod common;

use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::*;

fn fixture() -> Fixture {
    let f = Fixture::new("sample_files = 100");
    for i in 0..4 {
        f.file(
            &format!("set/f{i:02}.bak"),
            3_000 + i * 17,
            hours(1 + 24 * i as u64),
        );
    }
    f
}

#[test]
fn nagios_states_follow_the_status_of_the_client() {
    let f = fixture();
    let out = f.backproof(&["check", "acme"]);
    assert_eq!(out.code, 3, "never verified: {}", out.stdout);
    assert!(
        out.stdout
            .starts_with("UNKNOWN - Acme Dental: never verified"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stdout.lines().count(), 1);

    assert_eq!(f.run_json("acme", &[]).0, 0);
    let out = f.backproof(&["check", "acme"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.starts_with("OK - Acme Dental: last run PASS"),
        "{}",
        out.stdout
    );

    let victim = f.backups.join("set/f02.bak");
    let original = std::fs::read(&victim).unwrap();
    let mtime = std::fs::metadata(&victim).unwrap().modified().unwrap();
    corrupt_in_place(&victim);
    assert_eq!(f.run_json("acme", &[]).0, 1);
    let out = f.backproof(&["check", "acme"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stdout.starts_with("CRITICAL - Acme Dental: [BP-")
            && out.stdout.contains("] corruption on nas"),
        "{}",
        out.stdout
    );
    let out = f.backproof(&["check", "acme", "--format", "json"]);
    assert_eq!(out.code, 2);
    let j = out.json();
    assert_eq!(j["state"], "CRITICAL");
    assert_eq!(j["exit_code"], 2);
    assert_eq!(j["job"], "acme");

    // Acknowledged, but the last run failed: `status` still says PROBLEM, and so does the
    // check (one computation of the state).
    let acked = f.backproof(&["ack", "acme", "--reason", "restoring from offsite copy"]);
    assert_eq!(acked.code, 0, "{}{}", acked.stdout, acked.stderr);
    let status = f.backproof(&["status", "--json"]).json();
    assert_eq!(status["rows"][0]["state"], "problem");
    let out = f.backproof(&["check", "acme"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stdout.contains("corruption on nas (acknowledged)"),
        "{}",
        out.stdout
    );

    // Fixed: the file restored and verified again.
    std::fs::write(&victim, &original).unwrap();
    set_mtime(&victim, mtime);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let out = f.backproof(&["check", "acme"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn all_clients_worst_first_with_perfdata_and_through_the_daemon() {
    let f = fixture();
    f.write_job(
        "beta",
        &format!(
            "client = \"Beta Law\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"30 2 * * *\"\n\n[[targets]]\nname = \"usb\"\nurl = \"file://{}\"\n",
            f.backups.display()
        ),
    );
    assert_eq!(f.run_json("acme", &[]).0, 0);
    assert_eq!(f.run_json("beta", &[]).0, 0);
    corrupt_in_place(&f.backups.join("set/f01.bak"));
    assert_eq!(f.run_json("acme", &[]).0, 1);
    let out = f.backproof(&["check", "--all"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("CRITICAL - 1 of 2 clients CRITICAL: Acme Dental: [BP-"),
        "{}",
        out.stdout
    );
    assert!(
        lines[0].ends_with("| ok=1 warning=0 critical=1 unknown=0"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("CRITICAL - Acme Dental"),
        "{}",
        out.stdout
    );
    assert!(lines[2].starts_with("OK - Beta Law"), "{}", out.stdout);

    // The daemon holds the catalog: the same answer through its API, in under a second.
    let d = Daemon::start(&f, "");
    let started = Instant::now();
    let out = f.backproof(&["check", "acme"]);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with("CRITICAL - Acme Dental: [BP-"),
        "{}",
        out.stdout
    );
    let out = f.backproof(&["check", "--all", "--format", "json"]);
    assert_eq!(out.json()["state"], "CRITICAL");
    assert_eq!(out.json()["clients"].as_array().unwrap().len(), 2);
    drop(d);
}

#[test]
fn a_check_that_cannot_read_the_state_is_unknown_never_ok() {
    let f = fixture();
    let out = f.backproof(&["check", "nosuchjob"]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(
        out.stdout
            .starts_with("UNKNOWN - backproof check failed: no job named `nosuchjob`"),
        "{}",
        out.stdout
    );
    std::fs::write(&f.config, "data_dir = \"data\"\nbogus = 1\n").unwrap();
    let out = f.backproof(&["check", "--all"]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(out.stdout.starts_with("UNKNOWN - "), "{}", out.stdout);
}

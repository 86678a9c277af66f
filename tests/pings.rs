//! Dead-man's switch pings against a real HTTP receiver on 127.0.0.1: each run pings
//! `/start` and then success or `/fail` with its summary; a monitor that stalls never holds
//! a run; the daemon's heartbeat goes out only while the daemon is healthy.

mod common;

use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::receiver::{Answer, Receiver};
use common::*;

/// A secret part of the ping URL, which must never show in output or logs.
const SECRET: &str = "5e1c2a0f-uuid-secret";

/// Job `acme` with six backup files (all sampled) and `extra` job keys.
fn fixture(extra: &str) -> Fixture {
    let f = Fixture::empty();
    f.write_job(
        "acme",
        &format!(
            "client = \"Acme Dental\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"30 2 * * *\"\n{extra}\n\n[policy]\nsample_files = 100\n\n[[targets]]\nname = \"nas\"\nurl = \"file://{}\"\n",
            f.backups.display()
        ),
    );
    for i in 0..6 {
        f.file(
            &format!("set/f{i:02}.bak"),
            4_000 + i * 101,
            hours(1 + 24 * i as u64),
        );
    }
    f
}

#[test]
fn a_run_pings_start_then_success_and_a_failed_run_pings_fail_with_its_summary() {
    let hc = Receiver::start();
    let f = fixture(&format!(
        "ping_url = \"{}\"",
        hc.url(&format!("/ping/{SECRET}"))
    ));
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let got = hc.wait_for("/ping/", 2, Duration::from_secs(10));
    let paths: Vec<(&str, &str)> = got
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("POST", format!("/ping/{SECRET}/start").as_str()),
            ("POST", format!("/ping/{SECRET}").as_str())
        ]
    );
    assert!(got[1].text().contains("Verdict: PASS"), "{}", got[1].text());

    corrupt_in_place(&f.backups.join("set/f03.bak"));
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let got = hc.wait_for("/ping/", 4, Duration::from_secs(10));
    assert_eq!(got[2].path, format!("/ping/{SECRET}/start"));
    assert_eq!(got[3].path, format!("/ping/{SECRET}/fail"));
    let body = got[3].text();
    assert!(
        body.contains("Verdict: FAIL") && body.contains("corrupt"),
        "{body}"
    );
    assert!(body.len() <= 100 * 1024);
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));
}

#[test]
fn uptime_kuma_is_pushed_up_or_down_with_the_headline() {
    let kuma = Receiver::start();
    let f = fixture(&format!(
        "ping_url = \"{}\"\nping_format = \"uptime-kuma\"",
        kuma.url("/api/push/tok?status=up&msg=OK&ping=")
    ));
    assert_eq!(f.backproof(&["run", "acme"]).code, 0);
    corrupt_in_place(&f.backups.join("set/f02.bak"));
    assert_eq!(f.backproof(&["run", "acme"]).code, 1);
    let got = kuma.wait_for("/api/push/tok", 2, Duration::from_secs(10));
    assert_eq!(got.len(), 2, "no start ping for Uptime Kuma");
    assert!(got.iter().all(|r| r.method == "GET"));
    assert!(
        got[0].path.contains("status=up&msg=PASS"),
        "{}",
        got[0].path
    );
    assert!(
        got[1].path.contains("status=down&msg=FAIL"),
        "{}",
        got[1].path
    );
    assert!(
        got[1].path.contains("ping=&"),
        "other query keys are kept: {}",
        got[1].path
    );
}

#[test]
fn a_stalled_or_failing_monitor_never_holds_or_fails_a_run() {
    let hc = Receiver::start();
    hc.answer(Answer::Stall);
    let f = fixture(&format!(
        "ping_url = \"{}\"",
        hc.url(&format!("/ping/{SECRET}"))
    ));
    // The daemon: the run ends (recorded, progress finished) while the monitor still
    // holds the start ping's connection (its deadline is 10 s).
    let d = Daemon::start(&f, "");
    let started = Instant::now();
    let (code, body) = d.post("/v1/jobs/acme/runs", serde_json::json!({}));
    assert_eq!(code, 202, "{body}");
    let run_id = body["run_id"].as_str().unwrap().to_string();
    let p = d.wait_run(&run_id, Duration::from_secs(30));
    assert_eq!(p["state"], "finished", "{p}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "the run waited for the stalled monitor: {:?}",
        started.elapsed()
    );
    assert_eq!(
        hc.requests_to("/ping/").len(),
        1,
        "the start ping is still held"
    );
    drop(d);

    // The command line: the run is recorded and its exit code is the verdict's; the end
    // ping waits at most its deadline; the warning does not show the URL's secret.
    let (out, took) = backproof_bounded(&f.config, &["run", "acme"], &[], Duration::from_secs(40));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(took < Duration::from_secs(25), "{took:?}");
    hc.answer(Answer::Status(500));
    let (out, _) = backproof_bounded(
        &f.config,
        &["-v", "run", "acme"],
        &[],
        Duration::from_secs(40),
    );
    assert_eq!(
        out.code, 0,
        "a monitor answering 500 does not fail the run: {}",
        out.stderr
    );
    assert!(out.stderr.contains("ping failed"), "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 500"), "{}", out.stderr);
    assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
}

#[test]
fn the_heartbeat_goes_out_only_while_the_daemon_is_healthy_and_stops_with_it() {
    let hb = Receiver::start();
    let f = fixture("");
    let stall = f.dir.path().join("stall");
    let mut d = Daemon::start_with_env(
        &f,
        &format!(
            "stall_timeout = \"2s\"\nheartbeat_url = \"{}\"\nheartbeat_interval = \"1s\"",
            hb.url(&format!("/hb/{SECRET}"))
        ),
        &[
            ("WATCHDOG_USEC", "1000000"),
            ("BACKPROOF_TEST_STALL_FILE", stall.to_str().unwrap()),
        ],
    );
    let seen = hb.wait_for("/hb/", 3, Duration::from_secs(10)).len();
    assert!(
        hb.requests_to("/hb/")
            .iter()
            .all(|r| r.path == format!("/hb/{SECRET}"))
    );

    // The scheduler hangs: once health says so, the heartbeat stops.
    std::fs::write(&stall, "scheduler").unwrap();
    wait_for("health says stuck", Duration::from_secs(15), || {
        d.request("GET", "/v1/health", None, None).0 == 503
    });
    let stuck_at = Instant::now();
    // Two intervals and a half: none sent once the daemon is stuck (a ping already on its
    // way when health changed may arrive within a few milliseconds).
    std::thread::sleep(Duration::from_millis(2500));
    let late: Vec<_> = hb
        .requests_to("/hb/")
        .into_iter()
        .filter(|r| r.at > stuck_at + Duration::from_millis(100))
        .collect();
    assert!(late.is_empty(), "pinged while stuck: {late:?}");
    assert!(
        d.log_text().contains("heartbeat withheld"),
        "{}",
        d.log_text()
    );
    let stuck_count = hb.requests_to("/hb/").len();
    assert!(stuck_count >= seen);

    // It moves again: the heartbeat is back.
    std::fs::remove_file(&stall).unwrap();
    hb.wait_for("/hb/", stuck_count + 2, Duration::from_secs(15));

    // Stopped: no heartbeat within two intervals.
    d.signal("-TERM");
    assert!(d.wait_exit(Duration::from_secs(15)).is_some());
    let stopped_at = hb.requests_to("/hb/").len();
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(
        hb.requests_to("/hb/").len(),
        stopped_at,
        "pinged after the daemon stopped"
    );
    assert!(!d.log_text().contains(SECRET));
}

//! The real daemon: its API, concurrent triggers, signals, restarts and the CLI over it.

mod common;

use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::*;
use serde_json::json;

/// A job `acme` with small files, and a job `big` whose newest file is a sparse 64 GiB
/// image: a run of `big` takes long enough to be interrupted.
fn fixture() -> Fixture {
    let f = Fixture::new("sample_files = 100");
    for (i, n) in ["a.tar", "b.tar", "c.tar"].iter().enumerate() {
        f.file(n, 20_000, hours(1 + i as u64));
    }
    let big = f.dir.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::File::create(big.join("huge.img"))
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    f.write_job(
        "big",
        &format!(
            "client = \"Big Data Inc\"\nschedule = \"0 3 * * *\"\n[policy]\nsample_bytes = \"1TB\"\n[[targets]]\nname = \"disk\"\nurl = \"file://{}\"\n",
            big.display()
        ),
    );
    f
}

#[test]
fn the_api_needs_the_token_and_never_logs_it() {
    let f = fixture();
    let d = Daemon::start(&f, "");
    // Health is for uptime monitors: no token, and nothing about clients.
    let (code, health) = d.request("GET", "/v1/health", None, None);
    assert_eq!(code, 200);
    assert!(!health.to_string().contains("acme"), "{health}");
    assert_eq!(d.request("GET", "/v1/status", None, None).0, 401);
    assert_eq!(
        d.request("GET", "/v1/outbox", Some("wrong-token"), None).0,
        401
    );
    assert_eq!(
        d.request("GET", "/v1/jobs", Some("wrong-token"), None).0,
        401
    );
    assert_eq!(
        d.request("POST", "/v1/jobs/acme/runs", None, Some(json!({})))
            .0,
        401
    );
    // The token file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(f.data_dir().join("api.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let (code, jobs) = d.get("/v1/jobs");
    assert_eq!(code, 200);
    assert_eq!(jobs.as_array().unwrap().len(), 2);
    assert!(jobs[0]["next_run"].is_string(), "{jobs}");
    assert!(!d.log_text().contains(&d.token), "the token is in the log");
}

#[test]
fn a_run_through_the_api_and_a_second_trigger_refused() {
    let f = fixture();
    let d = Daemon::start(&f, "");
    let (code, started) = d.post("/v1/jobs/big/runs", json!({}));
    assert_eq!(code, 202, "{started}");
    let run_id = started["run_id"].as_str().unwrap().to_string();
    let (code, refused) = d.post("/v1/jobs/big/runs", json!({}));
    assert_eq!(code, 409);
    let message = refused["error"].as_str().unwrap();
    assert!(
        message.contains("already running") && message.contains(&run_id),
        "{message}"
    );
    // Other jobs still run, up to max_concurrent_runs.
    let (code, small) = d.post("/v1/jobs/acme/runs", json!({"target": "nas"}));
    assert_eq!(code, 202);
    let p = d.wait_run(small["run_id"].as_str().unwrap(), Duration::from_secs(30));
    assert_eq!(p["state"], "finished");
    assert_eq!(p["exit_code"], 0);
    let (code, ev) = d.get(&format!("/v1/runs/{}", small["run_id"].as_str().unwrap()));
    assert_eq!(code, 200);
    assert_eq!(ev["verdict"], "pass");
    assert_eq!(d.post("/v1/jobs/nobody/runs", json!({})).0, 404);
    assert_eq!(
        d.post("/v1/jobs/acme/runs", json!({"target": "usb"})).0,
        404
    );
    let (_, progress) = d.get(&format!("/v1/runs/{run_id}/progress"));
    assert_eq!(progress["state"], "running", "{progress}");
    // The CLI's status goes through the daemon and shows the run going on.
    // `big` has never finished a run: not verified (exit 2), and it is running.
    let out = f.backproof(&["status"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("NOT VERIFIED (running) big")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("daemon: running"), "{}", out.stdout);
}

#[test]
fn sigterm_mid_run_records_it_as_interrupted_and_cleans_up() {
    let f = fixture();
    let mut d = Daemon::start(&f, "");
    let (_, started) = d.post("/v1/jobs/big/runs", json!({}));
    let run_id = started["run_id"].as_str().unwrap().to_string();
    wait_restoring(&f);
    let sent = Instant::now();
    d.signal("-TERM");
    let status = d
        .wait_exit(Duration::from_secs(20))
        .expect("the daemon did not stop");
    assert!(status.success(), "{status}: {}", d.log_text());
    assert!(
        sent.elapsed() < Duration::from_secs(15),
        "took {:?}",
        sent.elapsed()
    );
    assert!(scratch_is_empty(&f), "scratch left behind");
    // The daemon is gone: the CLI reads the catalog itself.
    let out = f.backproof(&["show", &run_id, "--json"]);
    assert_eq!(out.json()["status"], "interrupted", "{}", out.stdout);
    assert!(out.json()["verdict"].is_null());
}

#[test]
fn kill_9_mid_run_is_recovered_on_restart_without_duplicate_email() {
    let f = fixture();
    // Make `acme` fail, so its report is reported (to .eml files: no [smtp]).
    let d = Daemon::start(&f, "");
    let (_, r) = d.post("/v1/jobs/acme/runs", json!({}));
    d.wait_run(r["run_id"].as_str().unwrap(), Duration::from_secs(30));
    corrupt_in_place(&f.backups.join("a.tar"));
    let (_, r) = d.post("/v1/jobs/acme/runs", json!({}));
    let failed_run = r["run_id"].as_str().unwrap().to_string();
    let p = d.wait_run(&failed_run, Duration::from_secs(30));
    assert_eq!(p["exit_code"], 1);
    // The reports delivered (as .eml files: no [smtp]), each with the run it is about.
    let mails = || -> Vec<String> {
        std::fs::read_dir(f.data_dir().join("mail"))
            .map(|d| {
                d.flatten()
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Each report attaches its evidence as `backproof-<job>-<run>.json`.
    let reports_of = |run: &str| {
        let attachment = format!("backproof-acme-{run}.json");
        mails().iter().filter(|m| m.contains(&attachment)).count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while reports_of(&failed_run) < 1 {
        assert!(Instant::now() < deadline, "the report was not delivered");
        std::thread::sleep(Duration::from_millis(50));
    }

    let (_, started) = d.post("/v1/jobs/big/runs", json!({}));
    let big_run = started["run_id"].as_str().unwrap().to_string();
    wait_restoring(&f);
    d.signal("-KILL");
    drop(d);
    assert!(
        !scratch_is_empty(&f),
        "an orphan scratch folder is expected after kill -9"
    );

    let d = Daemon::start(&f, "");
    assert!(
        scratch_is_empty(&f),
        "the orphan scratch folder was not removed"
    );
    let (_, ev) = d.get(&format!("/v1/runs/{big_run}"));
    assert_eq!(ev["status"], "interrupted", "{ev}");
    // The outbox worker delivers in the order reports were queued: once the report of a
    // run after the restart is there, a second copy of the old one would be too.
    let (_, r) = d.post("/v1/jobs/acme/runs", json!({}));
    let later_run = r["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        d.wait_run(&later_run, Duration::from_secs(30))["exit_code"],
        1
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while reports_of(&later_run) < 1 {
        assert!(
            Instant::now() < deadline,
            "the later report was not delivered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(reports_of(&failed_run), 1, "a report was sent twice");
    assert_eq!(mails().len(), 2, "only the two reports");
    let out = f.backproof(&["outbox"]);
    assert!(out.stdout.contains("file only"), "{}", out.stdout);
}

#[test]
fn sighup_reloads_and_a_broken_configuration_keeps_the_old_one() {
    let f = fixture();
    let d = Daemon::start(&f, "");
    let job = f.dir.path().join("jobs.d/acme.toml");
    let good = std::fs::read_to_string(&job).unwrap();
    std::fs::write(&job, "client = \"Acme\"\nthis is not toml\n").unwrap();
    d.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.log_text().contains("reload refused") {
        assert!(
            Instant::now() < deadline,
            "no refusal logged: {}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        d.log_text().contains("acme.toml:2"),
        "the error names file and line"
    );
    let (_, jobs) = d.get("/v1/jobs");
    assert_eq!(
        jobs.as_array().unwrap().len(),
        2,
        "the old configuration still runs"
    );
    let (code, r) = d.post("/v1/jobs/acme/runs", json!({}));
    assert_eq!(code, 202);
    assert_eq!(
        d.wait_run(r["run_id"].as_str().unwrap(), Duration::from_secs(30))["exit_code"],
        0
    );

    // A good new configuration with a third job is taken.
    std::fs::write(&job, good.clone()).unwrap();
    f.write_job("law", &good.replace("Acme Dental", "Riverside Law"));
    d.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, jobs) = d.get("/v1/jobs");
        if jobs.as_array().map(|a| a.len()) == Some(3) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reload not applied: {}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_cli_runs_through_the_daemon_and_exits_with_the_verdict() {
    let f = fixture();
    let _d = Daemon::start(&f, "");
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("started by the daemon"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("Verdict: PASS"), "{}", out.stdout);
    corrupt_in_place(&f.backups.join("b.tar"));
    let out = f.backproof(&["run", "acme", "--json"]);
    assert_eq!(out.code, 1);
    let ev = out.json();
    assert_eq!(ev["verdict"], "fail");
    let out = f.backproof(&["history", "acme"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
    let out = f.backproof(&["show", ev["run_id"].as_str().unwrap()]);
    assert!(out.stdout.contains("Verdict: FAIL"), "{}", out.stdout);
}

#[test]
fn a_run_missed_while_the_daemon_was_down_runs_once_at_start() {
    let f = fixture();
    {
        // The daemon last handled acme's slot three days ago.
        let c = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
        c.set_last_slot("acme", chrono::Utc::now() - chrono::Duration::days(3))
            .unwrap();
        c.flush().unwrap();
    }
    let d = Daemon::start(&f, "catch_up_delay = \"1s\"");
    let deadline = Instant::now() + Duration::from_secs(30);
    let runs = loop {
        let (_, runs) = d.get("/v1/jobs/acme/runs");
        let done = runs
            .as_array()
            .map(|a| a.iter().any(|r| r["status"] == "finished"))
            .unwrap_or(false);
        if done {
            break runs;
        }
        assert!(
            Instant::now() < deadline,
            "no catch-up run: {}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(runs[0]["trigger"], "schedule");
    // The catch-up requests are sent back to back and each is logged as it is handled
    // (started, or skipped as already running): by the time the first run has finished,
    // a request per missed slot would have shown.
    let log = d.log_text();
    assert_eq!(
        log.matches("scheduled run started").count(),
        1,
        "caught up once, not once per missed slot: {log}"
    );
    assert!(!log.contains("scheduled run skipped"), "{log}");
    let (_, runs) = d.get("/v1/jobs/acme/runs");
    assert_eq!(
        runs.as_array().unwrap().len(),
        1,
        "caught up once, not once per missed slot"
    );
    let (_, big) = d.get("/v1/jobs/big/runs");
    assert_eq!(
        big.as_array().unwrap().len(),
        0,
        "a job never scheduled before is not caught up"
    );
}

#[test]
fn readiness_is_signalled_to_systemd_only_once_the_api_answers() {
    use std::os::unix::net::UnixDatagram;
    let f = fixture();
    let port = common::servers::free_port();
    let mut text = std::fs::read_to_string(&f.config).unwrap();
    text.push_str(&format!("\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(&f.config, text).unwrap();
    let socket = f.dir.path().join("notify.sock");
    let listener = UnixDatagram::bind(&socket).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_backproof"))
        .args(["--config", f.config.to_str().unwrap(), "daemon"])
        .env("NOTIFY_SOCKET", &socket)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = listener.recv(&mut buf).expect("no READY=1 from the daemon");
    let message = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(message.contains("READY=1"), "{message}");
    // At READY the API already answers.
    let token = std::fs::read_to_string(f.data_dir().join("api.token")).unwrap();
    let resp = reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/health"))
        .bearer_auth(token.trim())
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let n = listener.recv(&mut buf).expect("no STOPPING=1");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1"));
    assert!(child.wait().unwrap().success());
}

#[test]
fn problems_are_acknowledged_through_the_daemon() {
    let f = fixture();
    let d = Daemon::start(&f, "");
    let run = |d: &Daemon| {
        let (code, started) = d.post("/v1/jobs/acme/runs", json!({}));
        assert_eq!(code, 202, "{started}");
        d.wait_run(started["run_id"].as_str().unwrap(), Duration::from_secs(30))
    };
    assert_eq!(run(&d)["exit_code"], 0);
    corrupt_in_place(&f.backups.join("a.tar"));
    assert_eq!(run(&d)["exit_code"], 1);
    // Without a reason the daemon refuses; with one, the CLI acknowledges through it.
    let (code, refused) = d.post("/v1/jobs/acme/ack", json!({"reason": "", "by": "x"}));
    assert_eq!(code, 400, "{refused}");
    let out = f.backproof(&["ack", "acme", "--reason", "disk replaced", "--by", "bob"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("corruption on nas"), "{}", out.stdout);
    let out = f.backproof(&["status", "--json"]);
    let rows = out.json()["rows"].clone();
    let acme = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "acme")
        .unwrap()
        .clone();
    assert_eq!(acme["worst_problem"]["acknowledged"], true, "{acme:#}");
    assert!(d.log_text().contains("problem acknowledged"));
    // The client's problems through the API: the acknowledgement is in force at once.
    let (code, problems) = d.get("/v1/jobs/acme/problems");
    assert_eq!(code, 200, "{problems}");
    assert_eq!(problems.as_array().unwrap().len(), 1, "{problems:#}");
    assert_eq!(problems[0]["kind"], "corruption", "{problems:#}");
    assert_eq!(problems[0]["acknowledged"]["by"], "bob", "{problems:#}");
    assert_eq!(d.get("/v1/jobs/nobody/problems").0, 404);
}

/// A job `acme` emailed with the `[smtp]` section `smtp(&fixture)`, verified once (a pass,
/// not emailed); then a file is corrupted, so each of its next runs fails and is emailed.
fn failing(smtp: impl FnOnce(&Fixture) -> String) -> Fixture {
    let f = Fixture::new("sample_files = 100");
    for (i, name) in ["a.tar", "b.tar"].iter().enumerate() {
        f.file(name, 20_000, hours(1 + i as u64));
    }
    let section = smtp(&f);
    std::fs::write(&f.config, format!("data_dir = \"data\"\n{section}")).unwrap();
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("b.tar"));
    f
}

/// Starts a run of `job` through the API and waits for it; returns its id and progress.
fn run_through_api(d: &Daemon, job: &str) -> (String, serde_json::Value) {
    let (code, r) = d.post(&format!("/v1/jobs/{job}/runs"), json!({}));
    assert_eq!(code, 202, "{r}");
    let id = r["run_id"].as_str().unwrap().to_string();
    let p = d.wait_run(&id, Duration::from_secs(60));
    (id, p)
}

/// Waits until `ready` holds, failing the test after `limit`.
fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn three_deliverers_at_once_send_a_report_once() {
    use common::servers::{SMTP_PASSWORD, Smtp};
    // The relay takes 3 s to answer a message's data.
    let smtp = Smtp::start_with_data_delay(Duration::from_secs(3));
    let f = failing(|f| smtp.config(&f.secret("smtp.secret", SMTP_PASSWORD)));
    let d = Daemon::start(&f, "");
    let (_, p) = run_through_api(&d, "acme");
    assert_eq!(p["exit_code"], 1);
    // The run woke the delivery worker; two `outbox --retry` join in while it sends.
    let retries: Vec<_> = (0..2)
        .map(|_| {
            let config = f.config.clone();
            std::thread::spawn(move || {
                backproof_bounded(
                    &config,
                    &["outbox", "--retry"],
                    &[],
                    Duration::from_secs(60),
                )
                .0
            })
        })
        .collect();
    let outputs: Vec<Output> = retries.into_iter().map(|t| t.join().unwrap()).collect();
    let sent = || {
        let (_, items) = d.get("/v1/outbox");
        items[0]["delivery"]["state"] == "sent"
    };
    wait_for("the report is delivered", Duration::from_secs(30), sent);
    assert_eq!(smtp.messages().len(), 1, "one copy, not one per deliverer");
    let (_, items) = d.get("/v1/outbox");
    assert_eq!(items[0]["attempts"], 1, "{items}");
    assert!(
        outputs
            .iter()
            .any(|o| o.stdout.contains("1 being delivered by another delivery")),
        "{}",
        outputs
            .iter()
            .map(|o| format!("{}{}", o.stdout, o.stderr))
            .collect::<String>()
    );
}

#[test]
fn a_relay_that_stalls_does_not_stop_the_delivery_worker() {
    use common::servers::{SMTP_PASSWORD, Smtp};
    use common::staller::Staller;
    let smtp = Smtp::start();
    // The first connection is accepted and never answered; later ones reach the server.
    let relay = Staller::first_then_forward(1, smtp.port);
    let f = failing(|f| {
        smtp.config(&f.secret("smtp.secret", SMTP_PASSWORD))
            .replace(
                &format!("port = {}\n", smtp.port),
                &format!("port = {}\n", relay.port),
            )
            .replace("timeout = \"5s\"", "timeout = \"1s\"")
    });
    let d = Daemon::start(&f, "");
    let (first, _) = run_through_api(&d, "acme");
    wait_for(
        "the worker tries the stalled relay",
        Duration::from_secs(30),
        || relay.accepted() >= 1,
    );
    let (second, p) = run_through_api(&d, "acme");
    assert_eq!(p["exit_code"], 1);
    wait_for(
        "the second report is delivered",
        Duration::from_secs(60),
        || !smtp.messages().is_empty(),
    );
    let messages = smtp.messages();
    let m = String::from_utf8_lossy(&messages[0]);
    assert!(m.contains(&format!("<run-{second}.acme@")), "{m}");
    // The first report stays queued for its retry, with the reason.
    let (_, items) = d.get("/v1/outbox");
    let item = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["run_id"] == first.as_str())
        .unwrap();
    assert_eq!(item["delivery"]["state"], "pending", "{item}");
    assert!(
        item["last_error"]
            .as_str()
            .unwrap()
            .contains("smtp.send_timeout"),
        "{item}"
    );
}

#[test]
fn a_run_that_panics_is_recorded_and_frees_its_job() {
    let f = fixture();
    // The test-only hook of debug builds (see src/verify/crash.rs): runs panic while
    // this file exists.
    let flag = f.secret("panic-now", "forced by the test");
    let d = Daemon::start_with_env(
        &f,
        "",
        &[("BACKPROOF_TEST_PANIC_FILE", flag.to_str().unwrap())],
    );
    let (run_id, p) = run_through_api(&d, "acme");
    assert_eq!(p["state"], "finished", "{p}");
    assert_eq!(p["exit_code"], 2, "could not verify: {p}");
    let (_, ev) = d.get(&format!("/v1/runs/{run_id}"));
    assert_eq!(ev["status"], "finished", "{ev}");
    assert_eq!(ev["verdict"], "error");
    let summary = target(&ev, "nas")["summary"].as_str().unwrap();
    assert!(summary.contains("forced by the test"), "{summary}");

    // The job is free: the next trigger runs (not 409), and verifies.
    std::fs::remove_file(&flag).unwrap();
    let (_, p) = run_through_api(&d, "acme");
    assert_eq!(p["exit_code"], 0, "{p}");

    // The error and the recovery after it were reported (to files: no [smtp]), and the
    // log does not call them sent.
    wait_for("both reports are written", Duration::from_secs(30), || {
        std::fs::read_dir(f.data_dir().join("mail"))
            .map(|d| d.count() == 2)
            .unwrap_or(false)
    });
    let reports: String = std::fs::read_dir(f.data_dir().join("mail"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        reports.contains("Subject: [ERROR] Acme Dental"),
        "{reports}"
    );
    wait_for("the log tells", Duration::from_secs(10), || {
        d.log_text().contains("not emailed")
    });
    assert!(!d.log_text().contains("email sent"), "{}", d.log_text());
}

/// Receives notify-socket datagrams in the background and counts `WATCHDOG=1` pings.
struct NotifySocket {
    pings: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl NotifySocket {
    fn bind(path: &std::path::Path) -> NotifySocket {
        use std::os::unix::net::UnixDatagram;
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let pings = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = pings.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                if let Ok(n) = socket.recv(&mut buf)
                    && String::from_utf8_lossy(&buf[..n]).contains("WATCHDOG=1")
                {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        NotifySocket { pings }
    }

    fn count(&self) -> usize {
        self.pings.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Pings seen during `d`.
    fn during(&self, d: Duration) -> usize {
        let before = self.count();
        std::thread::sleep(d);
        self.count() - before
    }
}

/// `GET /v1/health` without a token.
fn health(d: &Daemon) -> (u16, serde_json::Value) {
    d.request("GET", "/v1/health", None, None)
}

#[test]
fn the_watchdog_is_answered_only_while_every_part_makes_progress() {
    let f = fixture();
    // acme's reports are always emailed: a run wakes the delivery worker.
    let job = f.dir.path().join("jobs.d/acme.toml");
    let text = std::fs::read_to_string(&job).unwrap();
    std::fs::write(&job, format!("notify = \"always\"\n{text}")).unwrap();
    let socket = f.dir.path().join("notify.sock");
    let notify = NotifySocket::bind(&socket);
    let stall = f.dir.path().join("stall");
    let d = Daemon::start_with_env(
        &f,
        "stall_timeout = \"2s\"",
        &[
            ("NOTIFY_SOCKET", socket.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
            ("BACKPROOF_TEST_STALL_FILE", stall.to_str().unwrap()),
        ],
    );
    wait_for("watchdog pings", Duration::from_secs(10), || {
        notify.count() >= 2
    });
    let (code, h) = health(&d);
    assert_eq!(code, 200, "{h}");
    assert_eq!(h["status"], "ok");
    assert!(
        h.get("jobs").is_none() && !h.to_string().contains("acme"),
        "no client data: {h}"
    );

    for part in ["delivery", "scheduler"] {
        // The part hangs: after stall_timeout the pings stop, health says so, and the log
        // says why.
        std::fs::write(&stall, part).unwrap();
        if part == "delivery" {
            let (code, _) = d.post("/v1/jobs/acme/runs", json!({}));
            assert_eq!(code, 202);
        }
        wait_for("health says stuck", Duration::from_secs(15), || {
            health(&d).0 == 503
        });
        assert_eq!(
            notify.during(Duration::from_secs(2)),
            0,
            "{part} stuck, yet pinged"
        );
        let (_, h) = health(&d);
        let stuck: Vec<&serde_json::Value> = h["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["ok"] == false)
            .collect();
        assert_eq!(stuck.len(), 1, "{h}");
        assert_eq!(stuck[0]["part"], part, "{h}");
        assert!(
            d.log_text().contains("the daemon is stuck"),
            "{}",
            d.log_text()
        );
        // It moves again: the pings come back.
        std::fs::remove_file(&stall).unwrap();
        wait_for("pings again", Duration::from_secs(15), || {
            health(&d).0 == 200 && notify.during(Duration::from_millis(1500)) > 0
        });
    }
}

#[test]
fn a_missed_schedule_is_shown_in_status_and_alerted() {
    let f = fixture();
    // acme runs every 5 minutes; the daemon last handled a slot an hour ago, and is down.
    let job = f.dir.path().join("jobs.d/acme.toml");
    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replace("schedule = \"30 2 * * *\"", "schedule = \"*/5 * * * *\"");
    std::fs::write(&job, text).unwrap();
    std::fs::write(
        &f.config,
        format!(
            "{}\n[daemon]\nlisten = \"127.0.0.1:{}\"\nmissed_grace = \"1m\"\ncatch_up_delay = \"1s\"\n",
            std::fs::read_to_string(&f.config).unwrap(),
            common::servers::free_port()
        ),
    )
    .unwrap();
    {
        let catalog = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
        catalog
            .set_last_slot("acme", chrono::Utc::now() - chrono::Duration::hours(1))
            .unwrap();
        catalog.flush().unwrap();
    }
    let out = f.backproof(&["status", "--json"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let s = out.json();
    let acme = s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "acme")
        .unwrap()
        .clone();
    assert_eq!(acme["state"], "missed", "{acme:#}");
    assert!(acme["missed_slot"].is_string());
    let out = f.backproof(&["status"]);
    assert!(
        out.stdout.contains("missed its scheduled run"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("daemon: NOT running"), "{}", out.stdout);

    // The daemon starts: the technicians are told, and the job catches up.
    let d = Daemon::start(&f, "");
    wait_for("the alert is written", Duration::from_secs(20), || {
        std::fs::read_dir(f.data_dir().join("mail"))
            .map(|dir| {
                dir.flatten().any(|m| {
                    std::fs::read_to_string(m.path())
                        .is_ok_and(|t| t.contains("[MISSED] Acme Dental"))
                })
            })
            .unwrap_or(false)
    });
    wait_for("the catch-up run", Duration::from_secs(30), || {
        d.get("/v1/jobs/acme/runs")
            .1
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });
    let out = f.backproof(&["status", "--json"]);
    let s = out.json();
    assert!(s["daemon_last_alive"].is_string() || s["daemon_running"] == true);
}

#[test]
fn the_daemon_logs_what_a_service_log_needs_without_v() {
    let f = fixture();
    let port = common::servers::free_port();
    std::fs::write(
        &f.config,
        format!(
            "{}\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n",
            std::fs::read_to_string(&f.config).unwrap()
        ),
    )
    .unwrap();
    let log = f.dir.path().join("journal.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_backproof"))
        .args(["--config", f.config.to_str().unwrap(), "daemon"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("ready", Duration::from_secs(20), || {
        text().contains("backproof daemon ready")
    });
    // A run through the CLI (which goes through the daemon) is logged start to end.
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    wait_for("run finished", Duration::from_secs(20), || {
        text().contains("run finished")
    });
    let t = text();
    assert!(t.contains("run started"), "{t}");
    assert!(
        t.contains("verdict=PASS") || t.contains("verdict=pass"),
        "{t}"
    );
    std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    wait_for("reload", Duration::from_secs(20), || {
        text().contains("configuration reloaded")
    });
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

#[test]
fn read_only_commands_work_while_the_daemon_holds_the_catalog() {
    let f = fixture();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev}");
    let d = Daemon::start(&f, "");
    // The daemon's lock record names it and its API: the CLI goes through the API.
    let lock = std::fs::read_to_string(f.data_dir().join("backproof.lock")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&lock).unwrap();
    assert_eq!(record["kind"], "daemon", "{lock}");
    assert_eq!(record["api"], format!("127.0.0.1:{}", d.port), "{lock}");

    let out = f.backproof(&["digest", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("checked 1 time this week")
            && out.stdout.contains("Open problems: none."),
        "{}",
        out.stdout
    );
    // Queuing the summary goes through the daemon too: this job has no owners.
    let out = f.backproof(&["digest", "acme", "--send"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("has no owners"), "{}", out.stderr);
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("intact: 1 document")
            && out.stdout.contains(ev["run_id"].as_str().unwrap()),
        "{}",
        out.stdout
    );
    let out = f.backproof(&["history", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(ev["run_id"].as_str().unwrap()),
        "{}",
        out.stdout
    );
    drop(d);
}

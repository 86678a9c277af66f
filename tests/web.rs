//! The daemon's web side against the real daemon: `/metrics` (checked with `promtool`),
//! the sign-in, and the fleet, client and run pages.

mod common;

use std::process::Command;
use std::time::Duration;

use common::daemon::Daemon;
use common::*;
use serde_json::json;

/// Job `acme` (Acme Dental, target `nas`) fails: a backup file changed after its first
/// run. Job `aardvark` (Aardvark Law, target `share`) passes.
fn fleet() -> (Fixture, Daemon) {
    let f = Fixture::new("sample_files = 100");
    for (i, n) in ["a.tar", "b.tar"].iter().enumerate() {
        f.file(n, 20_000, hours(1 + i as u64));
    }
    let aardvark = f.dir.path().join("aardvark");
    std::fs::create_dir_all(&aardvark).unwrap();
    std::fs::write(aardvark.join("z.tar"), vec![7u8; 30_000]).unwrap();
    f.write_job(
        "aardvark",
        &format!(
            "client = \"Aardvark Law\"\nschedule = \"0 3 * * *\"\n[policy]\nsample_files = 100\n[[targets]]\nname = \"share\"\nurl = \"file://{}\"\n",
            aardvark.display()
        ),
    );
    let d = Daemon::start(&f, "");
    assert_eq!(run(&d, "acme")["exit_code"], 0);
    corrupt_in_place(&f.backups.join("a.tar"));
    assert_eq!(run(&d, "acme")["exit_code"], 1);
    assert_eq!(run(&d, "aardvark")["exit_code"], 0);
    (f, d)
}

fn run(d: &Daemon, job: &str) -> serde_json::Value {
    let (code, started) = d.post(&format!("/v1/jobs/{job}/runs"), json!({}));
    assert_eq!(code, 202, "{started}");
    d.wait_run(started["run_id"].as_str().unwrap(), Duration::from_secs(60))
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn url(d: &Daemon, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", d.port)
}

/// The value of the sample `name{labels}` in a metrics text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

/// `promtool` from Debian's `prometheus` package (tests/run.sh installs it).
fn promtool() -> &'static str {
    for p in ["/usr/bin/promtool", "/usr/local/bin/promtool"] {
        if std::path::Path::new(p).exists() {
            return p;
        }
    }
    panic!("promtool not found: install Debian's `prometheus` package (tests/run.sh does)");
}

#[test]
fn metrics_show_each_targets_verdict_without_paths_and_pass_promtool() {
    let (f, d) = fleet();
    // From loopback, no token needed.
    let resp = client().get(url(&d, "/metrics")).send().unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().unwrap();
    let status = |job: &str, target: &str| {
        sample(
            &text,
            &format!("backproof_target_status{{backproof_job=\"{job}\",target=\"{target}\"}}"),
        )
    };
    assert_eq!(status("acme", "nas"), Some(2.0), "{text}");
    assert_eq!(status("aardvark", "share"), Some(0.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "backproof_open_problems{backproof_job=\"acme\",kind=\"corruption\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains("backproof_open_problems{backproof_job=\"aardvark\""),
        "{text}"
    );
    // Two finished runs of acme, each timed.
    assert_eq!(
        sample(
            &text,
            "backproof_run_duration_seconds_count{backproof_job=\"acme\"}"
        ),
        Some(2.0),
        "{text}"
    );
    // Bytes restored by all three runs that restored (2 × 40 kB for acme, 30 kB for aardvark).
    let restored = sample(
        &text,
        "backproof_restored_bytes_total{backproof_job=\"acme\",target=\"nas\"}",
    )
    .unwrap();
    assert!(restored >= 40_000.0, "{text}");
    assert!(
        sample(
            &text,
            "backproof_backup_newest_timestamp_seconds{backproof_job=\"aardvark\",target=\"share\"}"
        )
        .is_some_and(|t| t > 1.0e9),
        "{text}"
    );
    assert_eq!(sample(&text, "backproof_runs_in_progress"), Some(0.0));
    assert!(text.contains("backproof_build_info{version="), "{text}");
    // Labels name jobs, targets and kinds only: no path of a backup, no hash.
    let root = f.dir.path().to_str().unwrap();
    assert!(!text.contains(root), "a path in the metrics:\n{text}");
    assert!(
        !text.contains("a.tar"),
        "a file name in the metrics:\n{text}"
    );

    // promtool accepts the exposition and the shipped alert rules.
    let mut check = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Debian's promtool reads the classic text format: it parses the exposition (a parse
    // error fails), but it looks for an OpenMetrics counter's help under `NAME_total`
    // where OpenMetrics gives it under `NAME`. That lint, and only it, is expected.
    let unexpected: Vec<&str> = said
        .lines()
        .filter(|l| {
            !l.strip_suffix("_total no help text")
                .is_some_and(|name| text.contains(&format!("# HELP {name} ")))
        })
        .collect();
    assert!(
        unexpected.is_empty() && (out.status.success() || out.status.code() == Some(3)),
        "promtool check metrics ({:?}): {said}",
        out.status
    );
    // Every series the alert rules and the Grafana dashboard ask for is one the daemon
    // exposes (a renamed metric would leave them silent).
    for file in ["prometheus-alerts.yml", "grafana-dashboard.json"] {
        let path = format!("{}/contrib/{file}", env!("CARGO_MANIFEST_DIR"));
        let shipped = std::fs::read_to_string(&path).unwrap();
        let mut names = 0;
        for (i, _) in shipped.match_indices("backproof_") {
            let name: String = shipped[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name == "backproof_job" {
                continue; // the label
            }
            names += 1;
            let exposed = text
                .lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")));
            assert!(
                exposed,
                "{file} asks for {name}, which /metrics does not have:\n{text}"
            );
        }
        assert!(names >= 4, "{file}: {names} metrics");
    }
    if let Err(e) = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/contrib/grafana-dashboard.json"
        ))
        .unwrap(),
    ) {
        panic!("contrib/grafana-dashboard.json is not JSON: {e}");
    }
    // Acknowledged, the problem no longer counts as open (at once, not at the next run).
    let (code, acked) = d.post(
        "/v1/jobs/acme/ack",
        json!({"reason": "disk replaced", "by": "bob"}),
    );
    assert_eq!(code, 200, "{acked}");
    let after = client()
        .get(url(&d, "/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        sample(
            &after,
            "backproof_open_problems{backproof_job=\"acme\",kind=\"corruption\"}"
        ),
        None,
        "{after}"
    );
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/prometheus-alerts.yml");
    let out = Command::new(promtool())
        .args(["check", "rules", rules])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Signs in with the token: the session cookie (`name=value`), checked for its flags.
fn sign_in(c: &reqwest::blocking::Client, d: &Daemon) -> String {
    let ok = c
        .post(url(d, "/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "token={}",
            percent_encoding::utf8_percent_encode(&d.token, percent_encoding::NON_ALPHANUMERIC)
        ))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_string()
}

#[test]
fn pages_need_a_session_and_show_the_failing_client_first() {
    let (f, d) = fleet();
    let c = client();
    // No token, no session: to the sign-in page.
    for path in [
        "/",
        "/clients/acme",
        "/runs/x",
        "/runs/x/evidence.json",
        "/runs/x/live",
        "/runs/x/events",
        "/outbox",
    ] {
        let resp = c.get(url(&d, path)).send().unwrap();
        assert_eq!(resp.status(), 303, "{path}");
        assert_eq!(resp.headers()["location"], "/login", "{path}");
    }
    let wrong = c
        .post(url(&d, "/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=not-the-token")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let session = sign_in(&c, &d);
    let get = |path: &str| {
        let resp = c
            .get(url(&d, path))
            .header("cookie", &session)
            .send()
            .unwrap();
        (resp.status().as_u16(), resp.text().unwrap())
    };

    let (code, page) = get("/");
    assert_eq!(code, 200, "{page}");
    let headers = c
        .get(url(&d, "/"))
        .header("cookie", &session)
        .send()
        .unwrap()
        .headers()
        .clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
    assert_eq!(headers["x-frame-options"], "DENY");
    let acme = page.find("data-job=\"acme\"").expect("acme listed");
    let aardvark = page.find("data-job=\"aardvark\"").expect("aardvark listed");
    assert!(acme < aardvark, "the failing client comes first:\n{page}");
    let acme_row = &page[acme..aardvark];
    assert!(acme_row.contains("data-state=\"problem\""), "{acme_row}");
    assert!(
        acme_row.contains("<span class=\"kind\">corruption</span>"),
        "{acme_row}"
    );
    assert!(!page.contains("<script"), "no JavaScript");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external asset"
    );

    // The same query as `backproof status --json`: the same order, the same states.
    let (_, status) = d.get("/v1/status");
    let jobs: Vec<&str> = status["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["job"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, ["acme", "aardvark"]);

    // Filters and the NOC mode.
    let (_, ok_only) = get("/?state=ok");
    assert!(ok_only.contains("data-job=\"aardvark\"") && !ok_only.contains("data-job=\"acme\""));
    let (_, noc) = get("/?noc=1");
    assert!(noc.contains("class=\"noc\""), "{noc}");
    assert!(noc.contains("data-job=\"acme\"") && !noc.contains("data-job=\"aardvark\""));

    // The client page: the open problem with the run that proves it, and the chart.
    let (code, client_page) = get("/clients/acme");
    assert_eq!(code, 200, "{client_page}");
    assert!(
        client_page.contains("<span class=\"kind\">corruption</span> on nas"),
        "{client_page}"
    );
    // Throughput, coverage and newest-backup age: one point per finished run (two).
    let charts: Vec<&str> = client_page
        .split("<svg class=\"chart\"")
        .skip(1)
        .map(|c| &c[..c.find("</svg>").unwrap()])
        .collect();
    assert_eq!(charts.len(), 3, "{client_page}");
    for chart in charts {
        assert_eq!(chart.matches("<circle").count(), 2, "{chart}");
    }
    // Every byte of acme's backups was verified in the last 30 days.
    assert!(page.contains("class=\"coverage\">100 %</td>"), "{page}");
    let status = f.backproof(&["status", "--json"]).json();
    assert_eq!(status["rows"][0]["coverage_30d"], 1.0, "{status}");
    assert_eq!(get("/clients/nobody").0, 404);

    // The run page: the report's text, and the hash of the document it offers.
    let (_, history) = d.get("/v1/jobs/acme/runs?limit=5");
    let failed = history[0]["run_id"].as_str().unwrap();
    let first = history[1]["run_id"].as_str().unwrap();
    let (code, run_page) = get(&format!("/runs/{failed}"));
    assert_eq!(code, 200, "{run_page}");
    assert!(run_page.contains("Verdict: FAIL"), "{run_page}");
    let document = c
        .get(url(&d, &format!("/runs/{failed}/evidence.json")))
        .header("cookie", &session)
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let hash = blake3::hash(&document).to_hex().to_string();
    assert!(
        run_page.contains(&hash),
        "the page shows the document's hash"
    );
    // The earlier run is sealed by the failing one: its hash is the seal.
    let (_, first_page) = get(&format!("/runs/{first}"));
    assert!(
        first_page.contains("whose seal matches this hash"),
        "{first_page}"
    );
    assert_eq!(
        history[0]["previous_hash"].as_str().unwrap().len(),
        64,
        "{history}"
    );

    // The outbox page lists the failing run's report, as `GET /v1/outbox` does.
    let (_, queued) = d.get("/v1/outbox");
    let report = queued
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["run_id"] == failed)
        .unwrap_or_else(|| panic!("no report of {failed}: {queued}"));
    let (code, outbox) = get("/outbox");
    assert_eq!(code, 200, "{outbox}");
    assert!(
        outbox.contains(&format!("run <a href=\"/runs/{failed}\">")),
        "{outbox}"
    );
    let subject = report["subject"].as_str().unwrap().replace('&', "&amp;");
    assert!(outbox.contains(&subject), "{subject} not in {outbox}");

    // Test now: refused without the session's CSRF token, even with the session.
    let (_, before) = d.get("/v1/jobs/acme/runs?limit=50");
    let runs_before = before.as_array().unwrap().len();
    let post = |csrf: &str, cookie: Option<&str>| {
        let mut req = c
            .post(url(&d, "/clients/acme/test"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}"));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        req.send().unwrap()
    };
    assert_eq!(post("", Some(&session)).status(), 403);
    assert_eq!(post("0123abcd", Some(&session)).status(), 403);
    let token = client_page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the client page has the Test now form")
        .to_string();
    // The token without the session is no use either.
    assert_eq!(post(&token, None).status(), 303, "to the sign-in page");
    let (_, after) = d.get("/v1/jobs/acme/runs?limit=50");
    assert_eq!(
        after.as_array().unwrap().len(),
        runs_before,
        "a refused form ran"
    );
    let started = post(&token, Some(&session));
    assert_eq!(started.status(), 303);
    let live = started.headers()["location"].to_str().unwrap().to_string();
    let run_id = live
        .strip_prefix("/runs/")
        .and_then(|r| r.strip_suffix("/live"))
        .expect("to the live page")
        .to_string();
    let progress = d.wait_run(&run_id, Duration::from_secs(60));
    assert_eq!(progress["exit_code"], 1, "{progress}");
    // Ended: the live page sends the browser to the evidence, the stream says `end`.
    let (code, _) = get(&live);
    assert_eq!(code, 303);
    let (code, events) = get(&format!("/runs/{run_id}/events"));
    assert_eq!(code, 200);
    assert!(events.contains("event: end"), "{events}");

    // Acknowledge: refused without the CSRF token; with it, marked on the client page
    // and the fleet page.
    let key = client_page
        .split("name=\"problem\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an Acknowledge form")
        .to_string();
    let ack = |csrf: &str| {
        c.post(url(&d, "/clients/acme/ack"))
            .header("cookie", &session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf={csrf}&problem={key}&target=nas&reason=disk+replaced&by=alice&until="
            ))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(ack("wrong"), 403);
    let (_, still) = get("/clients/acme");
    assert!(!still.contains("acknowledged by"), "{still}");
    assert_eq!(ack(&token), 303);
    let (_, acked) = get("/clients/acme");
    assert!(
        acked.contains("acknowledged by alice: disk replaced"),
        "{acked}"
    );
    let (_, fleet_page) = get("/");
    // (Still a problem until a run shows the job's state anew: its last verdict is FAIL.)
    let acme = fleet_page.find("data-job=\"acme\"").unwrap();
    assert!(
        fleet_page[acme..].contains("<span class=\"acked\">(acknowledged)</span>"),
        "{fleet_page}"
    );

    // Sign-in attempts are limited: after 5 wrong tokens in a minute, even the right one
    // is refused for now (and each attempt is logged, without the token).
    let login = |token: &str| {
        c.post(url(&d, "/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
            .unwrap()
            .status()
    };
    // One wrong token was given above.
    for _ in 0..4 {
        assert_eq!(login("guess"), 401);
    }
    assert_eq!(login("guess"), 429);
    assert_eq!(login(&d.token), 429);
    assert!(d.log_text().contains("too many wrong tokens"));
    assert!(!d.log_text().contains(&d.token), "the token is in the log");

    // Sign out is a form like the others: refused without the CSRF token (every page's
    // Sign out form carries it). Signed out, the session is gone.
    let logout = |csrf: &str| {
        c.post(url(&d, "/logout"))
            .header("cookie", &session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}"))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(logout(""), 403);
    assert_eq!(get("/").0, 200, "a refused sign-out ended the session");
    let (_, fleet_page) = get("/");
    assert!(
        fleet_page.contains(&format!(
            "action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{token}\">"
        )),
        "{fleet_page}"
    );
    assert_eq!(logout(&token), 303);
    assert_eq!(get("/").0, 303);
}

/// A Python with Playwright (tests/run.sh installs it), and Debian's Chromium.
fn playwright_python() -> String {
    let python = std::env::var("BACKPROOF_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python)
        .args(["-c", "import playwright.sync_api"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{python}` cannot import playwright: `pip install playwright` (tests/run.sh does), or set BACKPROOF_TEST_PYTHON"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: install Debian's `chromium` (tests/run.sh does)"
    );
    python
}

#[test]
fn in_a_real_browser_the_failing_client_is_on_top_at_1280_and_390_px() {
    let python = playwright_python();
    let (f, d) = fleet();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for w in ["1280", "390"] {
        let _ = std::fs::remove_file(shots.join(format!("fleet-{w}.png")));
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/fleet.py");
    let out = f.dir.path().join("browser.log");
    let mut child = Command::new(python)
        .arg(script)
        .arg(url(&d, ""))
        .arg(f.data_dir().join("api.token"))
        .arg(&shots)
        .args(["acme", "corruption"])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(f.dir.path().join("browser.err")).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser test did not end in 180 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let said = format!(
        "{}{}",
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(f.dir.path().join("browser.err")).unwrap_or_default()
    );
    assert!(status.success(), "the browser test failed: {said}");
    for w in ["1280", "390"] {
        let shot = shots.join(format!("fleet-{w}.png"));
        assert!(
            std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
            "no screenshot {}",
            shot.display()
        );
    }
}

/// The paths of every `.route("...")` in a source file of the router.
fn routes_in(file: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    text.split(".route(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn no_route_of_the_router_answers_without_a_session_or_token() {
    let f = Fixture::new("sample_files = 100");
    f.file("a.tar", 20_000, hours(1));
    let d = Daemon::start(&f, "");
    assert_eq!(run(&d, "acme")["exit_code"], 0);
    let (_, runs) = d.get("/v1/jobs/acme/runs?limit=1");
    let run_id = runs[0]["run_id"].as_str().unwrap().to_string();
    // An account, so that an unguarded user route would find it.
    let (code, added) = d.post(
        "/v1/users",
        json!({"name": "alice", "role": "admin", "password": "alice-long-password"}),
    );
    assert_eq!(code, 201, "{added}");
    let c = client();
    let mut checked = 0;
    let routes = routes_in("web/mod.rs")
        .into_iter()
        .chain(routes_in("daemon/api.rs"));
    for route in routes {
        // Real names, so that a route that forgot its guard would answer 200.
        let path = route
            .replace("{job}", "acme")
            .replace("{id}", &run_id)
            .replace("{user}", "alice");
        for method in ["GET", "POST", "DELETE"] {
            let req = match method {
                "GET" => c.get(url(&d, &path)),
                "DELETE" => c.delete(url(&d, &path)),
                _ => c
                    .post(url(&d, &path))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("csrf=&token=&reason=x&by=x&problem=x&target=nas"),
            };
            let code = req.send().unwrap().status().as_u16();
            let open = match route.as_str() {
                // Public: uptime monitors, the sign-in form, loopback scrapers.
                "/v1/health" | "/login" | "/metrics" => true,
                _ => false,
            };
            if open || code == 405 {
                continue;
            }
            checked += 1;
            let refused = if route.starts_with("/v1/") {
                code == 401
            } else {
                code == 303
            };
            assert!(refused, "{method} {path} without credentials: {code}");
        }
    }
    assert!(checked >= 20, "only {checked} routes checked");
    // Nothing ran or changed because of those requests.
    let (_, after) = d.get("/v1/jobs/acme/runs?limit=10");
    assert_eq!(after.as_array().unwrap().len(), 1, "{after}");
    let (_, users) = d.get("/v1/users");
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
}

/// Each `.route(...)` of a router source file: its path and its methods.
fn routes_with_methods(file: &str) -> Vec<(String, Vec<&'static str>)> {
    let text =
        std::fs::read_to_string(format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    text.split(".route(")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start().strip_prefix('"')?;
            let (path, args) = rest.split_once('"')?;
            let args = args
                .split(".layer(middleware::from_fn")
                .next()
                .unwrap_or(args);
            let methods = [("get(", "GET"), ("post(", "POST"), ("delete(", "DELETE")]
                .into_iter()
                .filter(|(call, _)| args.contains(call))
                .map(|(_, m)| m)
                .collect();
            Some((path.to_string(), methods))
        })
        .collect()
}

/// The README documents the API and the pages: every route of the daemon's router is a
/// row of its tables with the same methods, and every row is a route.
#[test]
fn the_readme_documents_every_route_of_the_router_and_no_other() {
    let routes: Vec<(String, Vec<&str>)> = routes_with_methods("web/mod.rs")
        .into_iter()
        .chain(routes_with_methods("daemon/api.rs"))
        .collect();
    assert!(routes.len() >= 25, "{routes:?}");
    let readme =
        std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let rows: Vec<(String, String)> = readme
        .lines()
        .filter_map(|l| {
            let mut cells = l.split('|').map(str::trim).skip(1);
            let method = cells.next()?;
            let path = cells.next()?.strip_prefix('`')?.split('`').next()?;
            (matches!(method, "GET" | "POST" | "DELETE") && path.starts_with('/')).then(|| {
                (
                    method.to_string(),
                    path.split('?').next().unwrap().to_string(),
                )
            })
        })
        .collect();
    for (path, methods) in &routes {
        for m in methods {
            assert!(
                rows.iter().any(|(rm, rp)| rm == m && rp == path),
                "{m} {path} is served but not in the README's tables"
            );
        }
    }
    for (m, path) in &rows {
        assert!(
            routes
                .iter()
                .any(|(p, ms)| p == path && ms.contains(&m.as_str())),
            "the README documents {m} {path}, which the router does not serve"
        );
    }
}

/// "Test now" of one target: the client page offers the job's targets, and the run it
/// starts verifies that target only; an unknown target is refused and runs nothing.
#[test]
fn test_now_runs_the_one_target_chosen_on_the_client_page() {
    let f = two_target_fixture("");
    let d = Daemon::start(&f, "");
    assert_eq!(run(&d, "acme")["exit_code"], 0);
    let c = client();
    let session = sign_in(&c, &d);
    let page = c
        .get(url(&d, "/clients/acme"))
        .header("cookie", &session)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("<option value=\"nas\">") && page.contains("<option value=\"usb\">"),
        "{page}"
    );
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let post = |target: &str| {
        c.post(url(&d, "/clients/acme/test"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &session)
            .body(format!("csrf={csrf}&target={target}"))
            .send()
            .unwrap()
    };
    let refused = post("tape");
    assert_eq!(refused.status(), 404);
    assert!(refused.text().unwrap().contains("tape"));
    let started = post("usb");
    assert_eq!(started.status(), 303);
    let live = started.headers()["location"].to_str().unwrap().to_string();
    let run_id = live
        .strip_prefix("/runs/")
        .and_then(|r| r.strip_suffix("/live"))
        .unwrap_or_else(|| panic!("{live}"));
    d.wait_run(run_id, Duration::from_secs(30));
    let (_, ev) = d.get(&format!("/v1/runs/{run_id}"));
    let targets: Vec<&str> = ev["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["usb"], "{ev:#}");
    let (_, runs) = d.get("/v1/jobs/acme/runs?limit=10");
    assert_eq!(
        runs.as_array().unwrap().len(),
        2,
        "the refused request ran nothing"
    );
}

//! Access to the web pages and the API: user accounts managed with `backproof user`
//! (with and without a daemon), roles on the pages, sessions that end, sign-in limits,
//! and TLS (`daemon.tls_cert`, `daemon.tls_key`) with `Secure` cookies. Real daemon, real
//! HTTP on 127.0.0.1.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::*;
use serde_json::json;

const ALICE_PASSWORD: &str = "alice-has-a-long-password";
const TOM_PASSWORD: &str = "tom-fixes-the-backups-42";
const VERA_PASSWORD: &str = "vera-only-looks-around-7";

/// `backproof user ARGS --password-stdin` with `password` on stdin, within a deadline.
fn user_cmd(config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_backproof"))
        .arg("--config")
        .arg(config)
        .arg("user")
        .args(args)
        .env_remove("BACKPROOF_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("backproof user {} did not exit within 60 s", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn add_user(config: &Path, name: &str, role: &str, password: &str) -> Output {
    user_cmd(
        config,
        &["add", name, "--role", role, "--password-stdin"],
        Some(&format!("{password}\n")),
    )
}

fn client(d: &Daemon) -> reqwest::blocking::Client {
    d.client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn form(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Signs in; the status and the `Set-Cookie` header.
fn sign_in(d: &Daemon, user: &str, password: &str) -> (u16, String) {
    let resp = client(d)
        .post(d.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("user={}&password={}", form(user), form(password)))
        .send()
        .unwrap();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().to_string())
        .unwrap_or_default();
    (resp.status().as_u16(), cookie)
}

/// The `name=value` part of a `Set-Cookie` header, to send back.
fn session(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

fn get(d: &Daemon, session: &str, path: &str) -> (u16, String) {
    let resp = client(d)
        .get(d.url(path))
        .header("cookie", session)
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

fn post_form(d: &Daemon, session: &str, path: &str, body: &str) -> (u16, String) {
    let resp = client(d)
        .post(d.url(path))
        .header("cookie", session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

fn csrf_of(page: &str) -> Option<String> {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string)
}

fn run_count(d: &Daemon) -> usize {
    d.get("/v1/jobs/acme/runs?limit=50")
        .1
        .as_array()
        .unwrap()
        .len()
}

/// A self-signed certificate for 127.0.0.1 (`openssl req`, within a deadline).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut child = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "openssl req took too long");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    (cert, key)
}

/// The 1-based line of `needle` in the configuration.
fn line_of(config: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(config).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn non_loopback_listen_needs_tls_and_tls_files_must_be_readable_pem() {
    let f = Fixture::new("sample_files = 10");
    let base = std::fs::read_to_string(&f.config).unwrap();
    let check = |daemon: &str| {
        std::fs::write(&f.config, format!("{base}[daemon]\n{daemon}")).unwrap();
        f.backproof(&["check-config"])
    };
    let file = f.config.file_name().unwrap().to_str().unwrap().to_string();

    let out = check("listen = \"0.0.0.0:7878\"\n");
    assert_eq!(out.code, 2, "{}", out.stderr);
    let at = format!(
        "{file}:{}: key `daemon.listen`: 0.0.0.0:7878 is not a loopback address",
        line_of(&f.config, "listen")
    );
    assert!(out.stderr.contains(&at), "{at:?} not in {}", out.stderr);
    assert!(out.stderr.contains("daemon.tls_cert"), "{}", out.stderr);

    // One file of the two.
    std::fs::write(f.dir.path().join("cert.pem"), "not a certificate\n").unwrap();
    let out = check("tls_cert = \"cert.pem\"\n");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("key `daemon.tls_cert`: daemon.tls_key is needed too"),
        "{}",
        out.stderr
    );

    // A file that is not PEM, and one that is not there.
    let out = check("tls_cert = \"cert.pem\"\ntls_key = \"missing.pem\"\n");
    assert_eq!(out.code, 2);
    let cert_line = line_of(&f.config, "tls_cert");
    assert!(
        out.stderr.contains(&format!(
            "{file}:{cert_line}: key `daemon.tls_cert`: {} holds no PEM certificate",
            f.dir.path().join("cert.pem").display()
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "{file}:{}: key `daemon.tls_key`: cannot read {}",
            cert_line + 1,
            f.dir.path().join("missing.pem").display()
        )),
        "{}",
        out.stderr
    );

    // A key file that holds only a certificate: refused, its content not shown.
    let (cert, key) = self_signed(f.dir.path());
    let out = check("tls_cert = \"cert.pem\"\ntls_key = \"cert.pem\"\n");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("holds no PEM private key"),
        "{}",
        out.stderr
    );
    let body = std::fs::read_to_string(&cert).unwrap();
    let content = body.lines().nth(1).unwrap();
    assert!(!out.stderr.contains(content), "{}", out.stderr);
    assert!(cert.exists() && key.exists());

    // TLS set: any address is fine.
    let out = check("listen = \"0.0.0.0:7878\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn user_accounts_are_managed_with_and_without_a_running_daemon() {
    let f = Fixture::new("sample_files = 10");
    f.file("a.tar", 1000, hours(1));
    // No daemon: on the catalog.
    let out = add_user(&f.config, "alice", "admin", ALICE_PASSWORD);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("added user alice (admin)"),
        "{}",
        out.stdout
    );
    let out = add_user(&f.config, "alice", "viewer", "another-long-password");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("already a user `alice`"),
        "{}",
        out.stderr
    );
    let out = add_user(&f.config, "bob", "viewer", "short");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("too short"), "{}", out.stderr);
    let out = add_user(&f.config, "bob", "viewer", "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("password is empty"), "{}", out.stderr);
    let out = add_user(&f.config, "bad name", "viewer", ALICE_PASSWORD);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("is not a user name"), "{}", out.stderr);
    let out = user_cmd(
        &f.config,
        &["passwd", "nobody", "--password-stdin"],
        Some("a-long-new-password\n"),
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no user `nobody`"), "{}", out.stderr);
    // Without a terminal and without --password-stdin: a clear error, nothing added.
    let out = user_cmd(&f.config, &["add", "carol", "--role", "viewer"], None);
    if out.code != 0 {
        assert!(out.stderr.contains("--password-stdin"), "{}", out.stderr);
    }
    let out = add_user(&f.config, "bob", "viewer", "bob-reads-the-pages-1");
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The last admin stays while others remain.
    let out = user_cmd(&f.config, &["remove", "alice"], None);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("last admin"), "{}", out.stderr);
    let list = user_cmd(&f.config, &["list"], None);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(
        list.stdout.contains("alice") && list.stdout.contains("admin"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("bob") && list.stdout.contains("viewer"),
        "{}",
        list.stdout
    );
    assert!(!list.stdout.contains("$argon2"), "{}", list.stdout);

    // With the daemon holding the catalog: through its API.
    let d = Daemon::start(&f, "");
    let out = add_user(&f.config, "tom", "technician", TOM_PASSWORD);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (code, users) = d.get("/v1/users");
    assert_eq!(code, 200);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "tom"], "{users}");
    assert!(!users.to_string().contains("argon2"), "{users}");
    assert_eq!(sign_in(&d, "tom", TOM_PASSWORD).0, 303);
    let out = user_cmd(
        &f.config,
        &["passwd", "tom", "--password-stdin"],
        Some("tom-has-a-new-password\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sign_in(&d, "tom", TOM_PASSWORD).0, 401);
    assert_eq!(sign_in(&d, "tom", "tom-has-a-new-password").0, 303);
    let out = add_user(&f.config, "tom", "viewer", TOM_PASSWORD);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("already a user `tom`"),
        "{}",
        out.stderr
    );
    let out = user_cmd(&f.config, &["remove", "bob"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list = user_cmd(&f.config, &["list"], None);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(
        list.stdout.contains("tom") && !list.stdout.contains("bob"),
        "{}",
        list.stdout
    );
    // Without the token, no account is listed or added.
    let (code, _) = d.request("GET", "/v1/users", None, None);
    assert_eq!(code, 401);
    let (code, _) = d.request(
        "POST",
        "/v1/users",
        None,
        Some(json!({"name": "eve", "role": "admin", "password": "eve-wants-to-be-admin"})),
    );
    assert_eq!(code, 401);

    // No password or hash in the daemon's log.
    let log = d.log_text();
    for secret in [
        ALICE_PASSWORD,
        TOM_PASSWORD,
        "tom-has-a-new-password",
        "$argon2",
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(log.contains("user added") && log.contains("tom"), "{log}");
}

/// Job `acme` with an open problem (a backup file changed after its first run), and the
/// accounts vera (viewer), tom (technician).
fn fleet_with_accounts(daemon_section: &str) -> (Fixture, Daemon) {
    let f = Fixture::new("sample_files = 100");
    f.file("a.tar", 20_000, hours(1));
    f.file("b.tar", 20_000, hours(2));
    for (name, role, password) in [
        ("vera", "viewer", VERA_PASSWORD),
        ("tom", "technician", TOM_PASSWORD),
        ("alice", "admin", ALICE_PASSWORD),
    ] {
        let out = add_user(&f.config, name, role, password);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let d = Daemon::start(&f, daemon_section);
    let run = |d: &Daemon| {
        let (code, started) = d.post("/v1/jobs/acme/runs", json!({}));
        assert_eq!(code, 202, "{started}");
        d.wait_run(started["run_id"].as_str().unwrap(), Duration::from_secs(60))
    };
    assert_eq!(run(&d)["exit_code"], 0);
    corrupt_in_place(&f.backups.join("a.tar"));
    assert_eq!(run(&d)["exit_code"], 1);
    (f, d)
}

#[test]
fn viewers_read_technicians_test_and_acknowledge_as_themselves() {
    let (f, d) = fleet_with_accounts("");
    let (code, vera) = sign_in(&d, "vera", VERA_PASSWORD);
    assert_eq!(code, 303);
    assert!(
        vera.contains("HttpOnly") && vera.contains("SameSite=Strict"),
        "{vera}"
    );
    assert!(!vera.contains("Secure"), "plain HTTP: {vera}");
    let vera = session(&vera);

    // The viewer reads, sees no form, and may not start a run or acknowledge.
    let (code, page) = get(&d, &vera, "/clients/acme");
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains("<span class=\"kind\">corruption</span>"),
        "{page}"
    );
    assert!(
        !page.contains("id=\"test-now\""),
        "a Test now button for a viewer"
    );
    assert!(
        !page.contains("<summary>Acknowledge</summary>"),
        "an Acknowledge form for a viewer"
    );
    let runs = run_count(&d);
    let (code, text) = post_form(&d, &vera, "/clients/acme/test", "csrf=x");
    assert_eq!(code, 403);
    assert!(text.contains("technician"), "{text}");
    let (code, text) = post_form(
        &d,
        &vera,
        "/clients/acme/ack",
        "csrf=x&problem=x&target=nas&reason=looks+fine&by=vera&until=",
    );
    assert_eq!(code, 403);
    assert!(text.contains("technician"), "{text}");
    // The viewer's session is no key to the API either.
    let resp = client(&d)
        .post(d.url("/v1/jobs/acme/runs"))
        .header("cookie", &vera)
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(run_count(&d), runs, "a refused request ran");
    let (_, page) = get(&d, &vera, "/clients/acme");
    assert!(!page.contains("acknowledged by"), "{page}");

    // The technician: the forms, refused without their CSRF token, working with it.
    let (code, tom) = sign_in(&d, "tom", TOM_PASSWORD);
    assert_eq!(code, 303);
    let tom = session(&tom);
    let (_, page) = get(&d, &tom, "/clients/acme");
    assert!(page.contains("id=\"test-now\""), "{page}");
    let csrf = csrf_of(&page).expect("the technician's forms carry a CSRF token");
    let problem = page
        .split("name=\"problem\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("an Acknowledge form")
        .to_string();
    let (code, text) = post_form(&d, &tom, "/clients/acme/test", "csrf=");
    assert_eq!(code, 403);
    assert!(text.contains("CSRF"), "{text}");
    let started = client(&d)
        .post(d.url("/clients/acme/test"))
        .header("cookie", &tom)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .unwrap();
    assert_eq!(started.status(), 303);
    let live = started.headers()["location"].to_str().unwrap().to_string();
    let run_id = live
        .strip_prefix("/runs/")
        .and_then(|r| r.strip_suffix("/live"))
        .expect("to the live page");
    d.wait_run(run_id, Duration::from_secs(60));
    assert_eq!(run_count(&d), runs + 1);
    // The acknowledgement records the account, whatever the form says.
    let ack =
        format!("csrf={csrf}&problem={problem}&target=nas&reason=disk+replaced&by=mallory&until=");
    let (code, _) = post_form(
        &d,
        &tom,
        "/clients/acme/ack",
        "csrf=&problem=x&target=nas&reason=r&by=b&until=",
    );
    assert_eq!(code, 403, "no CSRF token");
    let (code, text) = post_form(&d, &tom, "/clients/acme/ack", &ack);
    assert_eq!(code, 303, "{text}");
    let (_, page) = get(&d, &vera, "/clients/acme");
    assert!(
        page.contains("acknowledged by tom: disk replaced"),
        "{page}"
    );
    assert!(!page.contains("mallory"), "{page}");

    // Wrong passwords are limited per name: tom is held up, vera is not.
    for _ in 0..5 {
        assert_eq!(sign_in(&d, "tom", "not-toms-password").0, 401);
    }
    assert_eq!(sign_in(&d, "tom", "not-toms-password").0, 429);
    assert_eq!(
        sign_in(&d, "tom", TOM_PASSWORD).0,
        429,
        "even the right one, for now"
    );
    assert_eq!(sign_in(&d, "vera", VERA_PASSWORD).0, 303);
    let log = d.log_text();
    assert!(
        log.contains("user=tom") && log.contains("outcome=\"wrong\""),
        "{log}"
    );
    assert!(log.contains("outcome=\"throttled\""), "{log}");
    for secret in [
        VERA_PASSWORD,
        TOM_PASSWORD,
        ALICE_PASSWORD,
        "not-toms-password",
        "$argon2",
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }

    // A removed account's session ends; so does one whose password changed.
    assert_eq!(get(&d, &vera, "/").0, 200);
    let out = user_cmd(&f.config, &["remove", "vera"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (code, _) = get(&d, &vera, "/");
    assert_eq!(code, 303, "the removed viewer's session still works");
    assert_eq!(get(&d, &tom, "/").0, 200);
    let out = user_cmd(
        &f.config,
        &["passwd", "tom", "--password-stdin"],
        Some("tom-has-a-new-password\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        get(&d, &tom, "/").0,
        303,
        "a session of the old password still works"
    );
}

#[test]
fn over_tls_cookies_are_secure_and_the_command_line_still_reaches_the_daemon() {
    let f = Fixture::new("sample_files = 10");
    f.file("a.tar", 1000, hours(1));
    self_signed(f.dir.path());
    let tls = "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n";

    // TLS without an account to sign in with: the daemon does not start.
    let text = std::fs::read_to_string(&f.config).unwrap();
    let port = common::servers::free_port();
    std::fs::write(
        &f.config,
        format!("{text}\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n{tls}"),
    )
    .unwrap();
    let (out, _) = backproof_bounded(&f.config, &["daemon"], &[], Duration::from_secs(30));
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("no user account"), "{}", out.stderr);
    std::fs::write(&f.config, &text).unwrap();

    let out = add_user(&f.config, "alice", "admin", ALICE_PASSWORD);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let d = Daemon::start(&f, tls);
    assert!(d.url("/").starts_with("https://"));
    let (code, cookie) = sign_in(&d, "alice", ALICE_PASSWORD);
    assert_eq!(code, 303);
    for flag in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert_eq!(get(&d, &session(&cookie), "/").0, 200);
    // Plain HTTP gets no page.
    let plain = reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{}/v1/health", d.port))
        .send();
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // The command line goes through the daemon, over https.
    let out = f.backproof(&["status", "--json"]);
    assert_eq!(out.json()["rows"][0]["job"], "acme", "{}", out.stderr);
    let out = add_user(&f.config, "tom", "technician", TOM_PASSWORD);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list = user_cmd(&f.config, &["list"], None);
    assert!(
        list.stdout.contains("tom"),
        "{}{}",
        list.stdout,
        list.stderr
    );
    let (code, users) = d.get("/v1/users");
    assert_eq!(code, 200);
    assert_eq!(users.as_array().unwrap().len(), 2, "{users}");
    let log = d.log_text();
    assert!(
        !log.contains(ALICE_PASSWORD) && !log.contains(TOM_PASSWORD),
        "{log}"
    );
}

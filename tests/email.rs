//! Report emails, the outbox and the evidence chain, against a real SMTP server
//! (aiosmtpd with STARTTLS and AUTH) on 127.0.0.1.

mod common;

use std::time::Duration;

use common::servers::{SMTP_PASSWORD, Smtp};
use common::staller::Staller;
use common::*;

/// A healthy local backup set whose job is emailed through `smtp`.
fn emailed(smtp: &Smtp, password: &str, job_extra: &str) -> Fixture {
    let f = Fixture::empty();
    for (i, name) in ["daily/mon.tar", "daily/tue.tar", "weekly/w46.tar"]
        .iter()
        .enumerate()
    {
        f.file(name, 40_000 + i * 1000, hours(2 + 5 * i as u64));
    }
    let pw = f.secret("smtp.secret", password);
    std::fs::write(
        &f.config,
        format!("data_dir = \"data\"\n{}", smtp.config(&pw)),
    )
    .unwrap();
    f.write_job(
        "acme",
        &format!(
            "client = \"Acme Dental\"\ntechnicians = [\"noc@msp.example\"]\nowners = [\"owner@acme.example\"]\nschedule = \"30 2 * * *\"\n{job_extra}\n[policy]\nsample_files = 100\n[[targets]]\nname = \"nas\"\nurl = \"file://{}\"\n",
            f.backups.display()
        ),
    );
    f
}

fn header(m: &mailparse::ParsedMail, name: &str) -> String {
    use mailparse::MailHeaderMap;
    m.headers.get_first_value(name).unwrap_or_default()
}

/// The leaf parts of a message: (content type, decoded body).
fn parts(m: &mailparse::ParsedMail) -> Vec<(String, Vec<u8>, Option<String>)> {
    if m.subparts.is_empty() {
        let name = m.get_content_disposition().params.get("filename").cloned();
        return vec![(m.ctype.mimetype.clone(), m.get_body_raw().unwrap(), name)];
    }
    m.subparts.iter().flat_map(parts).collect()
}

#[test]
fn a_failing_run_is_emailed_with_text_html_and_the_evidence() {
    let smtp = Smtp::start();
    let f = emailed(&smtp, SMTP_PASSWORD, "");
    let (code, _) = f.run_json("acme", &[]);
    assert_eq!(code, 0);
    assert!(
        smtp.messages().is_empty(),
        "a pass is not emailed by default"
    );

    corrupt_in_place(&f.backups.join("daily/tue.tar"));
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("report emailed"), "{}", out.stderr);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let m = mailparse::parse_mail(&messages[0]).unwrap();
    assert_eq!(
        header(&m, "Subject"),
        // The problem's stable key leads (PSA threading).
        "[BP-adc9729c] [FAIL] Acme Dental: 1 corrupt file on nas"
    );
    assert_eq!(header(&m, "From"), "backproof <backproof@msp.example>");
    assert_eq!(header(&m, "To"), "noc@msp.example");
    assert_eq!(header(&m, "Reply-To"), "noc@msp.example");
    assert!(
        header(&m, "Message-ID").starts_with("<run-"),
        "{}",
        header(&m, "Message-ID")
    );
    assert!(!header(&m, "Date").is_empty());
    assert_eq!(m.ctype.mimetype, "multipart/mixed");

    let parts = parts(&m);
    let kinds: Vec<&str> = parts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(kinds, ["text/plain", "text/html", "application/json"]);
    let text = String::from_utf8(parts[0].1.clone()).unwrap();
    let html = String::from_utf8(parts[1].1.clone()).unwrap();
    assert!(
        text.contains("What is wrong") && text.contains("daily/tue.tar"),
        "{text}"
    );
    assert!(text.contains("Look first at"), "{text}");
    assert!(html.contains("<table") && html.contains("daily/tue.tar"));
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<link"));
    // The attachment is the evidence document byte for byte: its BLAKE3 is the one the
    // email shows, and the evidence file has the same bytes.
    let json = &parts[2].1;
    let hash = blake3::hash(json).to_hex().to_string();
    assert!(
        text.contains(&hash),
        "the text part names the evidence hash"
    );
    assert!(html.contains(&hash));
    let ev: serde_json::Value = serde_json::from_slice(json).unwrap();
    assert_eq!(ev["verdict"], "fail");
    let name = parts[2].2.clone().unwrap();
    assert_eq!(
        name,
        format!("backproof-acme-{}.json", ev["run_id"].as_str().unwrap())
    );
    let file = f
        .data_dir()
        .join("evidence/acme")
        .join(format!("{}.json", ev["run_id"].as_str().unwrap()));
    assert_eq!(&std::fs::read(file).unwrap(), json);
    // The secret never shows.
    assert!(!out.stderr.contains(SMTP_PASSWORD) && !out.stdout.contains(SMTP_PASSWORD));

    // Failing again is emailed again; then a recovery is emailed once.
    assert_eq!(f.run_json("acme", &[]).0, 1);
    assert_eq!(smtp.messages().len(), 2);
    let good = blake3::Hasher::new()
        .update(b"daily/tue.tar")
        .finalize_xof()
        .fill_slice(41_000);
    let p = f.backups.join("daily/tue.tar");
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    std::fs::write(&p, good).unwrap();
    set_mtime(&p, mtime);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 3);
    let m = mailparse::parse_mail(&messages[2]).unwrap();
    assert_eq!(
        header(&m, "Subject"),
        "[BP-adc9729c] [PASS] Acme Dental: 1 backup target verified again"
    );
    assert_eq!(f.run_json("acme", &[]).0, 0);
    assert_eq!(smtp.messages().len(), 3, "a second pass is not emailed");
}

trait FillSlice {
    fn fill_slice(self, len: usize) -> Vec<u8>;
}

impl FillSlice for blake3::OutputReader {
    fn fill_slice(mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(&mut v);
        v
    }
}

#[test]
fn notify_always_and_owners() {
    let smtp = Smtp::start();
    let f = emailed(
        &smtp,
        SMTP_PASSWORD,
        "notify = \"always\"\nreport_to_owners = true",
    );
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let m = mailparse::parse_mail(&messages[0]).unwrap();
    assert_eq!(
        header(&m, "Subject"),
        "[PASS] Acme Dental: 1 backup target verified"
    );
    assert_eq!(header(&m, "To"), "noc@msp.example, owner@acme.example");
}

#[test]
fn wrong_smtp_password_keeps_the_report_queued_until_fixed() {
    let smtp = Smtp::start();
    let f = emailed(&smtp, "not-the-password", "");
    std::fs::remove_file(f.backups.join("daily/mon.tar")).unwrap();
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("daily/tue.tar"));
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 1, "the run's verdict decides the exit code");
    assert!(out.stderr.contains("queued"), "{}", out.stderr);
    assert!(out.stderr.contains("refused the login"), "{}", out.stderr);
    assert!(!out.stderr.contains("not-the-password"));
    assert!(smtp.messages().is_empty());
    let listing = f.backproof(&["outbox"]);
    assert_eq!(listing.code, 1, "{}", listing.stdout);
    assert!(listing.stdout.contains("queued"), "{}", listing.stdout);
    assert!(
        listing.stdout.contains("refused the login"),
        "{}",
        listing.stdout
    );

    std::fs::write(f.dir.path().join("smtp.secret"), SMTP_PASSWORD).unwrap();
    let retry = f.backproof(&["outbox", "--retry"]);
    assert!(
        retry.stdout.contains("1 sent"),
        "{}{}",
        retry.stdout,
        retry.stderr
    );
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(f.backproof(&["outbox"]).code, 0);
}

#[test]
fn server_down_then_up_delivers_exactly_once() {
    let mut smtp = Smtp::start();
    let f = emailed(&smtp, SMTP_PASSWORD, "");
    corrupt_in_place(&f.backups.join("daily/tue.tar"));
    assert_eq!(f.run_json("acme", &[]).0, 0); // first run: baseline of the corrupted bytes
    smtp.stop();
    std::fs::remove_file(f.backups.join("weekly/w46.tar")).unwrap();
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("queued, will be retried"),
        "{}",
        out.stderr
    );
    let status = f.backproof(&["status"]);
    assert!(
        status.stdout.contains("outbox: 1 queued"),
        "{}",
        status.stdout
    );

    smtp.resume();
    let retry = f.backproof(&["outbox", "--retry"]);
    assert!(retry.stdout.contains("1 sent"), "{}", retry.stdout);
    let again = f.backproof(&["outbox", "--retry"]);
    assert!(again.stdout.contains("0 sent"), "{}", again.stdout);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "delivered once");
    let m = mailparse::parse_mail(&messages[0]).unwrap();
    assert!(
        header(&m, "Subject").starts_with("[BP-")
            && header(&m, "Subject").contains("] [FAIL] Acme Dental")
    );
}

#[test]
fn a_permanent_rejection_is_recorded_and_shown() {
    let smtp = Smtp::start();
    let f = emailed(&smtp, SMTP_PASSWORD, "");
    let job = std::fs::read_to_string(f.dir.path().join("jobs.d/acme.toml")).unwrap();
    f.write_job(
        "acme",
        &job.replace("noc@msp.example", "rejected@msp.example"),
    );
    std::fs::remove_dir_all(&f.backups).unwrap();
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("REJECTED"), "{}", out.stderr);
    let listing = f.backproof(&["outbox"]);
    assert!(
        listing.stdout.contains("REJECTED") && listing.stdout.contains("550"),
        "{}",
        listing.stdout
    );
    let status = f.backproof(&["status"]);
    assert!(status.stdout.contains("1 rejected"), "{}", status.stdout);
    // A rejected message is not retried.
    let retry = f.backproof(&["outbox", "--retry"]);
    assert!(
        retry.stdout.contains("0 sent, 0 still queued"),
        "{}",
        retry.stdout
    );
}

#[test]
fn without_smtp_reports_are_written_as_eml_files() {
    let f = Fixture::new("sample_files = 100");
    f.file("a.tar", 1000, hours(1));
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("a.tar"));
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 1);
    let mail = f.data_dir().join("mail");
    let files: Vec<_> = std::fs::read_dir(&mail).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(
        text.contains("Subject: [BP-adc9729c] [FAIL] Acme Dental"),
        "{text}"
    );
    assert!(
        out.stderr.contains(&files[0].path().display().to_string()),
        "{}",
        out.stderr
    );
    // Nothing was emailed, and nothing says it was.
    assert!(
        out.stderr.contains("NOT emailed (no [smtp] configured)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("report emailed"), "{}", out.stderr);

    let check = f.backproof(&["check-config"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stdout.contains("nothing is emailed")
            && check.stdout.contains(&mail.display().to_string()),
        "{}",
        check.stdout
    );

    let listing = f.backproof(&["outbox"]);
    assert!(
        listing.stdout.contains("file only") && listing.stdout.contains("not emailed"),
        "{}",
        listing.stdout
    );
    assert!(!listing.stdout.contains(" sent "), "{}", listing.stdout);
    let retry = f.backproof(&["outbox", "--retry"]);
    assert!(
        retry.stdout.contains("no [smtp] configured") && !retry.stdout.contains("sent"),
        "{}",
        retry.stdout
    );

    let test = f.backproof(&["send-test-email", "me@msp.example"]);
    assert_eq!(test.code, 2, "nothing was emailed: {}", test.stdout);
    assert!(
        test.stdout.contains("NOT emailed") && !test.stdout.contains("sent"),
        "{}",
        test.stdout
    );
    assert_eq!(
        std::fs::read_dir(&mail).unwrap().count(),
        2,
        "the test message is in a file"
    );
}

#[test]
fn weekly_digest_is_plain_language_and_goes_to_owners() {
    let smtp = Smtp::start();
    let f = emailed(&smtp, SMTP_PASSWORD, "");
    for _ in 0..3 {
        assert_eq!(f.run_json("acme", &[]).0, 0);
    }
    let out = f.backproof(&["digest", "acme"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .contains("checked 3 times this week, and every check passed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Open problems: none."),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("100% of the backup files"),
        "{}",
        out.stdout
    );

    std::fs::remove_dir_all(&f.backups).unwrap();
    assert_eq!(f.run_json("acme", &[]).0, 2);
    assert_eq!(
        smtp.messages().len(),
        1,
        "the error was emailed to the technicians"
    );
    let out = f.backproof(&["digest", "acme", "--send"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2);
    let m = mailparse::parse_mail(&messages[1]).unwrap();
    assert_eq!(header(&m, "To"), "owner@acme.example");
    assert!(
        header(&m, "Subject").starts_with("Weekly backup check for Acme Dental: attention needed")
    );
    let text = String::from_utf8(parts(&m)[0].1.clone()).unwrap();
    assert!(
        text.contains("3 passed, 1 could not be completed"),
        "{text}"
    );
    assert!(
        text.contains("nas: the latest check could not reach or read this backup location"),
        "{text}"
    );
}

#[test]
fn send_test_email_checks_the_settings() {
    let smtp = Smtp::start();
    let f = emailed(&smtp, SMTP_PASSWORD, "");
    let out = f.backproof(&["send-test-email", "me@msp.example"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(smtp.messages().len(), 1);
    std::fs::write(f.dir.path().join("smtp.secret"), "wrong").unwrap();
    let out = f.backproof(&["send-test-email", "me@msp.example"]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.contains("refused the login"), "{}", out.stdout);
}

#[test]
fn the_evidence_chain_detects_changed_and_removed_reports() {
    let f = Fixture::new("sample_files = 100");
    f.file("a.tar", 1000, hours(1));
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (_, ev) = f.run_json("acme", &[]);
        ids.push(ev["run_id"].as_str().unwrap().to_string());
    }
    let (_, last) = f.run_json("acme", &[]);
    assert_eq!(last["previous_run"], ids[3].as_str());
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("intact: 5 documents"), "{}", out.stdout);

    // Change one stored report (what a tamperer with the database would do).
    {
        let catalog = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
        let doc = catalog.run_document(&ids[1]).unwrap().unwrap();
        let mut ev: backproof::evidence::RunEvidence = serde_json::from_slice(&doc).unwrap();
        ev.verdict = Some(backproof::evidence::Verdict::Pass);
        ev.host = "elsewhere".into();
        let changed = serde_json::to_vec(&ev).unwrap();
        catalog
            .finish_run(
                &ev,
                &changed,
                None,
                &backproof::catalog::RunCommit::default(),
            )
            .unwrap();
        catalog.flush().unwrap();
    }
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains(&format!("BROKEN at run {}", ids[1])) && out.stdout.contains("changed"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_evidence_chain_detects_a_removed_report() {
    let f = Fixture::new("sample_files = 100");
    f.file("a.tar", 1000, hours(1));
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, ev) = f.run_json("acme", &[]);
        ids.push(ev["run_id"].as_str().unwrap().to_string());
    }
    {
        let catalog = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
        catalog.remove_run(&ids[1]).unwrap();
        catalog.flush().unwrap();
    }
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains(&format!("BROKEN at run {}", ids[2])),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&ids[1]), "{}", out.stdout);
}

/// A job `acme` whose next run fails (a file changed since the baseline run) and is
/// emailed with the `[smtp]` section `smtp(&fixture)` returns.
fn failing(smtp: impl FnOnce(&Fixture) -> String) -> Fixture {
    let f = Fixture::new("sample_files = 100");
    for (i, name) in ["a.tar", "b.tar"].iter().enumerate() {
        f.file(name, 20_000, hours(1 + i as u64));
    }
    let section = smtp(&f);
    std::fs::write(&f.config, format!("data_dir = \"data\"\n{section}")).unwrap();
    assert_eq!(f.run_json("acme", &[]).0, 0, "a pass is not emailed");
    corrupt_in_place(&f.backups.join("b.tar"));
    f
}

/// `[smtp]` for a plain relay on 127.0.0.1:`port` with a 1 s connect timeout.
fn plain_relay(port: u16) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"backproof <backproof@msp.example>\"\ntimeout = \"1s\"\n"
    )
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn a_silent_relay_holds_neither_the_run_nor_the_retry() {
    let relay = Staller::silent();
    let f = failing(|_| plain_relay(relay.port));
    let (out, took) = backproof_bounded(&f.config, &["run", "acme"], &[], LIMIT);
    assert_eq!(out.code, 1, "the run's verdict decides: {}", out.stderr);
    assert!(relay.accepted() >= 1, "the relay was never contacted");
    // The whole delivery is bounded by send_timeout, 4 × timeout by default.
    assert!(
        out.stderr.contains("queued, will be retried") && out.stderr.contains("within 4s"),
        "{}",
        out.stderr
    );
    assert!(took < Duration::from_secs(30), "the run took {took:?}");

    let (retry, took) = backproof_bounded(&f.config, &["outbox", "--retry"], &[], LIMIT);
    assert!(
        retry.stdout.contains("0 sent, 1 still queued"),
        "{}{}",
        retry.stdout,
        retry.stderr
    );
    assert!(took < Duration::from_secs(30), "the retry took {took:?}");
    let listing = f.backproof(&["outbox"]);
    assert_eq!(listing.code, 1);
    assert!(
        listing.stdout.contains("queued") && listing.stdout.contains("smtp.send_timeout"),
        "{}",
        listing.stdout
    );
}

/// Ctrl-C once the run is recorded, while its report is being sent (to a relay that never
/// answers, with two minutes allowed): the command stops at once, says the run was
/// recorded, exits with the run's verdict, and the report stays in the outbox.
#[test]
fn ctrl_c_while_the_report_is_sent_stops_at_once_and_keeps_it_in_the_outbox() {
    let relay = Staller::silent();
    let f = failing(|_| format!("{}send_timeout = \"120s\"\n", plain_relay(relay.port)));
    let dir = tempfile::tempdir().unwrap();
    let (out_file, err_file) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_backproof"))
        .arg("--config")
        .arg(&f.config)
        .args(["run", "acme"])
        .env_remove("BACKPROOF_CONFIG")
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let printed = || std::fs::read_to_string(&out_file).unwrap_or_default();
    wait_for("the report printed and its sending begun", LIMIT, || {
        printed().contains("Evidence BLAKE3") && relay.accepted() >= 1
    });
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut status = None;
    wait_for(
        "the command to stop after Ctrl-C",
        Duration::from_secs(20),
        || {
            status = child.try_wait().unwrap();
            status.is_some()
        },
    );
    let stderr = std::fs::read_to_string(&err_file).unwrap();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "the verdict: {stderr}"
    );
    assert!(stderr.contains("interrupted after run"), "{stderr}");
    // Not sent, not dropped: held by the interrupted attempt until its claim lapses (or
    // queued, had the claim not reached the disk before the process ended).
    let outbox = f.backproof(&["outbox"]);
    let line = outbox
        .stdout
        .lines()
        .find(|l| l.contains("[FAIL] Acme Dental"))
        .unwrap_or_else(|| panic!("the report left the outbox:\n{}", outbox.stdout));
    let state = line.split_whitespace().nth(1).unwrap_or_default();
    assert!(["sending", "queued"].contains(&state), "{line}");
}

#[test]
fn a_relay_that_stalls_after_data_leaves_the_report_queued() {
    let smtp = Smtp::start_with_data_delay(Duration::from_secs(3600));
    let f = failing(|f| {
        let pw = f.secret("smtp.secret", SMTP_PASSWORD);
        format!("{}send_timeout = \"3s\"\n", smtp.config(&pw))
    });
    let (out, took) = backproof_bounded(&f.config, &["run", "acme"], &[], LIMIT);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("queued, will be retried") && out.stderr.contains("within 3s"),
        "{}",
        out.stderr
    );
    assert!(took < Duration::from_secs(30), "the run took {took:?}");
    let listing = f.backproof(&["outbox"]);
    assert!(
        listing.stdout.contains("queued") && !listing.stdout.contains(" sent "),
        "never marked sent: {}",
        listing.stdout
    );
    assert!(smtp.messages().is_empty());
    let (retry, _) = backproof_bounded(&f.config, &["outbox", "--retry"], &[], LIMIT);
    assert!(
        retry.stdout.contains("0 sent, 1 still queued"),
        "{}",
        retry.stdout
    );
}

#[test]
fn a_relay_that_stalls_once_gets_the_report_on_the_retry_and_later_ones_directly() {
    let smtp = Smtp::start();
    let relay = Staller::first_then_forward(1, smtp.port);
    let f = failing(|f| {
        let pw = f.secret("smtp.secret", SMTP_PASSWORD);
        smtp.config(&pw)
            .replace(
                &format!("port = {}\n", smtp.port),
                &format!("port = {}\n", relay.port),
            )
            .replace("timeout = \"5s\"", "timeout = \"1s\"")
    });
    let (out, took) = backproof_bounded(&f.config, &["run", "acme"], &[], LIMIT);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("queued, will be retried"),
        "{}",
        out.stderr
    );
    assert!(took < Duration::from_secs(30), "the run took {took:?}");
    assert!(smtp.messages().is_empty());

    let (retry, _) = backproof_bounded(&f.config, &["outbox", "--retry"], &[], LIMIT);
    assert!(
        retry.stdout.contains("1 sent, 0 still queued"),
        "{}{}",
        retry.stdout,
        retry.stderr
    );
    assert_eq!(smtp.messages().len(), 1);

    let (out, _) = backproof_bounded(&f.config, &["run", "acme"], &[], LIMIT);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("report emailed"), "{}", out.stderr);
    assert_eq!(smtp.messages().len(), 2);
    assert_eq!(relay.accepted(), 3);
}

/// Addresses lettre's envelope parser accepts but its header parser or message builder
/// does not: before, `check-config` passed them and every emailed run panicked.
const UNSENDABLE: [&str; 3] = [
    r#""a b"@example.com"#,
    r#""a..b"@example.com"#,
    "a@[127.0.0.1]",
];

#[test]
fn check_config_refuses_addresses_a_report_cannot_be_sent_to() {
    for bad in UNSENDABLE {
        let f = Fixture::new("sample_files = 100");
        f.file("a.tar", 1000, hours(1));
        let job_file = f.dir.path().join("jobs.d/acme.toml");
        let job = std::fs::read_to_string(&job_file).unwrap();
        let technicians = "technicians = [\"noc@msp.example\"]";
        assert_eq!(job.lines().nth(1), Some(technicians));
        for (key, line) in [
            (
                "technicians",
                format!("technicians = [\"noc@msp.example\", '{bad}']"),
            ),
            ("owners", format!("{technicians}\nowners = ['{bad}']")),
        ] {
            f.write_job("acme", &job.replace(technicians, &line));
            let line_no = if key == "owners" { 3 } else { 2 };
            let out = f.backproof(&["check-config"]);
            assert_eq!(out.code, 2, "{bad} in {key}: {}{}", out.stdout, out.stderr);
            let place = format!("acme.toml:{line_no}: key `{key}`");
            assert!(
                out.stderr.contains(&place) && out.stderr.contains(bad),
                "{bad} in {key}: {}",
                out.stderr
            );
            let run = f.backproof(&["run", "acme"]);
            assert_eq!(run.code, 2, "refused, not a panic: {}", run.stderr);
        }
        f.write_job("acme", &job);
        for key in ["from", "reply_to"] {
            std::fs::write(
                &f.config,
                format!(
                    "data_dir = \"data\"\n[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\nfrom = \"backproof@msp.example\"\n{key} = '{bad}'\n"
                )
                .replace("from = \"backproof@msp.example\"\nfrom", "from"),
            )
            .unwrap();
            let out = f.backproof(&["check-config"]);
            assert_eq!(out.code, 2, "{bad} as smtp.{key}: {}", out.stdout);
            let line_no = if key == "from" { 5 } else { 6 };
            let place = format!("backproof.toml:{line_no}: key `smtp.{key}`");
            assert!(
                out.stderr.contains(&place) && out.stderr.contains(bad),
                "{bad} as smtp.{key}: {}",
                out.stderr
            );
        }
        std::fs::write(&f.config, "data_dir = \"data\"\n").unwrap();
        let out = f.backproof(&["send-test-email", bad]);
        assert_eq!(out.code, 2, "refused, not a panic: {}", out.stderr);
        assert!(
            out.stderr.contains("not an email address"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn a_run_that_panics_is_recorded_as_not_verified_and_reported() {
    let f = Fixture::new("sample_files = 100");
    f.file("a.tar", 1000, hours(1));
    // The test-only hook of debug builds (see src/verify/crash.rs).
    let flag = f.secret("panic-now", "forced by the test");
    let env = [("BACKPROOF_TEST_PANIC_FILE", flag.to_str().unwrap())];
    let (out, _) = backproof_bounded(&f.config, &["run", "acme", "--json"], &env, LIMIT);
    assert_eq!(out.code, 2, "could not verify: {}", out.stderr);
    let ev = out.json();
    assert_eq!(ev["status"], "finished");
    assert_eq!(ev["verdict"], "error");
    let summary = target(&ev, "nas")["summary"].as_str().unwrap();
    assert!(
        summary.contains("internal error") && summary.contains("forced by the test"),
        "{summary}"
    );
    // Recorded in the catalog and reported to the technicians (to a file: no [smtp]).
    let show = f.backproof(&["show", ev["run_id"].as_str().unwrap(), "--json"]);
    assert_eq!(show.json()["verdict"], "error", "{}", show.stdout);
    let mails = std::fs::read_dir(f.data_dir().join("mail"))
        .unwrap()
        .count();
    assert_eq!(mails, 1, "the error was reported");

    std::fs::remove_file(&flag).unwrap();
    assert_eq!(f.run_json("acme", &[]).0, 0, "the next run verifies again");
}

//! Report emails, the outbox and the evidence chain, against a real SMTP server
//! (aiosmtpd with STARTTLS and AUTH) on 127.0.0.1.

mod common;

use common::servers::{SMTP_PASSWORD, Smtp};
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
        "[FAIL] Acme Dental: 1 corrupt file on nas"
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
        "[PASS] Acme Dental: all 1 backup target verified again"
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
        "[PASS] Acme Dental: all 1 backup target verified"
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
    assert!(header(&m, "Subject").starts_with("[FAIL] Acme Dental"));
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
    assert!(text.contains("Subject: [FAIL] Acme Dental"), "{text}");
    assert!(
        out.stderr.contains(&files[0].path().display().to_string()),
        "{}",
        out.stderr
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

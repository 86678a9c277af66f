//! One problem's whole life as the receivers see it, with the real daemon: the SMTP
//! server, a monitor for the dead-man's switch and a signed webhook receiver.

mod common;

use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::receiver::Receiver;
use common::servers::Smtp;
use common::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=";

#[test]
fn a_problem_from_opening_to_closing_by_email_webhook_and_ping() {
    let smtp = Smtp::start();
    let rx = Receiver::start();
    let f = Fixture::empty();
    let pw = f.secret("smtp.secret", common::servers::SMTP_PASSWORD);
    f.secret("webhook.secret", SECRET);
    std::fs::write(
        &f.config,
        format!(
            "data_dir = \"data\"\n{}\n[[webhooks]]\nname = \"psa\"\nurl = \"{}\"\nsecret_file = \"webhook.secret\"\n",
            smtp.config(&pw),
            rx.url("/hook")
        ),
    )
    .unwrap();
    f.write_job(
        "acme",
        &format!(
            "client = \"Acme Dental\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"30 2 * * *\"\nping_url = \"{}\"\n\n[alerts]\nremind_every = \"2s\"\n\n[policy]\nsample_files = 100\n\n[[targets]]\nname = \"nas\"\nurl = \"file://{}\"\n",
            rx.url("/ping/abc"),
            f.backups.display()
        ),
    );
    for i in 0..3 {
        f.file(
            &format!("set/f{i:02}.bak"),
            4_000 + i * 101,
            hours(1 + 24 * i as u64),
        );
    }
    let victim = f.backups.join("set/f01.bak");
    let original = std::fs::read(&victim).unwrap();
    let mtime = std::fs::metadata(&victim).unwrap().modified().unwrap();
    let d = Daemon::start(&f, "");
    let run = |d: &Daemon| {
        let (code, body) = d.post("/v1/jobs/acme/runs", serde_json::json!({}));
        assert_eq!(code, 202, "{body}");
        d.wait_run(body["run_id"].as_str().unwrap(), Duration::from_secs(30))
    };
    let started = Instant::now();
    assert_eq!(run(&d)["verdict"], "pass");
    corrupt_in_place(&victim);
    assert_eq!(run(&d)["verdict"], "fail");
    wait_for("a reminder", Duration::from_secs(15), || {
        rx.requests_to("/hook")
            .iter()
            .any(|r| r.json()["type"] == "problem.reminder")
    });
    let out = f.backproof(&[
        "ack",
        "acme",
        "--reason",
        "disk replaced tonight",
        "--by",
        "dana",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    wait_for("the acknowledgement", Duration::from_secs(10), || {
        rx.requests_to("/hook")
            .iter()
            .any(|r| r.json()["type"] == "problem.acknowledged")
    });
    let reminders = |rx: &Receiver| {
        rx.requests_to("/hook")
            .iter()
            .filter(|r| r.json()["type"] == "problem.reminder")
            .count()
    };
    let before = reminders(&rx);
    std::fs::write(&victim, &original).unwrap();
    set_mtime(&victim, mtime);
    assert_eq!(run(&d)["verdict"], "pass");
    wait_for("the closing", Duration::from_secs(10), || {
        rx.requests_to("/hook")
            .iter()
            .any(|r| r.json()["type"] == "problem.closed")
            && smtp
                .messages()
                .iter()
                .any(|m| String::from_utf8_lossy(m).contains("verified again"))
    });
    assert_eq!(reminders(&rx), before, "reminded while acknowledged");

    // The timeline as the receivers saw it.
    let mut seen: Vec<(Instant, String)> = rx
        .requests()
        .iter()
        .map(|r| {
            let what = if r.path.starts_with("/ping") {
                format!("monitor  {} {}", r.method, r.path)
            } else {
                let j = r.json();
                format!(
                    "webhook  {} {}",
                    j["type"].as_str().unwrap(),
                    j["data"]["title"].as_str().unwrap()
                )
            };
            (r.at, what)
        })
        .collect();
    seen.sort_by_key(|(at, _)| *at);
    for (at, what) in &seen {
        println!("+{:>5.1}s {what}", at.duration_since(started).as_secs_f64());
    }
    for m in smtp.messages() {
        let m = String::from_utf8_lossy(&m).into_owned();
        let p = mailparse::parse_mail(m.as_bytes()).unwrap();
        use mailparse::MailHeaderMap;
        println!(
            "email    {} (In-Reply-To: {})",
            p.headers.get_first_value("Subject").unwrap_or_default(),
            p.headers
                .get_first_value("In-Reply-To")
                .unwrap_or_else(|| "-".into())
        );
    }
    let kinds: Vec<String> = seen.iter().map(|(_, w)| w.clone()).collect();
    let pos = |needle: &str| {
        kinds
            .iter()
            .position(|k| k.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not seen: {kinds:#?}"))
    };
    assert!(pos("/ping/abc/fail") < pos("problem.reminder"));
    assert!(pos("problem.opened") < pos("problem.reminder"));
    assert!(pos("problem.reminder") < pos("problem.acknowledged"));
    assert!(pos("problem.acknowledged") < pos("problem.closed"));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| k.contains("problem.opened"))
            .count(),
        1
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| k.contains("problem.closed"))
            .count(),
        1
    );
    drop(d);
}

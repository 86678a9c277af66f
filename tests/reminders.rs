//! Follow-up of open problems: reminders while a problem stays open and unacknowledged,
//! escalation, silence while acknowledged, each threaded under the report that opened the
//! problem. Days on the daemon's injectable clock (in process), seconds with the real
//! daemon and SMTP server.

mod common;

use std::sync::Arc;
use std::time::Duration;

use backproof::catalog::{Catalog, OutboxItem};
use backproof::daemon::clock::{Clock, TokioClock};
use common::daemon::Daemon;
use common::servers::Smtp;
use common::*;

/// Job `acme` with six backup files, `[alerts]` of the job `alerts`, and `global` added to
/// the global file.
fn fixture(global: &str, alerts: &str) -> Fixture {
    let f = Fixture::empty();
    let text = std::fs::read_to_string(&f.config).unwrap();
    std::fs::write(&f.config, format!("{text}{global}\n")).unwrap();
    f.write_job(
        "acme",
        &format!(
            "client = \"Acme Dental\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"30 2 * * *\"\n\n[alerts]\n{alerts}\n\n[policy]\nsample_files = 100\n\n[[targets]]\nname = \"nas\"\nurl = \"file://{}\"\n",
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

fn follow_ups(catalog: &Catalog) -> Vec<OutboxItem> {
    catalog
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|i| i.subject.contains("[REMINDER]") || i.subject.contains("[ESCALATED]"))
        .collect()
}

fn header(message: &str, name: &str) -> Option<String> {
    let m = mailparse::parse_mail(message.as_bytes()).unwrap();
    use mailparse::MailHeaderMap;
    m.headers.get_first_value(name)
}

#[tokio::test(start_paused = true)]
async fn days_on_the_daemon_clock_remind_daily_escalate_once_and_respect_the_acknowledgement() {
    let f = fixture(
        "[[webhooks]]\nkind = \"slack\"\nurl = \"http://127.0.0.1:9/chat\"\nevents = [\"problem.reminder\"]",
        "remind_every = \"24h\"\nescalate_after = \"48h\"\nescalate_to = [\"boss@msp.example\"]",
    );
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("set/f03.bak"));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    let opening = format!("<run-{}.acme@localhost>", ev["run_id"].as_str().unwrap());

    let config = Arc::new(backproof::config::load(&f.config).unwrap());
    let catalog = Catalog::open(&f.data_dir()).unwrap();
    assert!(
        catalog
            .outbox()
            .unwrap()
            .iter()
            .any(|i| i.message_id == opening)
    );
    let clock = Arc::new(TokioClock::starting_at(chrono::Utc::now()));
    let cancel = tokio_util::sync::CancellationToken::new();
    let c = config.clone();
    let task = tokio::spawn(backproof::daemon::remind::run(
        move || c.clone(),
        catalog.clone(),
        clock.clone(),
        cancel.clone(),
        || {},
    ));
    let hours = |h: u64| Duration::from_secs(h * 3600);

    tokio::time::sleep(hours(23)).await;
    assert!(follow_ups(&catalog).is_empty(), "reminded before 24 h");
    tokio::time::sleep(hours(2)).await;
    let items = follow_ups(&catalog);
    assert_eq!(items.len(), 1, "{items:#?}");
    let key = items[0]
        .subject
        .split(']')
        .next()
        .unwrap()
        .trim_start_matches('[')
        .to_string();
    assert!(key.starts_with("BP-"), "{}", items[0].subject);
    assert!(
        items[0]
            .subject
            .contains("[REMINDER] Acme Dental: corruption on nas, open for 1 d"),
        "{}",
        items[0].subject
    );
    assert_eq!(items[0].to, ["noc@msp.example"]);
    assert_eq!(
        header(&items[0].message, "In-Reply-To").as_deref(),
        Some(opening.as_str())
    );
    assert_eq!(
        header(&items[0].message, "References").as_deref(),
        Some(opening.as_str())
    );

    // Acknowledged until 48 h from now: no reminder, no escalation meanwhile.
    let req = backproof::ack::AckRequest {
        target: None,
        problem: Some(key.clone()),
        reason: "new disk ordered".into(),
        until: Some(clock.now() + chrono::Duration::hours(48)),
        by: "dana".into(),
    };
    backproof::ack::acknowledge(&config, &catalog, "acme", &req, clock.now()).unwrap();
    tokio::time::sleep(hours(47)).await;
    assert_eq!(follow_ups(&catalog).len(), 1, "reminded while acknowledged");

    // The acknowledgement lapses (at 73 h): open for more than 48 h, it is escalated once.
    tokio::time::sleep(hours(2)).await;
    let items = follow_ups(&catalog);
    assert_eq!(items.len(), 2, "{items:#?}");
    assert!(
        items[1].subject.contains("[ESCALATED]"),
        "{}",
        items[1].subject
    );
    assert_eq!(items[1].to, ["boss@msp.example"]);
    assert_eq!(
        header(&items[1].message, "In-Reply-To").as_deref(),
        Some(opening.as_str())
    );

    // A day after the lapse: the second reminder; escalated only once.
    tokio::time::sleep(hours(24)).await;
    let items = follow_ups(&catalog);
    assert_eq!(items.len(), 3, "{items:#?}");
    assert!(items[2].subject.contains("[REMINDER]"));
    assert_eq!(
        items
            .iter()
            .filter(|i| i.subject.contains("[ESCALATED]"))
            .count(),
        1
    );
    // Each reminder is a `problem.reminder` webhook event too.
    let hooks = catalog.webhooks().unwrap();
    assert_eq!(
        hooks
            .iter()
            .filter(|h| h.event == "problem.reminder")
            .count(),
        2,
        "{hooks:#?}"
    );
    cancel.cancel();
    task.await.unwrap();
}

#[test]
fn the_daemon_reminds_by_email_threaded_until_acknowledged() {
    let smtp = Smtp::start();
    let f = fixture(
        "",
        "remind_every = \"2s\"\nescalate_after = \"3s\"\nescalate_to = [\"boss@msp.example\"]",
    );
    let pw = f.secret("smtp.secret", common::servers::SMTP_PASSWORD);
    std::fs::write(
        &f.config,
        format!("data_dir = \"data\"\n{}", smtp.config(&pw)),
    )
    .unwrap();
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("set/f02.bak"));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    let run_id = ev["run_id"].as_str().unwrap().to_string();
    let subjects = |smtp: &Smtp| -> Vec<(String, String, String)> {
        smtp.messages()
            .iter()
            .map(|m| {
                let m = String::from_utf8_lossy(m).into_owned();
                let h = |n| header(&m, n).unwrap_or_default();
                (h("Subject"), h("Message-ID"), h("In-Reply-To"))
            })
            .collect()
    };
    let opening = subjects(&smtp)
        .into_iter()
        .find(|(s, _, _)| s.contains("] [FAIL] Acme Dental"))
        .map(|(_, id, _)| id)
        .expect("the failure report was emailed");
    assert!(opening.contains(&run_id));

    let d = Daemon::start(&f, "");
    wait_for(
        "a reminder and the escalation",
        Duration::from_secs(20),
        || {
            let s = subjects(&smtp);
            s.iter().any(|(s, _, _)| s.contains("[REMINDER]"))
                && s.iter().any(|(s, _, _)| s.contains("[ESCALATED]"))
        },
    );
    for (s, _, parent) in subjects(&smtp)
        .iter()
        .filter(|(s, _, _)| s.contains("[REMINDER]") || s.contains("[ESCALATED]"))
    {
        assert_eq!(
            parent, &opening,
            "{s} is not threaded under the failure report"
        );
    }

    // Acknowledged: the reminders stop (none within two intervals after the ones queued).
    let out = f.backproof(&["ack", "acme", "--reason", "replacing the disk"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let count = |smtp: &Smtp| {
        subjects(smtp)
            .iter()
            .filter(|(s, _, _)| s.contains("[REMINDER]"))
            .count()
    };
    // Let a reminder queued just before the acknowledgement be delivered, then count.
    let (code, _) = d.post("/v1/outbox/retry", serde_json::json!({}));
    assert_eq!(code, 200);
    let before = count(&smtp);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(count(&smtp), before, "reminded while acknowledged");
    drop(d);
}

//! Webhooks against real HTTP receivers on 127.0.0.1: generic events signed per Standard
//! Webhooks (checked with the `standardwebhooks` package) and valid against
//! `schemas/webhook-v1.json` (checked with `jsonschema`); the Slack, Teams and ntfy
//! presets in the shapes those services document; retries and rejection; a stalled
//! receiver never holds email.

mod common;

use std::time::Duration;

use common::daemon::Daemon;
use common::receiver::{Answer, Receiver, Request};
use common::servers::Smtp;
use common::*;

/// A Standard Webhooks secret: whsec_ and base64 of 32 bytes.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=";

/// Job `acme` with six backup files, and `[[webhooks]]` entries `hooks` in the global file.
fn fixture(hooks: &str) -> Fixture {
    let f = Fixture::new("sample_files = 100");
    for i in 0..6 {
        f.file(
            &format!("set/f{i:02}.bak"),
            4_000 + i * 101,
            hours(1 + 24 * i as u64),
        );
    }
    let text = std::fs::read_to_string(&f.config).unwrap();
    std::fs::write(&f.config, format!("{text}{hooks}\n")).unwrap();
    f
}

/// Verifies the requests with the Python script (signature and schema), returns its
/// lines.
fn verify_independently(
    f: &Fixture,
    secret_file: &std::path::Path,
    got: &[Request],
) -> Vec<String> {
    let list: Vec<serde_json::Value> = got
        .iter()
        .map(|r| {
            let headers: serde_json::Map<String, serde_json::Value> = r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            serde_json::json!({"headers": headers, "body": r.text()})
        })
        .collect();
    let file = f.dir.path().join("requests.json");
    std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("python3")
        .arg(format!("{root}/tests/common/verify_webhooks.py"))
        .arg(secret_file)
        .arg(format!("{root}/schemas/webhook-v1.json"))
        .arg(&file)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "independent verification failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn types(got: &[Request]) -> Vec<String> {
    got.iter()
        .map(|r| r.json()["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_problem_s_life_is_sent_signed_and_as_the_schema_says() {
    let rx = Receiver::start();
    let f = fixture(&format!(
        "\n[[webhooks]]\nname = \"psa\"\nurl = \"{}\"\nsecret_file = \"webhook.secret\"\nevents = [\"run.finished\", \"problem.opened\", \"problem.closed\", \"problem.acknowledged\"]\n",
        rx.url("/hook/secret-path")
    ));
    let secret = f.secret("webhook.secret", SECRET);

    assert_eq!(f.run_json("acme", &[]).0, 0);
    rx.wait_for("/hook/", 1, Duration::from_secs(10));
    let victim = f.backups.join("set/f03.bak");
    let original = std::fs::read(&victim).unwrap();
    let mtime = std::fs::metadata(&victim).unwrap().modified().unwrap();
    corrupt_in_place(&victim);
    assert_eq!(f.run_json("acme", &[]).0, 1);
    rx.wait_for("/hook/", 3, Duration::from_secs(10));
    let out = f.backproof(&[
        "ack",
        "acme",
        "--reason",
        "restoring from the offsite copy",
        "--by",
        "dana",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    rx.wait_for("/hook/", 4, Duration::from_secs(10));
    std::fs::write(&victim, &original).unwrap();
    set_mtime(&victim, mtime);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let got = rx.wait_for("/hook/", 6, Duration::from_secs(10));

    assert_eq!(
        types(&got),
        [
            "run.finished",
            "run.finished",
            "problem.opened",
            "problem.acknowledged",
            "run.finished",
            "problem.closed"
        ]
    );
    let lines = verify_independently(&f, &secret, &got);
    assert_eq!(lines.len(), 6, "{lines:?}");
    // One key for the problem's whole life.
    let key = got[2].json()["data"]["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("BP-") && key.len() == 11, "{key}");
    for i in [3, 5] {
        assert_eq!(got[i].json()["data"]["key"], key.as_str());
    }
    let closed = got[5].json();
    assert_eq!(
        closed["data"]["opened_at"],
        got[2].json()["data"]["opened_at"]
    );
    assert!(
        closed["data"]["text"]
            .as_str()
            .unwrap()
            .contains("What was wrong"),
        "{closed}"
    );
    assert_eq!(got[3].json()["data"]["by"], "dana");
    // Every message has its own id; the signature is not the project's word alone.
    let mut ids: Vec<&str> = got
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    // A wrong secret does not verify (the checker can fail).
    let wrong = f.secret(
        "wrong.secret",
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    let list = serde_json::json!([{"headers": {"webhook-id": got[0].header("webhook-id"), "webhook-timestamp": got[0].header("webhook-timestamp"), "webhook-signature": got[0].header("webhook-signature")}, "body": got[0].text()}]);
    let file = f.dir.path().join("one.json");
    std::fs::write(&file, list.to_string()).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("python3")
        .arg(format!("{root}/tests/common/verify_webhooks.py"))
        .arg(&wrong)
        .arg(format!("{root}/schemas/webhook-v1.json"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong secret verified");
}

#[test]
fn slack_teams_and_ntfy_get_the_shapes_they_document() {
    let rx = Receiver::start();
    let f = fixture(&format!(
        "\n[[webhooks]]\nname = \"slack\"\nkind = \"slack\"\nurl = \"{}\"\n\n[[webhooks]]\nname = \"teams\"\nkind = \"teams\"\nurl = \"{}\"\n\n[[webhooks]]\nname = \"ntfy\"\nkind = \"ntfy\"\nurl = \"{}\"\n",
        rx.url("/slack/T000/B000/XXXX"),
        rx.url("/teams/workflows/abc"),
        rx.url("/ntfy/backups")
    ));
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("set/f01.bak"));
    assert_eq!(f.run_json("acme", &[]).0, 1);
    // Default events: no run.finished, so one message each: the problem opened.
    let slack = rx.wait_for("/slack/", 1, Duration::from_secs(10));
    let teams = rx.wait_for("/teams/", 1, Duration::from_secs(10));
    let ntfy = rx.wait_for("/ntfy/", 1, Duration::from_secs(10));
    assert_eq!((slack.len(), teams.len(), ntfy.len()), (1, 1, 1));

    // Slack incoming webhook: a JSON object with `text`.
    let s = slack[0].json();
    assert_eq!(slack[0].header("content-type"), Some("application/json"));
    assert_eq!(s.as_object().unwrap().len(), 1, "{s}");
    let text = s["text"].as_str().unwrap();
    assert!(
        text.contains("[BP-") && text.contains("[FAIL] Acme Dental: corruption on nas"),
        "{text}"
    );

    // Teams workflow: a message with one Adaptive Card attachment.
    let t = teams[0].json();
    assert_eq!(t["type"], "message");
    let a = &t["attachments"][0];
    assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(a["content"]["type"], "AdaptiveCard");
    assert!(a["content"]["version"].is_string());
    let body = a["content"]["body"].as_array().unwrap();
    assert!(
        body.iter()
            .all(|b| b["type"] == "TextBlock" && b["text"].is_string())
    );
    assert!(
        body[0]["text"]
            .as_str()
            .unwrap()
            .contains("corruption on nas")
    );

    // ntfy: a plain body and the Title, Priority and Tags headers.
    let n = &ntfy[0];
    assert!(n.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        n.header("title")
            .unwrap()
            .contains("[FAIL] Acme Dental: corruption on nas")
    );
    assert_eq!(n.header("priority"), Some("high"));
    assert!(n.header("tags").unwrap().contains("rotating_light"));
    assert!(n.text().contains("Open since"), "{}", n.text());
    assert!(
        serde_json::from_slice::<serde_json::Value>(&n.body).is_err(),
        "ntfy gets text"
    );
}

#[test]
fn a_failing_receiver_is_retried_and_a_refusing_one_rejected_and_neither_fails_a_run() {
    let rx = Receiver::start();
    rx.answer(Answer::Status(503));
    let f = fixture(&format!(
        "\n[[webhooks]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"{}\"\nevents = [\"run.finished\"]\n",
        rx.url("/hook/secret-token")
    ));
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("webhook deferred") && out.stderr.contains("HTTP 503"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("1 still queued"), "{}", out.stderr);
    assert!(!out.stderr.contains("secret-token"), "{}", out.stderr);
    let first = rx.wait_for("/hook/", 1, Duration::from_secs(5));
    assert_eq!(first.len(), 1);

    // Gone for good: the next due attempt (after its backoff) is rejected, not retried.
    rx.answer(Answer::Status(410));
    {
        let catalog = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
        for mut item in catalog.webhooks().unwrap() {
            item.next_attempt = chrono::Utc::now();
            let tree_item = item.clone();
            // Put it back due now (as if the backoff had passed).
            assert!(
                catalog
                    .claim_webhook(
                        &item.id,
                        "test",
                        chrono::Utc::now() + chrono::Duration::hours(2),
                        chrono::Duration::seconds(1)
                    )
                    .unwrap()
                    .is_some()
            );
            assert!(catalog.settle_webhook(&tree_item, "test").unwrap());
        }
        catalog.flush().unwrap();
    }
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("webhook rejected for good"),
        "{}",
        out.stderr
    );
    let catalog = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
    let items = catalog.webhooks().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        items
            .iter()
            .all(|i| matches!(i.delivery, backproof::catalog::Delivery::Rejected { .. })),
        "{items:?}"
    );
    assert_eq!(items[0].attempts, 2);
}

#[test]
fn a_stalled_webhook_receiver_never_holds_email_and_missed_runs_are_sent_too() {
    let rx = Receiver::start();
    rx.answer(Answer::Stall);
    let smtp = Smtp::start();
    let f = fixture("");
    let pw = f.secret("smtp.secret", common::servers::SMTP_PASSWORD);
    let secret = f.secret("webhook.secret", SECRET);
    std::fs::write(
        &f.config,
        format!(
            "data_dir = \"data\"\n{}\n[[webhooks]]\nname = \"psa\"\nurl = \"{}\"\nsecret_file = \"{}\"\n",
            smtp.config(&pw),
            rx.url("/hook/"),
            secret.display()
        ),
    )
    .unwrap();
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("set/f04.bak"));
    // A missed scheduled run: acme runs every 5 minutes, the last slot handled an hour ago.
    let job = f.dir.path().join("jobs.d/acme.toml");
    let text = std::fs::read_to_string(&job).unwrap();
    std::fs::write(
        &job,
        text.replace("schedule = \"30 2 * * *\"", "schedule = \"*/5 * * * *\""),
    )
    .unwrap();
    {
        let catalog = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
        catalog
            .set_last_slot("acme", chrono::Utc::now() - chrono::Duration::hours(1))
            .unwrap();
        catalog.flush().unwrap();
    }
    let d = Daemon::start(&f, "missed_grace = \"1m\"\ncatch_up_delay = \"10m\"");
    // The receiver holds the first event (the missed run) and does not answer.
    let held = rx.wait_for("/hook/", 1, Duration::from_secs(10));
    assert_eq!(held[0].json()["type"], "daemon.missed_schedule");
    let lines = verify_independently(&f, &secret, &held);
    assert!(
        lines[0].starts_with("ok daemon.missed_schedule"),
        "{lines:?}"
    );

    // A failing run meanwhile: its report is emailed while the webhook is still held.
    let (code, body) = d.post("/v1/jobs/acme/runs", serde_json::json!({}));
    assert_eq!(code, 202, "{body}");
    wait_for(
        "the failure report is emailed",
        Duration::from_secs(8),
        || {
            smtp.messages()
                .iter()
                .any(|m| String::from_utf8_lossy(m).contains("[FAIL] Acme Dental"))
        },
    );
    assert!(
        smtp.messages()
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("[MISSED] Acme Dental")),
        "the missed-run email went out too"
    );
    assert_eq!(
        rx.requests_to("/hook/").len(),
        1,
        "one request at a time to the stalled receiver"
    );
}

#[test]
fn webhook_configuration_errors_name_the_key_and_never_show_the_secret() {
    let f = fixture("");
    f.secret("bad.secret", "whsec_not-base64-TOPSECRET");
    let text = std::fs::read_to_string(&f.config).unwrap();
    std::fs::write(
        &f.config,
        format!(
            "{text}\n[[webhooks]]\nurl = \"https://psa.example/TOKEN123\"\n\n[[webhooks]]\nurl = \"https://psa.example/x\"\nsecret_file = \"bad.secret\"\n\n[[webhooks]]\nkind = \"ntfy\"\nurl = \"https://ntfy.example/t\"\nevents = [\"problem.exploded\"]\n"
        ),
    )
    .unwrap();
    let out = f.backproof(&["check-config"]);
    assert_eq!(out.code, 2);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("key `webhooks[1].secret_file`: a generic webhook is signed"),
        "{all}"
    );
    assert!(
        all.contains("key `webhooks[2].secret_file`")
            && all.contains("does not hold a Standard Webhooks secret"),
        "{all}"
    );
    assert!(
        all.contains("key `webhooks[3].events`: `problem.exploded` is not an event"),
        "{all}"
    );
    assert!(
        !all.contains("TOPSECRET") && !all.contains("TOKEN123"),
        "{all}"
    );
}

/// A process that stops dead between recording a run and queueing its alerts (a power
/// cut, `kill -9`) loses none of them: the run's record carries a mark that its alerts
/// are still to go, and the next process to open the catalog queues them, once.
#[test]
fn the_alerts_of_a_run_recorded_just_before_a_crash_go_out_once_after_it() {
    let rx = Receiver::start();
    let f = fixture(&format!(
        "\n[[webhooks]]\nname = \"psa\"\nurl = \"{}\"\nsecret_file = \"webhook.secret\"\nevents = [\"run.finished\", \"problem.opened\"]\n",
        rx.url("/hook/")
    ));
    f.secret("webhook.secret", SECRET);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    rx.wait_for("/hook/", 1, Duration::from_secs(10));
    corrupt_in_place(&f.backups.join("set/f03.bak"));

    let stop = f.dir.path().join("stop-after-record");
    std::fs::write(&stop, "recorded").unwrap();
    let (out, _) = backproof_bounded(
        &f.config,
        &["run", "acme", "--json"],
        &[("BACKPROOF_TEST_STOP_FILE", stop.to_str().unwrap())],
        Duration::from_secs(60),
    );
    assert!(
        ![0, 1, 2].contains(&out.code),
        "it did not stop dead: {}{}",
        out.stdout,
        out.stderr
    );
    std::fs::remove_file(&stop).unwrap();
    let crashed = {
        let catalog = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
        let pending = catalog.alerts_pending().unwrap();
        assert_eq!(pending.len(), 1, "{pending:?}");
        pending[0].0.clone()
    };

    // The next command queues them (the run that follows delivers), and only once.
    assert_eq!(f.backproof(&["status"]).code, 1);
    let (code, third) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    let got = rx.wait_for("/hook/", 4, Duration::from_secs(10));
    assert_eq!(
        types(&got),
        [
            "run.finished",
            "run.finished",
            "problem.opened",
            "run.finished"
        ]
    );
    assert_eq!(got[1].json()["data"]["run_id"], crashed.as_str());
    assert_eq!(got[2].json()["data"]["run_id"], crashed.as_str());
    assert_eq!(got[3].json()["data"]["run_id"], third["run_id"]);
    let catalog = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
    assert!(catalog.alerts_pending().unwrap().is_empty());
    assert_eq!(catalog.webhooks().unwrap().len(), 4);
}

/// Webhook messages are part of the outbox a technician looks at: `backproof outbox`
/// lists them (and its exit code counts them), `status` counts queued and rejected ones,
/// and `outbox --retry` sends a deferred one now, before its backoff has passed.
#[test]
fn webhook_messages_show_in_the_outbox_and_status_and_retry_sends_them_now() {
    let rx = Receiver::start();
    rx.answer(Answer::Status(503));
    let f = fixture(&format!(
        "\n[[webhooks]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"{}\"\nevents = [\"run.finished\"]\n",
        rx.url("/hook/secret-token")
    ));
    assert_eq!(f.backproof(&["run", "acme"]).code, 0);
    rx.wait_for("/hook/", 1, Duration::from_secs(5));

    let status = f.backproof(&["status"]);
    assert!(
        status.stdout.contains("webhooks: 1 queued, 0 rejected"),
        "{}",
        status.stdout
    );
    assert_eq!(
        f.backproof(&["status", "--json"]).json()["webhooks_queued"],
        1
    );
    let outbox = f.backproof(&["outbox"]);
    assert_eq!(
        outbox.code, 1,
        "a queued webhook is not delivered: {}",
        outbox.stdout
    );
    let line = outbox
        .stdout
        .lines()
        .find(|l| l.starts_with("run.finished"))
        .unwrap_or_else(|| panic!("no webhook listed: {}", outbox.stdout));
    assert!(line.contains("queued") && line.contains("chat:"), "{line}");
    assert!(outbox.stdout.contains("HTTP 503"), "{}", outbox.stdout);
    assert!(!outbox.stdout.contains("secret-token"), "{}", outbox.stdout);

    // The receiver is back: --retry sends it now, though its next attempt is a minute away.
    rx.answer(Answer::Status(200));
    let retry = f.backproof(&["outbox", "--retry"]);
    assert!(
        retry
            .stdout
            .contains("webhooks: 1 sent, 0 still queued, 0 rejected"),
        "{}{}",
        retry.stdout,
        retry.stderr
    );
    assert_eq!(rx.requests_to("/hook/secret-token").len(), 2);
    assert_eq!(retry.code, 0, "{}", retry.stdout);

    // Refused for good: listed as rejected and counted by status.
    rx.answer(Answer::Status(410));
    assert_eq!(f.backproof(&["run", "acme"]).code, 0);
    let status = f.backproof(&["status"]);
    assert!(
        status.stdout.contains("webhooks: 0 queued, 1 rejected"),
        "{}",
        status.stdout
    );
    let outbox = f.backproof(&["outbox"]);
    assert_eq!(outbox.code, 1);
    assert!(
        outbox
            .stdout
            .lines()
            .any(|l| l.starts_with("run.finished") && l.contains("REJECTED")),
        "{}",
        outbox.stdout
    );
}

//! A problem that opens and closes again and again is reported as flapping once, not at
//! every opening and closing.

mod common;

use std::time::Duration;

use common::receiver::Receiver;
use common::*;

/// What the receiver and the mail folder saw of a problem that opened and closed four
/// times: chat messages with [FAIL], [FIXED], [FLAPPING]; emails with [FLAPPING],
/// `] [FAIL]`, [FIXED]. With `stop`, every run stops dead after queueing its alerts and
/// before marking them queued, and the next run queues them again.
fn flap(stop: Option<&std::path::Path>) -> [usize; 6] {
    let rx = Receiver::start();
    let f = Fixture::new("sample_files = 100");
    for i in 0..3 {
        f.file(
            &format!("set/f{i:02}.bak"),
            4_000 + i * 101,
            hours(1 + 24 * i as u64),
        );
    }
    let text = std::fs::read_to_string(&f.config).unwrap();
    std::fs::write(
        &f.config,
        format!(
            "{text}[[webhooks]]\nkind = \"slack\"\nurl = \"{}\"\n",
            rx.url("/chat")
        ),
    )
    .unwrap();
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let victim = f.backups.join("set/f01.bak");
    let original = std::fs::read(&victim).unwrap();
    let mtime = std::fs::metadata(&victim).unwrap().modified().unwrap();
    let chat = |what: &str| {
        rx.requests_to("/chat")
            .iter()
            .filter(|r| r.json()["text"].as_str().unwrap_or_default().contains(what))
            .count()
    };
    let mails = |what: &str| {
        std::fs::read_dir(f.data_dir().join("mail"))
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path())
                    .unwrap()
                    .lines()
                    .any(|l| l.starts_with("Subject:") && l.contains(what))
            })
            .count()
    };
    let run = |expected: i32, round: u32| match stop {
        None => assert_eq!(f.run_json("acme", &[]).0, expected, "round {round}"),
        Some(stop) => {
            std::fs::write(stop, "alerts-queued").unwrap();
            let env = [("BACKPROOF_TEST_STOP_FILE", stop.to_str().unwrap())];
            let (out, _) =
                backproof_bounded(&f.config, &["run", "acme"], &env, Duration::from_secs(60));
            assert!(
                ![0, 1, 2].contains(&out.code),
                "round {round}: {}",
                out.stderr
            );
        }
    };
    let mut sent = 0;
    for round in 1..=4 {
        corrupt_in_place(&victim);
        run(1, round);
        std::fs::write(&victim, &original).unwrap();
        set_mtime(&victim, mtime);
        run(0, round);
        // Openings and closings sent: the first two rounds, then one flapping report.
        sent = match round {
            1 | 2 => sent + 2,
            3 => sent + 1,
            _ => sent,
        };
        if stop.is_none() {
            rx.wait_for("/chat", sent, Duration::from_secs(10));
            assert_eq!(rx.requests_to("/chat").len(), sent, "round {round}");
        }
    }
    if let Some(stop) = stop {
        // The run after the crashes queues (again) what the last one queued, and sends.
        std::fs::remove_file(stop).unwrap();
        assert_eq!(f.run_json("acme", &[]).0, 0);
        assert_eq!(f.backproof(&["outbox", "--retry"]).code, 0);
        rx.wait_for("/chat", sent, Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(rx.requests_to("/chat").len(), sent);
    }
    [
        chat("[FAIL]"),
        chat("[FIXED]"),
        chat("[FLAPPING]"),
        mails("[FLAPPING]"),
        mails("] [FAIL]"),
        mails("[FIXED]"),
    ]
}

#[test]
fn a_flapping_problem_is_reported_once() {
    let [fail, fixed, flapping, flapping_mails, fail_mails, _] = flap(None);
    assert_eq!(fail, 2);
    assert_eq!(fixed, 2);
    assert_eq!(flapping, 1);
    assert_eq!(flapping_mails, 1, "one flapping email");
    // The run reports themselves still go out for every failing run.
    assert_eq!(fail_mails, 4);
}

/// Alerts queued again after a crash (between queueing them and marking them queued) are
/// not sent twice: the same chat messages and emails as without the crashes.
#[test]
fn alerts_queued_again_after_a_crash_are_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let stop = dir.path().join("stop");
    let calm = flap(None);
    assert_eq!(flap(Some(&stop)), calm);
}

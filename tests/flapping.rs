//! A problem that opens and closes again and again is reported as flapping once, not at
//! every opening and closing.

mod common;

use std::time::Duration;

use common::receiver::Receiver;
use common::*;

#[test]
fn a_flapping_problem_is_reported_once() {
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
    let mut sent = 0;
    for round in 1..=4 {
        corrupt_in_place(&victim);
        assert_eq!(f.run_json("acme", &[]).0, 1, "round {round}");
        std::fs::write(&victim, &original).unwrap();
        set_mtime(&victim, mtime);
        assert_eq!(f.run_json("acme", &[]).0, 0, "round {round}");
        // Openings and closings sent: the first two rounds, then one flapping report.
        sent = match round {
            1 | 2 => sent + 2,
            3 => sent + 1,
            _ => sent,
        };
        rx.wait_for("/chat", sent, Duration::from_secs(10));
        assert_eq!(rx.requests_to("/chat").len(), sent, "round {round}");
    }
    assert_eq!(chat("[FAIL]"), 2);
    assert_eq!(chat("[FIXED]"), 2);
    assert_eq!(chat("[FLAPPING]"), 1);
    assert_eq!(mails("[FLAPPING]"), 1, "one flapping email");
    // The run reports themselves still go out for every failing run.
    assert_eq!(mails("] [FAIL]"), 4);
}

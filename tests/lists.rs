//! Lists that grow: `history` and `outbox` show the newest 20 by default, `--limit N`,
//! `--all`, and `outbox --pending`; a message not delivered is never hidden by the limit.

mod common;

use common::servers::{SMTP_PASSWORD, Smtp};
use common::{Fixture, hours};

fn rows<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn history_shows_the_newest_runs_and_says_there_are_more() {
    let f = Fixture::new("");
    f.file("a.bak", 1000, hours(1));
    let ids: Vec<String> = (0..3)
        .map(|_| {
            f.run_json("acme", &[]).1["run_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let out = f.backproof(&["history", "acme", "--limit", "2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&ids[2]) && out.stdout.contains(&ids[1]),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(&ids[0]), "{}", out.stdout);
    assert!(out.stdout.contains("--all"), "{}", out.stdout);
    let out = f.backproof(&["history", "acme", "--all"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        ids.iter().all(|id| out.stdout.contains(id)),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("--all"), "{}", out.stdout);
}

#[test]
fn outbox_pages_newest_first_and_pending_shows_what_is_still_to_go() {
    let f = Fixture::empty();
    f.file("a.bak", 1000, hours(1));
    f.write_job(
        "acme",
        &format!(
            "client = \"Acme\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"30 2 * * *\"\nnotify = \"always\"\n[[targets]]\nname = \"nas\"\nurl = \"file://{}\"\n",
            f.backups.display()
        ),
    );
    // Two reports written as files (no [smtp]): delivered.
    for _ in 0..2 {
        assert_eq!(f.run_json("acme", &[]).0, 0);
    }
    // Then a mail server that is down: the third report stays queued.
    let mut smtp = Smtp::start();
    let pw = f.secret("smtp.secret", SMTP_PASSWORD);
    std::fs::write(
        &f.config,
        format!("data_dir = \"data\"\n{}", smtp.config(&pw)),
    )
    .unwrap();
    smtp.stop();
    assert_eq!(f.run_json("acme", &[]).0, 0);

    let out = f.backproof(&["outbox", "--limit", "1"]);
    let shown = rows(&out.stdout, "report ");
    assert_eq!(shown.len(), 1, "{}", out.stdout);
    assert!(shown[0].contains("queued"), "the newest: {}", out.stdout);
    assert!(
        out.stdout.contains("the newest 1 of 3 messages"),
        "{}",
        out.stdout
    );
    assert_eq!(out.code, 1, "the queued message decides the exit code");

    let out = f.backproof(&["outbox", "--pending"]);
    assert_eq!(rows(&out.stdout, "report ").len(), 1, "{}", out.stdout);
    assert_eq!(out.code, 1);

    let out = f.backproof(&["outbox", "--all"]);
    let shown = rows(&out.stdout, "report ");
    assert_eq!(shown.len(), 3, "{}", out.stdout);
    assert!(shown[0].contains("queued"), "newest first: {}", out.stdout);
    assert!(shown[1].contains("file only"), "{}", out.stdout);
}

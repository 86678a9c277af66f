//! Retention on real runs: it prunes a job's oldest runs and their evidence files, never
//! a run an open problem, the outbox or the newest state needs, and the evidence chain
//! still verifies from the pruned prefix's anchor (and still catches an edited file).
//! Runs are made by the real binary; retention is asked with a clock some weeks ahead.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;

use backproof::app::retention::{Retention, prune_job};
use backproof::catalog::{Catalog, Delivery, MailKind, OutboxItem, RECORD_SCHEMA};
use chrono::{Duration, Utc};
use common::{Fixture, corrupt_in_place, hours};

/// A job with `runs` passing runs; returns the fixture and the run ids, oldest first.
fn history(runs: usize) -> (Fixture, Vec<String>) {
    let f = Fixture::new("sample_files = 100");
    f.file("a.tar", 1000, hours(1));
    let ids = (0..runs).map(|_| run(&f, 0)).collect();
    (f, ids)
}

fn run(f: &Fixture, expect: i32) -> String {
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, expect, "{ev:#}");
    ev["run_id"].as_str().unwrap().to_string()
}

fn evidence_file(f: &Fixture, run_id: &str) -> PathBuf {
    f.data_dir()
        .join("evidence/acme")
        .join(format!("{run_id}.json"))
}

/// Prunes acme as retention would `days` from now; returns the runs left, oldest first.
fn prune(f: &Fixture, keep_days: i64, max_runs: u64, days: i64) -> (usize, Vec<String>) {
    let catalog = Catalog::open(&f.data_dir()).unwrap();
    let policy = Retention {
        keep: Duration::days(keep_days),
        max_runs_per_job: max_runs,
    };
    let now = Utc::now() + Duration::days(days);
    let pruned = prune_job(&catalog, &f.data_dir(), "acme", policy, None, now, 10).unwrap();
    let mut left = catalog.run_ids_of_job("acme").unwrap();
    left.reverse();
    (pruned, left)
}

#[test]
fn old_runs_go_with_their_files_and_the_chain_still_verifies() {
    let (f, ids) = history(5);
    // Nothing goes while the runs are recent, whatever the limits.
    assert_eq!(prune(&f, 1, 1, 0), (0, ids.clone()));

    // Three weeks on, with 10 days kept: all but the newest finished run go.
    let (pruned, left) = prune(&f, 10, 1000, 21);
    assert_eq!((pruned, left), (4, vec![ids[4].clone()]));
    for id in &ids[..4] {
        assert!(!evidence_file(&f, id).exists(), "{id}: its file stayed");
    }
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("intact: 1 document")
            && out.stdout.contains(&format!(
                "4 older runs up to {} were pruned by retention",
                ids[3]
            ))
            && out.stdout.contains(&format!("the seal of run {}", ids[3])),
        "{}",
        out.stdout
    );

    // The next run seals the remaining one; the chain holds across the prune.
    let next = run(&f, 0);
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("intact: 2 documents"), "{}", out.stdout);

    // An edited evidence file is still caught.
    let file = evidence_file(&f, &next);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("\"pass\"", "\"fail\"", 1)).unwrap();
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("BROKEN at run {next}"))
            && out.stdout.contains("pruned by retention"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_count_limit_keeps_the_newest_runs() {
    let (f, ids) = history(5);
    // Kept for years, but at most 2 runs: the 3 oldest go once they are old enough.
    assert_eq!(prune(&f, 3650, 2, 21), (3, ids[3..].to_vec()));
    assert_eq!(prune(&f, 3650, 2, 21), (0, ids[3..].to_vec()));
}

#[test]
fn a_run_an_open_problem_names_stays_and_so_do_the_runs_after_it() {
    let (f, mut ids) = history(2);
    corrupt_in_place(&f.backups.join("a.tar"));
    ids.push(run(&f, 1)); // opens the corruption problem
    ids.push(run(&f, 1)); // sees it again
    let (pruned, left) = prune(&f, 10, 1000, 21);
    assert_eq!((pruned, left), (2, ids[2..].to_vec()));
    // Acknowledged, it is still open: its run stays.
    let out = f.backproof(&["ack", "acme", "--reason", "disk replaced Monday"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(prune(&f, 10, 1000, 21), (0, ids[2..].to_vec()));
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn a_run_the_outbox_reports_on_stays() {
    let (f, ids) = history(4);
    {
        let catalog = Catalog::open(&f.data_dir()).unwrap();
        catalog
            .put_outbox(&OutboxItem {
                v: RECORD_SCHEMA,
                id: "00000000000000000001-report".into(),
                kind: MailKind::RunReport,
                job: Some("acme".into()),
                run_id: Some(ids[1].clone()),
                subject: "report".into(),
                message_id: "<report@example.com>".into(),
                from: "backproof@example.com".into(),
                to: vec!["noc@example.com".into()],
                message: String::new(),
                created: Utc::now(),
                delivery: Delivery::Pending,
                attempts: 0,
                next_attempt: Utc::now(),
                last_error: None,
                claim: None,
            })
            .unwrap();
    }
    let (pruned, left) = prune(&f, 10, 1000, 21);
    assert_eq!((pruned, left), (1, ids[1..].to_vec()));
    let gone: HashSet<_> = [ids[0].clone()].into();
    assert!(gone.iter().all(|id| !evidence_file(&f, id).exists()));
    assert!(evidence_file(&f, &ids[1]).exists());
}

/// `backproof compact` rewrites the catalog into a fresh file: the history, the evidence
/// chain, the listing drift compares with and the open problems all come through it,
/// and the next run still catches what changed since the run before the compaction.
#[test]
fn a_compacted_catalog_still_knows_the_history_the_listing_and_the_problems() {
    let f = Fixture::new("sample_files = 1");
    for i in 0..200 {
        f.file(&format!("set/{i:03}.bak"), 100, hours(2));
    }
    f.file("set/newest.bak", 100, hours(1));
    let first = run(&f, 0);
    corrupt_in_place(&f.backups.join("set/newest.bak"));
    let failed = run(&f, 1);

    let out = f.backproof(&["compact"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with("catalog compacted: ")
            && out.stdout.contains("records copied and checked"),
        "{}",
        out.stdout
    );
    for leftover in ["catalog.compact", "catalog.compact.done", "catalog.old"] {
        assert!(!f.data_dir().join(leftover).exists(), "{leftover}");
    }

    // The history and the chain.
    let catalog = Catalog::open(&f.data_dir()).unwrap();
    let mut ids = catalog.run_ids_of_job("acme").unwrap();
    ids.reverse();
    assert_eq!(ids, vec![first, failed]);
    drop(catalog);
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("intact: 2 documents"), "{}", out.stdout);

    // The listing: a file that vanishes after the compaction is reported by name. The
    // open problem: the corrupt file still fails the run.
    std::fs::remove_file(f.backups.join("set/007.bak")).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = common::target(&ev, "nas");
    assert_eq!(t["drift"]["vanished"][0]["path"], "set/007.bak", "{t:#}");
    let kinds = common::problem_kinds(t);
    assert!(kinds.iter().any(|k| k == "corruption"), "{kinds:?}");
}

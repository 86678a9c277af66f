//! `backproof verify-evidence`: every evidence file on disk is checked against the chain,
//! not only the newest; removed, forged and unknown documents are named; it works while
//! the daemon holds the catalog.

mod common;

use std::path::PathBuf;

use backproof::catalog::Catalog;
use backproof::evidence::{RunEvidence, Verdict};
use common::{Fixture, hours};

/// A job with `runs` finished runs; returns the fixture and the run ids, oldest first.
fn history(runs: usize) -> (Fixture, Vec<String>) {
    let f = Fixture::new("sample_files = 100");
    f.file("a.tar", 1000, hours(1));
    let ids = (0..runs)
        .map(|_| {
            let (code, ev) = f.run_json("acme", &[]);
            assert_eq!(code, 0, "{ev:#}");
            ev["run_id"].as_str().unwrap().to_string()
        })
        .collect();
    (f, ids)
}

fn evidence_file(f: &Fixture, run_id: &str) -> PathBuf {
    f.data_dir()
        .join("evidence/acme")
        .join(format!("{run_id}.json"))
}

/// Rewrites a document the way a tamperer would: another verdict and host.
fn forged(bytes: &[u8]) -> Vec<u8> {
    let mut ev: RunEvidence = serde_json::from_slice(bytes).unwrap();
    ev.verdict = Some(Verdict::Pass);
    ev.host = "elsewhere".into();
    serde_json::to_vec(&ev).unwrap()
}

/// Runs verify-evidence, which must find the chain broken; returns its report.
fn broken(f: &Fixture) -> String {
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("intact"), "{}", out.stdout);
    out.stdout
}

#[test]
fn an_edited_older_evidence_file_is_caught() {
    let (f, ids) = history(4);
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("intact: 4 documents"), "{}", out.stdout);

    let file = evidence_file(&f, &ids[1]);
    std::fs::write(&file, forged(&std::fs::read(&file).unwrap())).unwrap();
    let report = broken(&f);
    assert!(
        report.contains(&format!("BROKEN at run {}", ids[1]))
            && report.contains(&format!("{} differs", file.display())),
        "{report}"
    );
}

#[test]
fn missing_and_unknown_evidence_files_are_caught() {
    let (f, ids) = history(3);
    let gone = evidence_file(&f, &ids[0]);
    std::fs::remove_file(&gone).unwrap();
    let planted = evidence_file(&f, "20200101-000000-beef");
    std::fs::copy(evidence_file(&f, &ids[2]), &planted).unwrap();
    let report = broken(&f);
    assert!(
        report.contains(&format!("BROKEN at run {}", ids[0]))
            && report.contains(&format!("{} is missing", gone.display())),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "{} is not a finished run of the job in the catalog",
            planted.display()
        )),
        "{report}"
    );
}

#[test]
fn removing_the_oldest_run_from_the_catalog_is_caught() {
    let (f, ids) = history(3);
    {
        let catalog = Catalog::open(&f.data_dir()).unwrap();
        assert!(catalog.remove_run(&ids[0]).unwrap());
        catalog.flush().unwrap();
    }
    let report = broken(&f);
    assert!(
        report.contains(&format!("BROKEN at run {}", ids[1]))
            && report.contains(&format!("it seals run {}", ids[0])),
        "{report}"
    );
    // Its file is still there, and now belongs to no run of the catalog.
    assert!(
        report.contains(&format!(
            "{} is not a finished run",
            evidence_file(&f, &ids[0]).display()
        )),
        "{report}"
    );
}

#[test]
fn a_forged_newest_document_is_caught() {
    let (f, ids) = history(3);
    let head = &ids[2];
    // In the catalog: the head has no successor to seal it, only its file.
    {
        let catalog = Catalog::open(&f.data_dir()).unwrap();
        let doc = catalog.run_document(head).unwrap().unwrap();
        let ev: RunEvidence = serde_json::from_slice(&forged(&doc)).unwrap();
        catalog
            .finish_run(
                &ev,
                &forged(&doc),
                None,
                &backproof::catalog::RunCommit::default(),
            )
            .unwrap();
        catalog.flush().unwrap();
    }
    let report = broken(&f);
    assert!(
        report.contains(&format!("BROKEN at run {head}")) && report.contains("differs"),
        "{report}"
    );

    // On disk only.
    let (f, ids) = history(2);
    let file = evidence_file(&f, &ids[1]);
    std::fs::write(&file, forged(&std::fs::read(&file).unwrap())).unwrap();
    let report = broken(&f);
    assert!(
        report.contains(&format!("BROKEN at run {}", ids[1])) && report.contains("differs"),
        "{report}"
    );
}

#[test]
fn verify_evidence_works_while_the_daemon_holds_the_catalog() {
    let (f, ids) = history(2);
    let daemon = common::daemon::Daemon::start(&f, "");
    let out = f.backproof(&["verify-evidence", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("intact: 2 documents") && out.stdout.contains(&ids[1]),
        "{}",
        out.stdout
    );
    let file = evidence_file(&f, &ids[0]);
    std::fs::write(&file, forged(&std::fs::read(&file).unwrap())).unwrap();
    let report = broken(&f);
    assert!(
        report.contains(&format!("BROKEN at run {}", ids[0])),
        "{report}"
    );
    drop(daemon);
}

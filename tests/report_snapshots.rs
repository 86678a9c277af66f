//! Snapshot tests of the report emails: the text and HTML rendered from real evidence
//! documents (tests/snapshots/evidence_*.json, from two runs of the demo) must match the
//! files beside them. After an intended change, regenerate with
//! `UPDATE_SNAPSHOTS=1 cargo test --test report_snapshots` and review the diff.

use std::path::PathBuf;

use backproof::evidence::RunEvidence;
use backproof::report::digest::{self, Digest};
use backproof::report::email::{self, ReportContext};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

fn evidence(name: &str) -> RunEvidence {
    serde_json::from_str(&std::fs::read_to_string(dir().join(name)).unwrap()).unwrap()
}

fn check(name: &str, actual: &str) {
    let path = dir().join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 creates it)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its snapshot at line {}:\n expected: {:?}\n   actual: {:?}\n(UPDATE_SNAPSHOTS=1 to accept)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

const CTX: ReportContext<'static> = ReportContext {
    hash: "c6ba1f8d8ec568ac5f58c91ef2536d4fcad4e228b2a4088b5d00b7946bdd867d",
    attachment: "backproof-acme-dental-20261127-213046-e2da.json",
    recovery: false,
};

#[test]
fn failing_report_text_and_html() {
    let ev = evidence("evidence_fail.json");
    assert_eq!(
        email::subject(&ev, false),
        "[FAIL] Acme Dental: 1 corrupt file on nas"
    );
    check("report_fail.txt", &email::text(&ev, &CTX));
    check("report_fail.html", &email::html(&ev, &CTX));
}

#[test]
fn passing_report_text() {
    let ev = evidence("evidence_pass.json");
    check("report_pass.txt", &email::text(&ev, &CTX));
}

#[test]
fn weekly_digest_text_and_html() {
    let runs = [
        evidence("evidence_pass.json"),
        evidence("evidence_fail.json"),
    ];
    let now = runs[1].finished_at.unwrap() + chrono::Duration::hours(1);
    let d = Digest::build("Acme Dental", "acme-dental", &runs, Vec::new(), now);
    assert_eq!((d.runs, d.passed, d.failed), (2, 1, 1));
    check("digest.txt", &digest::text(&d));
    check("digest.html", &digest::html(&d));
}

#[test]
fn evidence_of_the_first_schema_still_renders() {
    // Documents written before findings and open problems existed (schema 1).
    for name in ["evidence_v1_fail.json", "evidence_v1_pass.json"] {
        let ev = evidence(name);
        assert_eq!(ev.schema, 1);
        assert!(ev.targets.iter().all(|t| t.findings.is_empty()));
        let text = email::text(&ev, &CTX);
        assert!(text.contains(&ev.run_id), "{text}");
    }
    let ev = evidence("evidence_v1_fail.json");
    assert_eq!(
        email::subject(&ev, false),
        "[FAIL] Acme Dental: 0 of 1 backup target verified"
    );
}

#[test]
fn untrusted_names_are_escaped_in_html() {
    let mut ev = evidence("evidence_fail.json");
    ev.targets[0].files[0].path = "<script>alert(1)</script>\u{1b}[31m.tar".into();
    ev.client = "Acme & <Sons>".into();
    let html = email::html(&ev, &CTX);
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\u{1b}[31m.tar"));
    assert!(html.contains("Acme &amp; &lt;Sons&gt;"));
}

//! A proven problem outranks a missing proof wherever verdicts combine, through the real
//! binary: a target, a job, the exit code of `run`, the report email's subject, the
//! terminal report, `history` and `status`.

mod common;

use common::*;

/// Job `acme` with two targets: `nas` (the backup folder) and `usb` (a folder that can be
/// made to vanish, as an unmounted disk does).
fn two_targets() -> Fixture {
    let f = Fixture::empty();
    let usb = f.dir.path().join("usb");
    std::fs::create_dir_all(&usb).unwrap();
    f.job_with_target(
        "sample_files = 100",
        &format!(
            "name = \"nas\"\nurl = \"file://{}\"\n\n[[targets]]\nname = \"usb\"\nurl = \"file://{}\"",
            f.backups.display(),
            usb.display()
        ),
    );
    f.file("a.tar", 10_000, hours(1));
    f.file("b.tar", 10_000, hours(2));
    std::fs::write(usb.join("c.tar"), vec![7u8; 5000]).unwrap();
    f
}

/// The subjects of the report emails written so far (no `[smtp]`: `.eml` files).
fn subjects(f: &Fixture) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(f.data_dir().join("mail"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let text = std::fs::read_to_string(e.path()).ok()?;
                    let line = text.lines().find(|l| l.starts_with("Subject: "))?;
                    Some(line["Subject: ".len()..].to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn a_corrupt_file_outranks_an_unreachable_target_everywhere() {
    let f = two_targets();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    // nas: one file corrupt (proven); usb: gone (could not verify).
    corrupt_in_place(&f.backups.join("a.tar"));
    std::fs::remove_dir_all(f.dir.path().join("usb")).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "fail, not 2: {ev:#}");
    assert_eq!(ev["verdict"], "fail");
    assert_eq!(target(&ev, "nas")["verdict"], "fail");
    assert_eq!(target(&ev, "usb")["verdict"], "error");
    assert_eq!(target(&ev, "nas")["findings"][0]["kind"], "corruption");

    let subjects = subjects(&f);
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(
        subjects[0].starts_with("[BP-")
            && subjects[0].contains("] [FAIL] Acme Dental: 1 corrupt file on nas"),
        "{subjects:?}"
    );

    let run_id = ev["run_id"].as_str().unwrap();
    let show = f.backproof(&["show", run_id]);
    assert!(
        show.stdout
            .contains("\nFAIL: 1 corrupt file on nas (+1 more problem)\n"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("Verdict: FAIL"), "{}", show.stdout);
    let history = f.backproof(&["history", "acme"]);
    assert!(
        history.stdout.lines().nth(1).unwrap().contains("FAIL"),
        "{}",
        history.stdout
    );

    let status = f.backproof(&["status", "--json"]);
    assert_eq!(status.code, 1, "{}", status.stdout);
    assert_eq!(status.json()["rows"][0]["state"], "problem");
    assert_eq!(status.json()["rows"][0]["verdict"], "fail");
}

mod rules {
    //! The verdict rules themselves, on the library's types.

    use backproof::evidence::{
        CheckKind, Finding, ProblemKind, RunEvidence, RunStatus, SampledFile, Verdict,
    };

    const ALL: [Verdict; 4] = [Verdict::Pass, Verdict::Warn, Verdict::Error, Verdict::Fail];

    #[test]
    fn verdicts_rank_fail_over_error_over_warn_over_pass() {
        assert_eq!(Verdict::worst(ALL), Some(Verdict::Fail));
        assert_eq!(
            Verdict::worst([Verdict::Error, Verdict::Fail]),
            Some(Verdict::Fail)
        );
        assert_eq!(
            Verdict::worst([Verdict::Warn, Verdict::Error]),
            Some(Verdict::Error)
        );
        assert_eq!(
            Verdict::worst([Verdict::Pass, Verdict::Warn]),
            Some(Verdict::Warn)
        );
        assert_eq!(Verdict::worst([Verdict::Pass]), Some(Verdict::Pass));
        assert_eq!(Verdict::worst([]), None, "no verdict is not a pass");
        let codes: Vec<u8> = ALL.iter().map(|v| v.exit_code()).collect();
        assert_eq!(codes, vec![0, 0, 2, 1]);
        let labels: Vec<String> = ALL.iter().map(|v| v.to_string()).collect();
        assert_eq!(labels, vec!["PASS", "WARN", "ERROR", "FAIL"]);
    }

    fn finding(kind: ProblemKind, verdict: Verdict) -> Finding {
        Finding {
            kind,
            check: CheckKind::Restore,
            verdict,
            summary: String::new(),
            files: 0,
            paths: Vec::new(),
        }
    }

    #[test]
    fn findings_rank_proven_first_then_by_severity() {
        let mut found = [
            finding(ProblemKind::Other, Verdict::Warn),
            finding(ProblemKind::NotVerified, Verdict::Error),
            finding(ProblemKind::Stale, Verdict::Fail),
            finding(ProblemKind::Vanished, Verdict::Fail),
            finding(ProblemKind::Corruption, Verdict::Fail),
            finding(ProblemKind::Tampering, Verdict::Fail),
        ];
        found.sort_by_key(Finding::rank);
        let order: Vec<(ProblemKind, Verdict)> =
            found.iter().map(|f| (f.kind, f.verdict)).collect();
        assert_eq!(
            order,
            vec![
                (ProblemKind::Corruption, Verdict::Fail),
                (ProblemKind::Tampering, Verdict::Fail),
                (ProblemKind::Vanished, Verdict::Fail),
                (ProblemKind::Stale, Verdict::Fail),
                (ProblemKind::NotVerified, Verdict::Error),
                (ProblemKind::Other, Verdict::Warn),
            ]
        );
        // Within a verdict, the tier decides before the kind's order.
        let mut found = [
            finding(ProblemKind::Manifest, Verdict::Fail),
            finding(ProblemKind::Repository, Verdict::Fail),
        ];
        found.sort_by_key(Finding::rank);
        assert_eq!(found[0].kind, ProblemKind::Repository);
    }

    #[test]
    fn problem_kinds_have_tiers_and_only_proven_ones_stay_open() {
        use ProblemKind::*;
        let tiers: Vec<u8> = [
            Corruption,
            Tampering,
            FailedRestore,
            Canary,
            Repository,
            Vanished,
            Shrunken,
            Stale,
            Manifest,
            SourceMismatch,
            NotVerified,
            Other,
        ]
        .iter()
        .map(|k| k.tier())
        .collect();
        assert_eq!(tiers, vec![0, 0, 0, 0, 0, 1, 1, 2, 3, 3, 3, 3]);
        assert!(Corruption.is_sticky() && Stale.is_sticky() && Shrunken.is_sticky());
        assert!(!NotVerified.is_sticky() && !Other.is_sticky());
        assert_eq!(FailedRestore.label(), "failed restore");
        // Keys are stable, short, and differ per job, target and kind.
        let k = Corruption.key("acme", "nas");
        assert_eq!(k, Corruption.key("acme", "nas"));
        assert_eq!(k.len(), 8);
        assert!(k.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(k, Stale.key("acme", "nas"));
        assert_ne!(k, Corruption.key("acme", "usb"));
        assert_ne!(k, Corruption.key("acme2", "nas"));
        assert_eq!(CheckKind::Problems.label(), "problems");
    }

    #[test]
    fn only_a_finished_run_has_the_verdict_it_recorded() {
        let mut ev: RunEvidence = serde_json::from_value(serde_json::json!({
            "schema": 2, "run_id": "r", "job": "acme", "client": "Acme", "host": "h",
            "backproof_version": "0", "trigger": "manual",
            "started_at": "2026-11-28T10:00:00Z", "finished_at": null,
            "status": "finished", "verdict": "warn", "seed": 1, "targets": []
        }))
        .unwrap();
        assert_eq!(ev.effective_verdict(), Verdict::Warn);
        ev.verdict = Some(Verdict::Fail);
        assert_eq!(ev.effective_verdict(), Verdict::Fail);
        ev.status = RunStatus::Interrupted;
        assert_eq!(ev.effective_verdict(), Verdict::Error);
        ev.status = RunStatus::Finished;
        ev.verdict = None;
        assert_eq!(ev.effective_verdict(), Verdict::Error);
        assert_eq!(ev.trigger.to_string(), "manual");
    }

    #[test]
    fn a_file_is_verified_only_when_restored_and_as_expected() {
        let mut f: SampledFile = serde_json::from_value(serde_json::json!({
            "path": "a", "size": 1, "modified": "2026-11-28T10:00:00Z",
            "picked": "newest", "expected": {"kind": "first_seen"},
            "streamed_blake3": "ab", "restored_blake3": "ab",
            "bytes": 1, "seconds": 0.1, "verdict": "pass", "reason": ""
        }))
        .unwrap();
        assert!(f.verified());
        f.verdict = Verdict::Warn;
        assert!(f.verified());
        f.verdict = Verdict::Fail;
        assert!(!f.verified());
        f.verdict = Verdict::Error;
        assert!(!f.verified());
        // A warning without bytes read (the file vanished first) proves nothing.
        f.verdict = Verdict::Warn;
        f.streamed_blake3 = None;
        assert!(!f.verified());
        // Optional fields stay out of the evidence when empty, and appear when set.
        let json = serde_json::to_value(&f).unwrap();
        assert!(json.get("second_read_bytes").is_none(), "{json}");
        f.second_read_bytes = 5;
        assert_eq!(serde_json::to_value(&f).unwrap()["second_read_bytes"], 5);
    }

    #[test]
    fn acknowledged_problems_are_told_apart() {
        let problem = |key: &str, ack: serde_json::Value| {
            serde_json::json!({
                "key": key, "kind": "stale", "summary": "old",
                "opened_run": "r1", "opened_at": "2026-11-28T10:00:00Z",
                "last_seen_run": "r1", "last_seen_at": "2026-11-28T10:00:00Z",
                "observed": true, "new": true, "files": 0, "acknowledged": ack
            })
        };
        let t: backproof::evidence::TargetEvidence = serde_json::from_value(serde_json::json!({
            "name": "nas", "location": "/x", "verdict": "warn", "summary": "",
            "checks": [], "inventory": null, "drift": null, "coverage": null,
            "restore": null, "files": [],
            "problems": [
                problem("aaaaaaaa", serde_json::Value::Null),
                problem("bbbbbbbb", serde_json::json!({
                    "by": "ann", "at": "2026-11-28T10:00:00Z", "reason": "moved",
                    "until": null
                })),
            ]
        }))
        .unwrap();
        let keys: Vec<&str> = t
            .unacknowledged_problems()
            .map(|p| p.key.as_str())
            .collect();
        assert_eq!(keys, vec!["aaaaaaaa"]);
    }
}

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
        subjects[0].starts_with("[FAIL] Acme Dental: 1 corrupt file on nas"),
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

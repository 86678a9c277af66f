//! PSA-ready email: the problem's key in every subject, every later message about the
//! problem threaded under the report that opened it, one closing message per alerted
//! problem, and `technicians_by_severity`.

mod common;

use common::*;

/// (Subject, To, Message-ID, In-Reply-To, References, text) of every message written.
fn mails(f: &Fixture) -> Vec<[String; 6]> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(f.data_dir().join("mail"))
        .unwrap()
        .flatten()
    {
        let bytes = std::fs::read(e.path()).unwrap();
        let m = mailparse::parse_mail(&bytes).unwrap();
        use mailparse::MailHeaderMap;
        let h = |n: &str| m.headers.get_first_value(n).unwrap_or_default();
        let text = m
            .subparts
            .iter()
            .flat_map(|p| std::iter::once(p).chain(p.subparts.iter()))
            .find(|p| p.ctype.mimetype == "text/plain")
            .map(|p| p.get_body().unwrap())
            .unwrap_or_default();
        out.push([
            h("Subject"),
            h("To"),
            h("Message-ID"),
            h("In-Reply-To"),
            h("References"),
            text,
        ]);
    }
    out
}

fn find<'a>(all: &'a [[String; 6]], subject_part: &str) -> Vec<&'a [String; 6]> {
    all.iter().filter(|m| m[0].contains(subject_part)).collect()
}

#[test]
fn one_problem_one_thread_from_the_failure_to_its_closing_message() {
    let f = two_target_fixture("");
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let nas_file = f.backups.join("set/f01.bak");
    let usb_file = f.dir.path().join("usb/u01.bak");
    let (nas_orig, usb_orig) = (
        std::fs::read(&nas_file).unwrap(),
        std::fs::read(&usb_file).unwrap(),
    );
    let (nas_mtime, usb_mtime) = (
        std::fs::metadata(&nas_file).unwrap().modified().unwrap(),
        std::fs::metadata(&usb_file).unwrap().modified().unwrap(),
    );
    corrupt_in_place(&nas_file);
    corrupt_in_place(&usb_file);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    let opening_run = ev["run_id"].as_str().unwrap().to_string();
    let all = mails(&f);
    let opening = find(&all, "[FAIL]");
    assert_eq!(opening.len(), 1, "{all:#?}");
    let opening_id = opening[0][2].clone();
    assert!(opening_id.contains(&opening_run));
    let key_of = |s: &str| {
        s.split(']')
            .next()
            .unwrap()
            .trim_start_matches('[')
            .to_string()
    };
    let lead = key_of(&opening[0][0]);
    assert!(
        lead.starts_with("BP-") && lead.len() == 11,
        "{}",
        opening[0][0]
    );
    assert!(
        opening[0][3].is_empty(),
        "the opening report replies to nothing"
    );

    // Still failing: the next report carries the same key and replies to the first.
    assert_eq!(f.run_json("acme", &[]).0, 1);
    let all = mails(&f);
    let fails = find(&all, "[FAIL]");
    assert_eq!(fails.len(), 2);
    let repeat = fails.iter().find(|m| m[2] != opening_id).unwrap();
    assert_eq!(key_of(&repeat[0]), lead);
    assert_eq!(repeat[3], opening_id);
    assert_eq!(repeat[4], opening_id);

    // The problem the report does not lead with is fixed (the run still fails): its own
    // closing message, threaded, saying what was wrong, since when and what fixed it.
    let usb_key = ev["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "usb")
        .map(|t| format!("BP-{}", t["problems"][0]["key"].as_str().unwrap()))
        .unwrap();
    // Fix the target whose problem the reports do not lead with.
    let (path, orig, mtime) = if usb_key == lead {
        (&nas_file, &nas_orig, nas_mtime)
    } else {
        (&usb_file, &usb_orig, usb_mtime)
    };
    std::fs::write(path, orig).unwrap();
    set_mtime(path, mtime);
    assert_eq!(f.run_json("acme", &[]).0, 1);
    let all = mails(&f);
    let fixed = find(&all, "[FIXED]");
    assert_eq!(fixed.len(), 1, "{all:#?}");
    assert_ne!(key_of(&fixed[0][0]), lead);
    assert_eq!(fixed[0][3], opening_id);
    let text = &fixed[0][5];
    assert!(
        text.contains("What was wrong:")
            && text.contains("Open since:")
            && text.contains("What fixed it:"),
        "{text}"
    );

    // The other is fixed too: the recovery report is the lead problem's closing message,
    // in its thread; no second [FIXED] notice.
    for (p, orig, mtime) in [
        (&nas_file, &nas_orig, nas_mtime),
        (&usb_file, &usb_orig, usb_mtime),
    ] {
        std::fs::write(p, orig).unwrap();
        set_mtime(p, mtime);
    }
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let all = mails(&f);
    let pass = find(&all, "[PASS]");
    assert_eq!(pass.len(), 1, "{all:#?}");
    assert_eq!(key_of(&pass[0][0]), lead, "{}", pass[0][0]);
    assert!(pass[0][0].ends_with("verified again"));
    assert_eq!(pass[0][3], opening_id);
    assert_eq!(find(&all, "[FIXED]").len(), 1);
}

#[test]
fn technicians_by_severity_sends_failures_to_the_psa_and_warnings_elsewhere() {
    let f = two_target_fixture(
        "notify = \"always\"\n[technicians_by_severity]\nfail = [\"psa@msp.example\"]\nwarn = [\"soft@msp.example\"]",
    );
    let out = f.backproof(&["check-config"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("set/f02.bak"));
    assert_eq!(f.run_json("acme", &[]).0, 1);
    let all = mails(&f);
    let pass = find(&all, "[PASS]");
    let fail = find(&all, "[FAIL]");
    assert_eq!((pass.len(), fail.len()), (1, 1), "{all:#?}");
    assert_eq!(
        pass[0][1], "soft@msp.example",
        "a routine pass goes to the warn list"
    );
    assert_eq!(
        fail[0][1], "psa@msp.example",
        "a failure goes to the fail list"
    );
}

//! No false reassurance: drift compares with the last finished run only, a proven problem
//! stays open until the evidence shows it fixed or a technician acknowledges it,
//! vanishing is judged against the retention, the worst finding leads every report, and
//! the owner's summary and `status` say only what the evidence shows.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// `n` backup files `set/f00.bak`..., the newest 1 hour old, each a day older than the
/// one before.
fn backup_set(policy: &str, n: usize) -> Fixture {
    let f = Fixture::new(policy);
    for i in 0..n {
        f.file(
            &format!("set/f{i:02}.bak"),
            4_000 + i * 101,
            hours(1 + 24 * i as u64),
        );
    }
    f
}

/// Subjects of the messages written to `<data_dir>/mail` (no SMTP configured), in the
/// order they were queued.
fn mail_subjects(f: &Fixture) -> Vec<String> {
    let dir = f.data_dir().join("mail");
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .map(|(_, p)| {
            let bytes = std::fs::read(&p).unwrap();
            let m = mailparse::parse_mail(&bytes).unwrap();
            m.headers
                .iter()
                .find(|h| h.get_key() == "Subject")
                .map(|h| h.get_value())
                .unwrap_or_default()
        })
        .collect()
}

/// Moves a file out of the backup set and returns where it went.
fn move_out(f: &Fixture, rel: &str) -> PathBuf {
    let aside = f.dir.path().join("aside").join(rel);
    std::fs::create_dir_all(aside.parent().unwrap()).unwrap();
    std::fs::rename(f.backups.join(rel), &aside).unwrap();
    aside
}

fn move_back(f: &Fixture, rel: &str, aside: &Path) {
    std::fs::rename(aside, f.backups.join(rel)).unwrap();
}

fn problems(t: &Value) -> Vec<&Value> {
    t["problems"].as_array().unwrap().iter().collect()
}

fn kinds(t: &Value, field: &str) -> Vec<String> {
    t[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A run restoring a sparse 64 GiB newest file, caught mid-restore.
fn start_run_restoring_a_huge_file(f: &Fixture) -> (PathBuf, std::process::Child) {
    let big = f.backups.join("set/huge.img");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let child = spawn_run(f, "acme");
    wait_restoring(f);
    (big, child)
}

fn interrupted_run_keeps_drift(stop: impl Fn(&mut std::process::Child)) {
    let f = backup_set(
        "sample_bytes = \"1TB\"\ncount_drop_percent = 90\nsize_drop_percent = 90",
        8,
    );
    let (code, first) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{first:#}");
    let first_id = first["run_id"].as_str().unwrap().to_string();
    move_out(&f, "set/f03.bak");
    move_out(&f, "set/f04.bak");
    let (big, mut child) = start_run_restoring_a_huge_file(&f);
    stop(&mut child);
    child.wait().unwrap();
    std::fs::remove_file(big).unwrap();

    let (_, ev) = f.run_json("acme", &[]);
    let d = &target(&ev, "nas")["drift"];
    assert_eq!(d["previous_run"], first_id.as_str(), "{d:#}");
    assert_eq!(d["vanished_files"], 2, "{d:#}");
    assert_eq!(
        d["new_files"], 0,
        "the huge file was never in a finished listing"
    );
    let names: Vec<&str> = d["vanished"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["set/f03.bak", "set/f04.bak"]);
}

#[test]
fn a_run_stopped_by_ctrl_c_leaves_no_trace_in_drift() {
    interrupted_run_keeps_drift(|child| {
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    });
}

#[test]
fn a_run_killed_outright_leaves_no_trace_in_drift() {
    interrupted_run_keeps_drift(|child| child.kill().unwrap());
}

#[test]
fn a_drift_failure_stays_open_until_the_files_are_back() {
    let f = backup_set("sample_files = 3", 35);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let gone: Vec<(String, PathBuf)> = (10..15)
        .map(|i| {
            let rel = format!("set/f{i:02}.bak");
            let aside = move_out(&f, &rel);
            (rel, aside)
        })
        .collect();

    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "5 of 35 gone is over count_drop_percent");
    let t = target(&ev, "nas");
    let p = problems(t);
    assert_eq!(p.len(), 1, "{t:#}");
    assert_eq!(
        (p[0]["kind"].as_str(), p[0]["new"].as_bool()),
        (Some("vanished"), Some(true))
    );
    assert_eq!(p[0]["files"], 5);
    let opened = ev["run_id"].as_str().unwrap().to_string();

    // The next run compares with the shrunken set and sees no change: the problem is
    // still open, so it fails, and no recovery is announced.
    for _ in 0..2 {
        let (code, ev) = f.run_json("acme", &[]);
        let t = target(&ev, "nas");
        assert_eq!(code, 1, "{t:#}");
        assert_eq!(check(t, "drift")["verdict"], "pass");
        assert_eq!(check(t, "problems")["verdict"], "fail");
        let p = problems(t);
        assert_eq!(p[0]["opened_run"], opened.as_str());
        assert_eq!(
            (p[0]["observed"].as_bool(), p[0]["files"].as_u64()),
            (Some(false), Some(5))
        );
        assert_eq!(t["findings"][0]["kind"], "vanished");
    }
    let out = f.backproof(&["run", "acme"]);
    assert!(
        out.stdout
            .contains("FAIL: 5 backup files still missing on nas"),
        "{}",
        out.stdout
    );
    assert!(
        !mail_subjects(&f).iter().any(|s| s.contains("[PASS]")),
        "{:?}",
        mail_subjects(&f)
    );

    // Three of five back: still open, with two files.
    for (rel, aside) in &gone[..3] {
        move_back(&f, rel, aside);
    }
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    assert_eq!(problems(target(&ev, "nas"))[0]["files"], 2);

    // All back: fixed, and now the recovery is announced.
    for (rel, aside) in &gone[3..] {
        move_back(&f, rel, aside);
    }
    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(code, 0, "{t:#}");
    assert!(problems(t).is_empty());
    assert_eq!(kinds(t, "closed_problems"), vec!["vanished"]);
    assert!(
        reason_of(check(t, "problems")).contains("all 2 vanished files are back"),
        "{t:#}"
    );
    let subjects = mail_subjects(&f);
    assert!(
        subjects.last().is_some_and(
            |s| s == "[BP-7980f907] [PASS] Acme Dental: 1 backup target verified again"
        ),
        "{subjects:?}"
    );
}

#[test]
fn an_acknowledged_problem_stays_visible_but_no_longer_fails() {
    let f = backup_set("sample_files = 3", 35);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    for i in 10..15 {
        std::fs::remove_file(f.backups.join(format!("set/f{i:02}.bak"))).unwrap();
    }
    assert_eq!(f.run_json("acme", &[]).0, 1);

    // Refused without a reason, with an unknown key, or with an `until` in the past.
    let out = f.backproof(&["ack", "acme", "--reason", " "]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("--reason"), "{}", out.stderr);
    let out = f.backproof(&["ack", "acme", "--problem", "BP-00000000", "--reason", "x"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no open problem with key 00000000"),
        "{}",
        out.stderr
    );
    let out = f.backproof(&["ack", "acme", "--reason", "x", "--until", "2020-01-01"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("in the past"), "{}", out.stderr);

    let out = f.backproof(&[
        "ack",
        "acme",
        "--target",
        "nas",
        "--reason",
        "client deleted old archives on purpose",
        "--by",
        "alice",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("acknowledged [BP-"), "{}", out.stdout);
    assert!(
        out.stdout.contains("vanished on nas until fixed by alice"),
        "{}",
        out.stdout
    );

    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(code, 0, "acknowledged and not seen again: a warning");
    assert_eq!(t["verdict"], "warn");
    let p = problems(t);
    assert_eq!(p[0]["acknowledged"]["by"], "alice");
    assert_eq!(
        p[0]["acknowledged"]["reason"],
        "client deleted old archives on purpose"
    );
    let out = f.backproof(&["show", ev["run_id"].as_str().unwrap()]);
    assert!(
        out.stdout.contains("acknowledged by alice on"),
        "{}",
        out.stdout
    );
    let out = f.backproof(&["status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let row = &out.json()["rows"][0];
    assert_eq!(row["state"], "acknowledged");
    assert_eq!(row["worst_problem"]["acknowledged"], true);

    // The problem grows: the acknowledgement no longer covers it.
    std::fs::remove_file(f.backups.join("set/f20.bak")).unwrap();
    std::fs::remove_file(f.backups.join("set/f21.bak")).unwrap();
    std::fs::remove_file(f.backups.join("set/f22.bak")).unwrap();
    std::fs::remove_file(f.backups.join("set/f23.bak")).unwrap();
    let (code, ev) = f.run_json("acme", &["--seed", "1"]);
    assert_eq!(code, 1);
    let p = problems(target(&ev, "nas"));
    assert!(p[0]["acknowledged"].is_null(), "{:#}", p[0]);
    assert_eq!(p[0]["files"], 9);
}

#[test]
fn an_acknowledgement_lapses_at_its_until() {
    let f = backup_set("sample_files = 3\nmax_age = \"2h\"", 5);
    std::fs::remove_dir_all(f.backups.join("set")).unwrap();
    for i in 0..5 {
        f.file(&format!("set/f{i}.bak"), 1000 + i, hours(5 + i as u64));
    }
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    assert_eq!(kinds(target(&ev, "nas"), "problems"), vec!["stale"]);
    let until = chrono::Utc::now() + chrono::Duration::seconds(3);
    let out = f.backproof(&[
        "ack",
        "acme",
        "--reason",
        "server moved",
        "--until",
        &until.to_rfc3339(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Still stale: the freshness check itself fails whatever the acknowledgement.
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    assert!(!problems(target(&ev, "nas"))[0]["acknowledged"].is_null());
    wait_past(until);
    let (_, ev) = f.run_json("acme", &[]);
    assert!(problems(target(&ev, "nas"))[0]["acknowledged"].is_null());
    // A new backup arrives: fixed.
    f.file("set/new.bak", 10, hours(0));
    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(code, 0, "{t:#}");
    assert_eq!(kinds(t, "closed_problems"), vec!["stale"]);
    assert!(
        t["closed_problems"][0]["fixed_by"]
            .as_str()
            .unwrap()
            .starts_with("a new backup arrived")
    );
}

#[test]
fn one_vanished_file_warns_and_is_emailed_without_retention() {
    let f = backup_set("sample_files = 2", 35);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    std::fs::remove_file(f.backups.join("set/f20.bak")).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(code, 0);
    assert_eq!(t["verdict"], "warn", "{t:#}");
    assert_eq!(t["findings"][0]["kind"], "vanished");
    assert_eq!(t["findings"][0]["paths"][0], "set/f20.bak");
    let subjects = mail_subjects(&f);
    assert_eq!(
        subjects,
        vec!["[WARN] Acme Dental: 1 backup file vanished on nas"],
        "the warning reaches the technicians"
    );
}

#[test]
fn with_retention_old_files_go_quietly_and_young_ones_fail() {
    // 35 daily files; retention 30 days: the five oldest (30-34 days) may go.
    let f = backup_set("sample_files = 2\nretention = \"30d\"", 35);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    for i in 31..35 {
        std::fs::remove_file(f.backups.join(format!("set/f{i:02}.bak"))).unwrap();
    }
    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(code, 0, "{t:#}");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(t["drift"]["retired_files"], 4);
    assert!(reason_of(check(t, "drift")).contains("4 older than the retention"));
    assert!(mail_subjects(&f).is_empty());

    // A ten-day-old file vanishes: fails, and stays open.
    std::fs::remove_file(f.backups.join("set/f10.bak")).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(code, 1, "{t:#}");
    assert_eq!(t["findings"][0]["kind"], "vanished");
    assert_eq!(t["findings"][0]["paths"][0], "set/f10.bak");
    assert_eq!(f.run_json("acme", &[]).0, 1);
}

#[test]
fn with_retention_the_newest_file_of_a_folder_must_not_vanish() {
    let f = Fixture::new("sample_files = 2\nretention = \"30d\"");
    f.file("chain/full.vbk", 5000, hours(24 * 60));
    f.file("chain/inc1.vib", 500, hours(24 * 50));
    f.file("chain/inc2.vib", 500, hours(24 * 40));
    f.file("current/today.vbk", 5000, hours(1));
    assert_eq!(f.run_json("acme", &[]).0, 0);
    std::fs::remove_file(f.backups.join("chain/inc2.vib")).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(code, 1, "{t:#}");
    assert_eq!(t["findings"][0]["paths"][0], "chain/inc2.vib");
}

#[test]
fn corruption_stays_open_and_is_rechecked_until_it_verifies() {
    let f = backup_set("sample_files = 100", 6);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let victim = f.backups.join("set/f03.bak");
    let original = std::fs::read(&victim).unwrap();
    let mtime = std::fs::metadata(&victim).unwrap().modified().unwrap();
    corrupt_in_place(&victim);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    assert_eq!(kinds(target(&ev, "nas"), "problems"), vec!["corruption"]);

    // Later runs sample one file only, yet the corrupt file is restored every time.
    std::fs::write(
        f.dir.path().join("jobs.d/acme.toml"),
        std::fs::read_to_string(f.dir.path().join("jobs.d/acme.toml"))
            .unwrap()
            .replace("sample_files = 100", "sample_files = 1"),
    )
    .unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(code, 1, "{t:#}");
    let again = sampled(t, "set/f03.bak").expect("rechecked");
    assert_eq!(again["picked"], "recheck");
    assert_eq!(again["verdict"], "fail");

    // The good content is put back: verified, fixed, recovered.
    std::fs::write(&victim, &original).unwrap();
    set_mtime(&victim, mtime);
    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(code, 0, "{t:#}");
    assert_eq!(kinds(t, "closed_problems"), vec!["corruption"]);
    assert!(
        mail_subjects(&f)
            .last()
            .is_some_and(|s| s.ends_with("verified again")),
        "{:?}",
        mail_subjects(&f)
    );
}

/// Truncates `path` to `len` bytes, keeping its modification time (damage, not a new
/// backup).
fn truncate_in_place(path: &Path, len: u64) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
    set_mtime(path, mtime);
}

#[test]
fn a_damaged_file_truncated_again_in_place_is_not_a_new_version() {
    // Found by the truth test: the second truncation changed the file's size but not its
    // modification time, and the restore of the shorter file closed the problem as if a
    // new backup had replaced the damaged one.
    // A file never restored yet (no baseline): only the listing shows the damage.
    let f = backup_set("sample_files = 1", 6);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0);
    let t = target(&ev, "nas");
    let name = (1..=6)
        .map(|i| format!("set/f{i:02}.bak"))
        .find(|p| sampled(t, p).is_none())
        .unwrap();
    let victim = f.backups.join(&name);
    let len = std::fs::metadata(&victim).unwrap().len();
    truncate_in_place(&victim, len / 2);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{:#}", target(&ev, "nas"));
    truncate_in_place(&victim, len / 4);
    for run in ["truncated again", "nothing changed"] {
        let (code, ev) = f.run_json("acme", &[]);
        let t = target(&ev, "nas");
        assert_eq!(code, 1, "{run}: {t:#}");
        assert!(
            t["problems"].as_array().is_some_and(|p| !p.is_empty()),
            "{run}: the problem must stay open: {t:#}"
        );
    }
}

#[test]
fn the_worst_finding_leads_the_summary_the_email_and_its_subject() {
    let f = backup_set("sample_files = 100", 8);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("set/f02.bak"));
    corrupt_in_place(&f.backups.join("set/f05.bak"));
    std::fs::remove_file(f.backups.join("set/f07.bak")).unwrap();
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 1);
    let first_lines: Vec<&str> = out.stdout.lines().take(3).collect();
    assert_eq!(
        first_lines[2], "FAIL: 2 corrupt files on nas (+1 more problem)",
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("What is wrong: 2 restored files not as expected"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Look first at: A backup file's content"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("All findings, worst first (2):"),
        "{}",
        out.stdout
    );
    assert_eq!(
        mail_subjects(&f),
        vec!["[BP-adc9729c] [FAIL] Acme Dental: 2 corrupt files on nas (+1 more problem)"]
    );
    let (_, ev) = f.run_json("acme", &[]);
    let found = kinds(target(&ev, "nas"), "findings");
    assert_eq!(found[0], "corruption", "{found:?}");
    assert!(found.contains(&"vanished".to_string()), "{found:?}");
}

#[test]
fn the_owner_summary_counts_what_verified_and_lists_every_problem() {
    let f = backup_set("sample_files = 100", 6);
    std::fs::write(
        f.dir.path().join("jobs.d/acme.toml"),
        std::fs::read_to_string(f.dir.path().join("jobs.d/acme.toml"))
            .unwrap()
            .replace("client =", "owners = [\"owner@acme.example\"]\nclient ="),
    )
    .unwrap();
    // No run yet: that is a problem, not "none".
    let out = f.backproof(&["digest", "acme"]);
    assert!(
        out.stdout
            .contains("no check of your backups ran this week"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("Open problems: none"),
        "{}",
        out.stdout
    );

    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("set/f02.bak"));
    corrupt_in_place(&f.backups.join("set/f04.bak"));
    assert_eq!(f.run_json("acme", &[]).0, 1);
    let out = f.backproof(&["digest", "acme"]);
    let text = &out.stdout;
    // 6 verified in the first run, 4 of 6 in the second; 2 damaged.
    assert!(
        text.contains("we test-restored 12 files from your backups; 10 ("),
        "{text}"
    );
    assert!(
        text.contains("2 damaged or could not be restored"),
        "{text}"
    );
    assert!(
        text.contains("nas: 2 backup files turned out damaged when we test-restored them"),
        "{text}"
    );
    assert!(!text.contains("confirmed they were intact"), "{text}");
    assert!(!text.contains("has been asked"), "{text}");
}

#[test]
fn nothing_restored_is_never_called_intact() {
    let f = backup_set("sample_files = 100", 3);
    std::fs::write(
        f.dir.path().join("jobs.d/acme.toml"),
        std::fs::read_to_string(f.dir.path().join("jobs.d/acme.toml"))
            .unwrap()
            .replace("client =", "owners = [\"owner@acme.example\"]\nclient ="),
    )
    .unwrap();
    std::fs::remove_dir_all(&f.backups).unwrap();
    assert_eq!(f.run_json("acme", &[]).0, 2);
    let out = f.backproof(&["digest", "acme"]);
    assert!(!out.stdout.contains("intact"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("no backup file could be test-restored this week"),
        "{}",
        out.stdout
    );
}

#[test]
fn status_tells_problems_first_with_ages_now_and_exit_codes() {
    let f = backup_set("sample_files = 2", 6);
    f.write_job(
        "zeta",
        &format!(
            "client = \"Zeta Law\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"0 3 * * *\"\n[[targets]]\nname = \"nas\"\nurl = \"file://{}\"\n",
            f.dir.path().join("missing").display()
        ),
    );
    // Nothing verified yet: exit 2, and no next run without a daemon.
    let out = f.backproof(&["status", "--json"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let s = out.json();
    assert_eq!(s["daemon_running"], false);
    assert!(s["rows"][0]["next_run"].is_null());
    let out = f.backproof(&["status"]);
    assert!(out.stdout.contains("no daemon"), "{}", out.stdout);
    assert!(out.stdout.contains("NOT running"), "{}", out.stdout);

    assert_eq!(f.run_json("acme", &[]).0, 0);
    assert_eq!(f.run_json("zeta", &[]).0, 2);
    let out = f.backproof(&["status", "--json"]);
    assert_eq!(out.code, 2, "zeta could not be verified");
    let s = out.json();
    let acme = s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "acme")
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(s["at"].as_str().unwrap()).unwrap();
    let newest =
        chrono::DateTime::parse_from_rfc3339(acme["newest_backup"].as_str().unwrap()).unwrap();
    assert_eq!(
        acme["newest_backup_age_seconds"].as_i64().unwrap(),
        (at - newest).num_seconds(),
        "the age is relative to the status, not to the run"
    );
    let zeta = s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "zeta")
        .unwrap();
    assert!(
        zeta["not_verified_reason"]
            .as_str()
            .unwrap()
            .contains("nas:"),
        "{zeta:#}"
    );

    corrupt_in_place(&f.backups.join("set/f00.bak"));
    assert_eq!(f.run_json("acme", &[]).0, 1);
    let out = f.backproof(&["status"]);
    assert_eq!(out.code, 1, "a proven problem outranks a missing proof");
    let first = out.stdout.lines().nth(1).unwrap();
    assert!(first.starts_with("PROBLEM"), "{}", out.stdout);
    assert!(first.contains("corruption on nas"), "{}", out.stdout);
}

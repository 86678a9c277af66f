//! Deeper verification on real folders: canary files and immutable patterns.

mod common;

use common::*;

const CANARY: &[u8] =
    b"backproof canary: if you can read this in a restore, the backup reached here\n";

/// A backup set with a canary planted by the MSP, and the job that expects it.
fn with_canary(blake3: &str) -> Fixture {
    let f = Fixture::empty();
    f.file("daily/mon.tar", 30_000, hours(2));
    f.file("daily/tue.tar", 30_000, hours(3));
    let canary = f.backups.join("Shared/IT/backproof-canary.txt");
    std::fs::create_dir_all(canary.parent().unwrap()).unwrap();
    std::fs::write(&canary, CANARY).unwrap();
    set_mtime(&canary, std::time::SystemTime::now() - hours(100));
    f.job_with_target(
        "sample_files = 1",
        &format!(
            "name = \"nas\"\nurl = \"file://{}\"\n[[targets.canaries]]\npath = \"Shared/IT/backproof-canary.txt\"\nblake3 = \"{blake3}\"",
            f.backups.display()
        ),
    );
    f
}

#[test]
fn an_intact_canary_passes_and_is_restored_on_every_run() {
    let f = with_canary(blake3::hash(CANARY).to_hex().as_str());
    for _ in 0..2 {
        let (code, ev) = f.run_json("acme", &[]);
        assert_eq!(code, 0, "{ev:#}");
        let t = target(&ev, "nas");
        assert_eq!(check(t, "canary")["verdict"], "pass");
        let c = sampled(t, "Shared/IT/backproof-canary.txt").unwrap();
        assert_eq!(c["picked"], "canary");
        assert_eq!(c["expected"]["kind"], "canary");
        assert_eq!(c["verdict"], "pass");
        // The sample of one file is still the newest backup, besides the canary.
        assert_eq!(t["files"].as_array().unwrap().len(), 2);
    }
}

#[test]
fn an_altered_or_missing_canary_fails() {
    let f = with_canary(blake3::hash(CANARY).to_hex().as_str());
    assert_eq!(f.run_json("acme", &[]).0, 0);
    // Altered, with a new date: not a "new version" for a canary.
    let canary = f.backups.join("Shared/IT/backproof-canary.txt");
    std::fs::write(&canary, b"encrypted by someone\n").unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = target(&ev, "nas");
    let c = check(t, "canary");
    assert_eq!(c["verdict"], "fail");
    assert!(reason_of(c).contains("altered"), "{c}");
    std::fs::remove_file(&canary).unwrap();
    let (code, ev) = f.run_json("acme", &["--seed", "1"]);
    assert_eq!(code, 1);
    let c = check(target(&ev, "nas"), "canary");
    assert!(reason_of(c).contains("missing"), "{c}");
}

#[test]
fn a_canary_hash_must_be_a_blake3() {
    let f = with_canary("abc");
    let out = f.backproof(&["check-config"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("targets[1].canaries") || out.stderr.contains("blake3"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("not a BLAKE3 hash"), "{}", out.stderr);
}

#[test]
fn immutable_files_must_never_change() {
    let f = Fixture::new("sample_files = 100\nimmutable = [\"archive/**\"]");
    f.file("archive/2025-01.tar", 20_000, hours(24 * 60));
    f.file("archive/2025-02.tar", 20_000, hours(24 * 30));
    f.file("daily/mon.tar", 20_000, hours(2));
    assert_eq!(f.run_json("acme", &[]).0, 0);

    // A daily file rewritten with a new date: a new version, fine.
    std::fs::write(f.backups.join("daily/mon.tar"), vec![5u8; 21_000]).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");

    // An archived month rewritten, with a new date: that must never happen.
    std::fs::write(f.backups.join("archive/2025-01.tar"), vec![6u8; 20_000]).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = target(&ev, "nas");
    let drift = check(t, "drift");
    assert_eq!(drift["verdict"], "fail");
    assert!(reason_of(drift).contains("immutable"), "{drift}");
    let changed = &t["drift"]["immutable_changed"][0];
    assert_eq!(changed["path"], "archive/2025-01.tar");
    assert!(changed["modified_before"] != changed["modified_now"]);
    let file = sampled(t, "archive/2025-01.tar").unwrap();
    assert_eq!(file["verdict"], "fail", "{file:#}");
    assert!(reason_of(file).contains("must never change"), "{file}");
    // The original remains the expectation: the next run fails again.
    assert_eq!(f.run_json("acme", &[]).0, 1);
}

#[test]
fn the_egress_budget_shrinks_the_sample_and_is_shown() {
    let f = Fixture::new("sample_files = 100\n[budget]\nper_run = 50000\nper_week = 90000");
    for i in 0..6 {
        f.file(&format!("f{i}.bin"), 20_000, hours(1 + i));
    }
    // Run 1: 50 kB per run fit two files of 20 kB.
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    assert_eq!(target(&ev, "nas")["files"].as_array().unwrap().len(), 2);
    assert_eq!(ev["egress"]["read_bytes"], 40_000);
    assert_eq!(ev["egress"]["per_run"], 50_000);
    assert_eq!(ev["egress"]["week_used_before"], 0);
    // Run 2: 40 kB of the week's 90 kB used, 50 kB left: two files again.
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0);
    assert_eq!(ev["egress"]["week_used_before"], 40_000);
    assert_eq!(ev["egress"]["read_bytes"], 40_000);
    // Run 3: 10 kB left, smaller than the newest file: nothing restored, not a pass.
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    assert_eq!(ev["egress"]["read_bytes"], 0);
    let restore = check(target(&ev, "nas"), "restore");
    assert!(reason_of(restore).contains("egress budget"), "{restore}");
    let out = f.backproof(&["show", ev["run_id"].as_str().unwrap()]);
    assert!(
        out.stdout.contains("Read from the targets: 0 B"),
        "{}",
        out.stdout
    );
}

/// Writes a manifest with a checksum tool run in `dir`, as an MSP's backup script would.
fn manifest_with(tool: &str, dir: &std::path::Path, files: &[&str], out: &str) {
    let output = std::process::Command::new(tool)
        .args(files)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(output.status.success());
    std::fs::write(dir.join(out), output.stdout).unwrap();
}

#[test]
fn checksum_manifests_catch_what_dates_allow() {
    let f = Fixture::new("sample_files = 100\nmanifests = [\"SHA256SUMS\", \"*.md5\", \"*.b3\"]");
    f.file("daily/mon.tar", 30_000, hours(5));
    f.file("daily/tue.tar", 30_000, hours(4));
    f.file("weekly/w46.tar", 30_000, hours(3));
    let daily = f.backups.join("daily");
    manifest_with("sha256sum", &daily, &["mon.tar", "tue.tar"], "SHA256SUMS");
    manifest_with(
        "md5sum",
        &f.backups.join("weekly"),
        &["w46.tar"],
        "w46.tar.md5",
    );
    // b3sum's format, written here so the test needs no extra tool.
    let w46 = std::fs::read(f.backups.join("weekly/w46.tar")).unwrap();
    std::fs::write(
        f.backups.join("weekly.b3"),
        format!("{}  weekly/w46.tar\n", blake3::hash(&w46).to_hex()),
    )
    .unwrap();

    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "nas");
    let m = check(t, "manifest");
    assert_eq!(m["verdict"], "pass", "{m}");
    assert!(reason_of(m).contains("3 manifests, 4 entries"), "{m}");
    let mon = sampled(t, "daily/mon.tar").unwrap();
    assert_eq!(mon["manifest"]["algorithm"], "sha256");
    assert_eq!(mon["manifest"]["actual"], mon["manifest"]["expected"]);
    // The report says where the expectation came from.
    let shown = f.backproof(&["show", ev["run_id"].as_str().unwrap()]);
    assert!(
        shown
            .stdout
            .contains("from daily/SHA256SUMS line 1: matches"),
        "{}",
        shown.stdout
    );

    // Rewritten with a new date: by dates alone a new version, but the manifest says no.
    std::fs::write(f.backups.join("daily/tue.tar"), vec![1u8; 30_000]).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = target(&ev, "nas");
    let tue = sampled(t, "daily/tue.tar").unwrap();
    assert_eq!(tue["verdict"], "fail");
    assert!(
        reason_of(tue).contains("does not match daily/SHA256SUMS line 2"),
        "{tue}"
    );
    assert_eq!(check(t, "manifest")["verdict"], "fail");
    // Both stay open until fixed: the file's corruption and the failed manifest check.
    assert_eq!(problem_kinds(t), vec!["corruption", "manifest"]);

    // A listed file that is gone is reported.
    std::fs::remove_file(f.backups.join("daily/mon.tar")).unwrap();
    let (_, ev) = f.run_json("acme", &[]);
    let m = check(target(&ev, "nas"), "manifest");
    assert!(
        reason_of(m).contains("lists daily/mon.tar, which is not in the backup"),
        "{m}"
    );
}

#[test]
fn a_malformed_manifest_is_an_error_with_its_line() {
    let f = Fixture::new("manifests = [\"SHA256SUMS\"]");
    f.file("a.tar", 1000, hours(1));
    manifest_with("sha256sum", &f.backups, &["a.tar"], "SHA256SUMS");
    let mut text = std::fs::read_to_string(f.backups.join("SHA256SUMS")).unwrap();
    text.push_str("not a checksum line\n");
    std::fs::write(f.backups.join("SHA256SUMS"), text).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    let m = check(target(&ev, "nas"), "manifest");
    assert_eq!(m["verdict"], "error");
    assert!(
        reason_of(m).contains("SHA256SUMS line 2 is malformed"),
        "{m}"
    );
}

#[test]
fn restored_files_are_validated_beyond_their_hash() {
    let f = Fixture::empty();
    let b = &f.backups;
    // A zip (Python's zipfile), a tar.gz and a gzip (the system's tools), an SQLite DB.
    std::fs::write(b.join("letter.txt"), "Dear client,\n".repeat(2000)).unwrap();
    let ok = |cmd: &mut std::process::Command| assert!(cmd.status().unwrap().success());
    ok(std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import zipfile; z = zipfile.ZipFile('docs.zip', 'w', zipfile.ZIP_DEFLATED); z.write('letter.txt'); z.close()"])
        .current_dir(b));
    ok(std::process::Command::new("tar")
        .args(["czf", "site.tar.gz", "letter.txt"])
        .current_dir(b));
    ok(std::process::Command::new("gzip")
        .args(["--keep", "letter.txt"])
        .current_dir(b));
    std::fs::rename(b.join("letter.txt.gz"), b.join("notes.gz")).unwrap();
    std::fs::remove_file(b.join("letter.txt")).unwrap();
    {
        let db = rusqlite::Connection::open(b.join("ledger.db")).unwrap();
        db.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);")
            .unwrap();
    }
    f.job_with_target(
        "sample_files = 100",
        &format!(
            r#"name = "nas"
url = "file://{}"
[[targets.validate]]
files = "*.zip"
kind = "zip"
[[targets.validate]]
files = "*.tar.gz"
kind = "tar.gz"
[[targets.validate]]
files = "*.db"
kind = "sqlite"
[[targets.validate]]
files = "*.gz"
kind = "command"
command = ["gzip", "--test", "{{file}}"]
timeout = "30s""#,
            b.display()
        ),
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "nas");
    for (path, validator) in [
        ("docs.zip", "zip"),
        ("site.tar.gz", "tar.gz"),
        ("ledger.db", "sqlite"),
        ("notes.gz", "command gzip --test {file}"),
    ] {
        let file = sampled(t, path).unwrap();
        let v = &file["validation"];
        assert_eq!(v["validator"], validator, "{path}: {v}");
        assert_eq!(v["verdict"], "pass", "{path}: {v}");
        // The default mode writes a copy for a validator only, read back through the
        // page cache, and says so.
        assert_eq!(file["read_back"], "cache", "{path}: {file:#}");
        assert_eq!(file["restored_blake3"], file["streamed_blake3"], "{path}");
    }
    assert_eq!(
        sampled(t, "notes.gz").unwrap()["validation"]["exit_code"],
        0
    );

    // New versions (new dates) that hash fine but are broken inside.
    let zip = std::fs::read(b.join("docs.zip")).unwrap();
    std::fs::write(b.join("docs.zip"), &zip[..zip.len() / 2]).unwrap();
    let mut gz = std::fs::read(b.join("notes.gz")).unwrap();
    let mid = gz.len() / 2;
    gz[mid] ^= 0xff;
    std::fs::write(b.join("notes.gz"), gz).unwrap();
    std::fs::write(b.join("ledger.db"), vec![7u8; 8192]).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = target(&ev, "nas");
    for path in ["docs.zip", "notes.gz", "ledger.db"] {
        let file = sampled(t, path).unwrap();
        assert_eq!(file["verdict"], "fail", "{path}: {file:#}");
        assert_eq!(file["validation"]["verdict"], "fail", "{path}");
    }
    let gz = &sampled(t, "notes.gz").unwrap()["validation"];
    assert_eq!(gz["exit_code"], 1);
    assert!(
        !gz["output"].as_str().unwrap().is_empty(),
        "the command's output is kept: {gz}"
    );
    assert_eq!(sampled(t, "site.tar.gz").unwrap()["verdict"], "pass");
}

#[test]
fn a_validation_command_that_cannot_run_is_not_a_verdict_on_the_file() {
    let f = Fixture::empty();
    f.file("dump.sql", 1000, hours(1));
    f.job_with_target(
        "",
        &format!(
            "name = \"nas\"\nurl = \"file://{}\"\n[[targets.validate]]\nfiles = \"*.sql\"\nkind = \"command\"\ncommand = [\"/nonexistent/pg_restore\", \"--list\", \"{{file}}\"]",
            f.backups.display()
        ),
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    let v = &sampled(target(&ev, "nas"), "dump.sql").unwrap()["validation"];
    assert_eq!(v["verdict"], "error");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("cannot run /nonexistent/pg_restore"),
        "{v}"
    );
}

/// Text files, encrypted in place the way ransomware does: same names, random bytes.
fn ransomware_fixture(policy: &str) -> Fixture {
    let f = Fixture::new(&format!("sample_files = 100\n{policy}"));
    for i in 0..6 {
        let p = f.backups.join(format!("docs/letter-{i}.txt"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            format!("Dear client {i},\nyour invoice is attached.\n").repeat(500),
        )
        .unwrap();
        set_mtime(&p, std::time::SystemTime::now() - hours(5 + i as u64));
    }
    f
}

fn encrypt_all(f: &Fixture) {
    for i in 0..6 {
        let p = f.backups.join(format!("docs/letter-{i}.txt"));
        let len = std::fs::metadata(&p).unwrap().len() as usize;
        std::fs::write(&p, suite::content(&format!("ciphertext {i}"), len)).unwrap();
    }
}

#[test]
fn content_turning_random_under_the_same_names_is_a_sign_of_ransomware() {
    let f = ransomware_fixture("");
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let r = check(target(&ev, "nas"), "ransomware");
    assert_eq!(r["verdict"], "pass", "{r}");
    let entropy = sampled(target(&ev, "nas"), "docs/letter-0.txt").unwrap()["entropy"]
        .as_f64()
        .unwrap();
    assert!(entropy < 5.0, "text has low entropy: {entropy}");

    encrypt_all(&f);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "a warning by default: {ev:#}");
    assert_eq!(ev["verdict"], "warn");
    let r = check(target(&ev, "nas"), "ransomware");
    assert_eq!(r["verdict"], "warn");
    let reason = reason_of(r);
    assert!(
        reason.contains("6 files turned to near-random bytes"),
        "{reason}"
    );
    assert!(reason.contains("docs/letter-0.txt"), "{reason}");
    assert!(
        reason.contains("6 of 6 sampled files seen before changed"),
        "{reason}"
    );
}

#[test]
fn ransomware_signs_can_fail_the_run_or_be_switched_off() {
    let f = ransomware_fixture("ransomware = \"fail\"");
    assert_eq!(f.run_json("acme", &[]).0, 0);
    encrypt_all(&f);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    assert_eq!(check(target(&ev, "nas"), "ransomware")["verdict"], "fail");
    assert!(
        problem_kinds(target(&ev, "nas")).contains(&"tampering".to_string()),
        "{ev:#}"
    );

    let g = ransomware_fixture("ransomware = \"off\"");
    assert_eq!(g.run_json("acme", &[]).0, 0);
    encrypt_all(&g);
    let (code, ev) = g.run_json("acme", &[]);
    assert_eq!(code, 0);
    let t = target(&ev, "nas");
    assert!(
        t["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["check"] != "ransomware")
    );
}

#[test]
fn the_source_spot_check_compares_unchanged_files_with_the_live_data() {
    let f = Fixture::empty();
    let live = f.dir.path().join("live");
    let written = std::time::SystemTime::now() - hours(10);
    for name in ["a.doc", "b.doc", "c.doc", "d.doc"] {
        for root in [&live, &f.backups] {
            std::fs::create_dir_all(root).unwrap();
            std::fs::write(root.join(name), format!("content of {name}\n").repeat(100)).unwrap();
            set_mtime(&root.join(name), written);
        }
    }
    // The backup of b.doc went wrong (same date, other bytes); c.doc was edited after the
    // backup; d.doc was deleted from the live data.
    std::fs::write(f.backups.join("b.doc"), "garbage\n".repeat(100)).unwrap();
    set_mtime(&f.backups.join("b.doc"), written);
    std::fs::write(live.join("c.doc"), "edited today\n").unwrap();
    std::fs::remove_file(live.join("d.doc")).unwrap();
    let job = |policy: &str| {
        f.job_with_target(
            &format!("sample_files = 100\n{policy}"),
            &format!(
                "name = \"nas\"\nurl = \"file://{}\"\n[targets.source]\nurl = \"file://{}\"",
                f.backups.display(),
                live.display()
            ),
        )
    };
    job("");
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = target(&ev, "nas");
    let s = check(t, "source");
    assert_eq!(s["verdict"], "fail", "{s}");
    let reason = reason_of(s);
    assert!(
        reason.contains("2 compared with the source: 1 identical, 1 differ"),
        "{reason}"
    );
    assert!(
        reason.contains("1 changed at the source since the backup, 1 not at the source"),
        "{reason}"
    );
    assert!(reason.contains("b.doc"), "{reason}");
    assert_eq!(
        sampled(t, "a.doc").unwrap()["source"]["outcome"],
        "identical"
    );
    assert_eq!(sampled(t, "b.doc").unwrap()["source"]["outcome"], "differs");
    assert_eq!(
        sampled(t, "c.doc").unwrap()["source"]["outcome"],
        "changed_at_source"
    );
    assert_eq!(
        sampled(t, "d.doc").unwrap()["source"]["outcome"],
        "missing_at_source"
    );
    assert!(
        problem_kinds(t).contains(&"source_mismatch".to_string()),
        "{t:#}"
    );

    // With a tolerance of 60% of the files compared, the same finding is a warning.
    job("source_differ_percent = 60");
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    assert_eq!(check(target(&ev, "nas"), "source")["verdict"], "warn");
}

#[test]
fn a_canary_left_out_by_include_is_still_restored() {
    let f = with_canary(blake3::hash(CANARY).to_hex().as_str());
    let job = f.dir.path().join("jobs.d/acme.toml");
    let text = std::fs::read_to_string(&job).unwrap().replace(
        "sample_files = 1",
        "sample_files = 1\ninclude = [\"*.tar\"]",
    );
    std::fs::write(&job, text).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "nas");
    assert_eq!(check(t, "canary")["verdict"], "pass", "{t:#}");
    assert_eq!(
        sampled(t, "Shared/IT/backproof-canary.txt").unwrap()["verdict"],
        "pass"
    );
    // It is not a backup file: the inventory counts the two archives only.
    assert_eq!(t["inventory"]["files"], 2);
}

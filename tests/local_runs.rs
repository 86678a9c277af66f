//! End-to-end runs of the real binary against real local folders.

mod common;

use std::collections::BTreeSet;

use common::*;

/// A small healthy backup set: 6 files, the newest 2 hours old.
fn healthy(policy: &str) -> Fixture {
    let f = Fixture::new(policy);
    for (i, name) in [
        "daily/mon.tar",
        "daily/tue.tar",
        "daily/wed.tar",
        "weekly/w46.tar",
        "db/ledger.bak",
        "db/ledger.trn",
    ]
    .iter()
    .enumerate()
    {
        f.file(name, 50_000 + i * 7_001, hours(2 + 10 * i as u64));
    }
    f
}

#[test]
fn healthy_target_passes_with_real_restores() {
    let f = healthy("sample_files = 100");
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    assert_eq!(ev["verdict"], "pass");
    assert_eq!(ev["status"], "finished");
    let t = target(&ev, "nas");
    assert_eq!(t["inventory"]["files"], 6);
    let files = t["files"].as_array().unwrap();
    assert_eq!(files.len(), 6, "all files sampled");
    for file in files {
        // Every restore really read the bytes: the streamed hash is the source's; the
        // default mode writes no copy, so none was read back.
        let path = f.backups.join(file["path"].as_str().unwrap());
        let expected = blake3::hash(&std::fs::read(&path).unwrap())
            .to_hex()
            .to_string();
        assert_eq!(file["streamed_blake3"], expected.as_str());
        assert!(file["restored_blake3"].is_null(), "{file:#}");
        assert_eq!(file["bytes"], file["size"]);
        assert_eq!(file["verdict"], "pass");
    }
    assert_eq!(t["files"][0]["picked"], "newest");
    assert_eq!(t["files"][0]["path"], "daily/mon.tar");
    assert!(t["restore"]["throughput_mb_s"].as_f64().unwrap() > 0.0);
    assert!(
        t["restore"]["projected_full_restore_seconds"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The evidence file exists and the scratch folder was cleaned up.
    let run_id = ev["run_id"].as_str().unwrap();
    let evidence = f
        .data_dir()
        .join("evidence/acme")
        .join(format!("{run_id}.json"));
    assert!(evidence.is_file());
    let scratch = f.data_dir().join("scratch");
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        0,
        "scratch left behind"
    );
}

#[test]
fn corruption_with_size_and_mtime_kept_fails() {
    let f = healthy("sample_files = 100");
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("weekly/w46.tar"));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    assert_eq!(ev["verdict"], "fail");
    let t = target(&ev, "nas");
    let bad = sampled(t, "weekly/w46.tar").unwrap();
    assert_eq!(bad["verdict"], "fail");
    assert_eq!(bad["expected"]["kind"], "baseline");
    assert_ne!(bad["streamed_blake3"], bad["expected"]["blake3"]);
    assert!(reason_of(bad).contains("corruption"));
    // The other files still pass: the finding is precise.
    assert_eq!(sampled(t, "daily/tue.tar").unwrap()["verdict"], "pass");
    // The failure is not forgotten: the baseline was kept, so the next run fails again.
    let (code, _) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
}

#[test]
fn truncation_with_mtime_kept_fails() {
    let f = healthy("sample_files = 100");
    assert_eq!(f.run_json("acme", &[]).0, 0);
    truncate_in_place(&f.backups.join("db/ledger.bak"));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = target(&ev, "nas");
    let bad = sampled(t, "db/ledger.bak").unwrap();
    assert_eq!(bad["verdict"], "fail");
    assert!(reason_of(bad).contains("size changed"));
    let drift = check(t, "drift");
    assert_eq!(drift["verdict"], "fail");
    assert_eq!(t["drift"]["resized_in_place"][0]["path"], "db/ledger.bak");
}

#[test]
fn truncation_of_an_unsampled_file_is_caught_by_the_inventory() {
    let f = healthy("sample_files = 1");
    assert_eq!(f.run_json("acme", &[]).0, 0);
    // Not the newest, and with a sample of 1 only the newest is restored.
    truncate_in_place(&f.backups.join("weekly/w46.tar"));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = target(&ev, "nas");
    assert!(sampled(t, "weekly/w46.tar").is_none());
    assert_eq!(check(t, "drift")["verdict"], "fail");
}

#[test]
fn deleted_file_is_reported() {
    let f = healthy("sample_files = 2");
    assert_eq!(f.run_json("acme", &[]).0, 0);
    std::fs::remove_file(f.backups.join("daily/wed.tar")).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(t["drift"]["vanished_files"], 1, "{t:#}");
    assert_eq!(t["drift"]["vanished"][0]["path"], "daily/wed.tar");
    let out = f.backproof(&["show", ev["run_id"].as_str().unwrap()]);
    assert!(
        out.stdout
            .contains("Vanished since the last run (1): daily/wed.tar"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("daily/wed.tar"));
    // 1 of 6 files gone is a 16.7% drop, over the default 10%: the drift check fails.
    assert_eq!(code, 1);
    assert_eq!(check(t, "drift")["verdict"], "fail");
}

#[test]
fn deletion_within_threshold_is_reported_but_passes() {
    let f = healthy("sample_files = 2\ncount_drop_percent = 50\nsize_drop_percent = 50");
    assert_eq!(f.run_json("acme", &[]).0, 0);
    std::fs::remove_file(f.backups.join("daily/wed.tar")).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "nas");
    assert_eq!(t["drift"]["vanished_files"], 1);
    assert!(reason_of(check(t, "drift")).contains("1 vanished"));
}

#[test]
fn stale_backups_fail_freshness() {
    let f = Fixture::new("max_age = \"26h\"");
    f.file("daily/old1.tar", 1000, hours(50));
    f.file("daily/old2.tar", 1000, hours(74));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let fresh = check(target(&ev, "nas"), "freshness");
    assert_eq!(fresh["verdict"], "fail");
    assert!(reason_of(fresh).contains("2 d 2 h old"), "{fresh}");
    // The restores themselves were fine: the failure is freshness alone.
    assert_eq!(check(target(&ev, "nas"), "restore")["verdict"], "pass");
}

#[test]
fn missing_target_folder_is_an_error_not_a_pass() {
    let f = healthy("");
    std::fs::rename(&f.backups, f.dir.path().join("moved")).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    assert_eq!(ev["verdict"], "error");
    let t = target(&ev, "nas");
    assert_eq!(check(t, "access")["verdict"], "error");
    assert!(
        t["summary"].as_str().unwrap().contains("does not exist"),
        "{t}"
    );
    assert!(t["files"].as_array().unwrap().is_empty());
}

#[test]
fn empty_target_folder_is_an_error() {
    let f = Fixture::new("");
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    assert_eq!(check(target(&ev, "nas"), "inventory")["verdict"], "error");
}

#[test]
fn repeated_small_samples_cover_every_file() {
    let f = Fixture::new("sample_files = 3");
    let mut all = BTreeSet::new();
    for i in 0..20 {
        let name = format!("set/{i:02}.bin");
        f.file(&name, 2000 + i, hours(1 + i as u64));
        all.insert(name);
    }
    let mut covered = BTreeSet::new();
    for run in 1..=10u64 {
        let (code, ev) = f.run_json("acme", &[]);
        assert_eq!(code, 0, "{ev:#}");
        let t = target(&ev, "nas");
        for file in t["files"].as_array().unwrap() {
            covered.insert(file["path"].as_str().unwrap().to_string());
        }
        // The newest file on every run, and 2 files never verified: 3 new files on the
        // first run, 2 on each run after it, until all 20 are covered (run 10).
        let expected = (2 * run + 1).min(20);
        assert_eq!(covered.len() as u64, expected, "run {run}: {covered:?}");
        assert_eq!(
            t["coverage"]["verified_files"], expected,
            "run {run}: the coverage figure agrees"
        );
    }
    assert_eq!(covered, all);
}

#[test]
fn same_seed_reproduces_the_sample() {
    let f = Fixture::new("sample_files = 4");
    for i in 0..30 {
        f.file(&format!("f{i:02}.bin"), 100, hours(3));
    }
    // Two fixtures with the same files and an empty ledger.
    let g = Fixture::new("sample_files = 4");
    for i in 0..30 {
        g.file(&format!("f{i:02}.bin"), 100, hours(3));
    }
    let pick = |fx: &Fixture, seed: &str| -> Vec<String> {
        let (_, ev) = fx.run_json("acme", &["--seed", seed]);
        assert_eq!(ev["seed"].as_u64().unwrap().to_string(), seed);
        target(&ev, "nas")["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(pick(&f, "12345"), pick(&g, "12345"));
}

#[test]
fn new_version_is_rebaselined_not_failed() {
    let f = healthy("sample_files = 100");
    assert_eq!(f.run_json("acme", &[]).0, 0);
    // Rewritten with new content and a new modification time: a new version.
    f.file("weekly/w46.tar", 60_000, hours(1));
    std::fs::write(f.backups.join("weekly/w46.tar"), vec![7u8; 60_000]).unwrap();
    set_mtime(
        &f.backups.join("weekly/w46.tar"),
        std::time::SystemTime::now() - hours(1),
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "nas");
    let file = sampled(t, "weekly/w46.tar").unwrap();
    assert_eq!(file["expected"]["kind"], "new_version");
    assert_eq!(file["verdict"], "pass");
    assert_eq!(t["drift"]["modified_files"], 1);
    // The new content is now the baseline.
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0);
    let file = sampled(target(&ev, "nas"), "weekly/w46.tar").unwrap();
    assert_eq!(file["expected"]["kind"], "baseline");
}

#[test]
fn target_selection_and_unknown_target() {
    let f = healthy("");
    let (code, ev) = f.run_json("acme", &["--target", "nas"]);
    assert_eq!(code, 0);
    assert_eq!(ev["targets"].as_array().unwrap().len(), 1);
    let out = f.backproof(&["run", "acme", "--target", "usb"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no target named `usb`"),
        "{}",
        out.stderr
    );
    let out = f.backproof(&["run", "nobody"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no job named `nobody`"),
        "{}",
        out.stderr
    );
}

#[test]
fn history_and_show() {
    let f = healthy("");
    let (_, first) = f.run_json("acme", &[]);
    corrupt_in_place(&f.backups.join("daily/mon.tar"));
    let (_, second) = f.run_json("acme", &[]);
    let out = f.backproof(&["history", "acme"]);
    assert_eq!(out.code, 0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(lines[1].starts_with(second["run_id"].as_str().unwrap()));
    assert!(lines[1].contains("FAIL"));
    assert!(lines[2].starts_with(first["run_id"].as_str().unwrap()));
    assert!(lines[2].contains("PASS"));
    let out = f.backproof(&["show", first["run_id"].as_str().unwrap(), "--json"]);
    assert_eq!(out.json()["run_id"], first["run_id"]);
    let out = f.backproof(&["show", "20990101-000000-ffff"]);
    assert_eq!(out.code, 2);
}

#[test]
fn second_process_gets_a_clear_lock_error() {
    let f = healthy("");
    let _held = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("in use by another backproof process"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("pid {}", std::process::id())),
        "{}",
        out.stderr
    );
}

#[test]
fn names_with_spaces_unicode_and_odd_characters_restore_inside_scratch() {
    let f = Fixture::new("sample_files = 100");
    let names = [
        "Client Files/Q4 report (final).xlsx",
        "ünïcødé/文件.tar",
        "percent/100%25 done%.zip",
        "hash/#1 backup #.tar",
        "back\\slash\\..\\..\\escape.bin",
        "dots/...",
        "dots/..hidden..",
        "C:/drive.bin",
    ];
    let long = format!("long/{}.bin", "n".repeat(240));
    for n in names {
        f.file(n, 3000, hours(2));
    }
    f.file(&long, 3000, hours(1));
    let before: BTreeSet<_> = walk(f.dir.path());
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "nas");
    assert_eq!(t["files"].as_array().unwrap().len(), names.len() + 1);
    for file in t["files"].as_array().unwrap() {
        assert_eq!(file["verdict"], "pass", "{file}");
    }
    // Nothing new anywhere except the catalog and evidence under data/.
    let after: BTreeSet<_> = walk(f.dir.path());
    let new: Vec<_> = after
        .difference(&before)
        .filter(|p| !p.starts_with(f.data_dir()))
        .collect();
    assert!(new.is_empty(), "written outside data/: {new:?}");
}

fn walk(dir: &std::path::Path) -> BTreeSet<std::path::PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.insert(p);
        }
    }
    out
}

/// A run caught in the middle of restoring a sparse 64 GiB newest file: always
/// sampled, and far too long to restore before a signal arrives.
fn run_restoring_a_huge_file() -> (Fixture, std::path::PathBuf, std::process::Child) {
    let f = healthy("sample_bytes = \"1TB\"");
    let big = f.backups.join("daily/huge.img");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let child = spawn_run(&f, "acme");
    wait_restoring(&f);
    (f, big, child)
}

#[test]
fn interrupted_run_is_recorded_and_leaves_no_scratch() {
    let (f, _big, child) = run_restoring_a_huge_file();
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("recorded as interrupted"), "{stderr}");
    assert!(scratch_is_empty(&f), "scratch left behind");
    let history = f.backproof(&["history", "acme"]);
    assert!(
        history
            .stdout
            .lines()
            .nth(1)
            .unwrap()
            .contains("interrupted"),
        "{}",
        history.stdout
    );
}

#[test]
fn a_run_killed_outright_is_recovered_by_the_next_start() {
    let (f, big, mut child) = run_restoring_a_huge_file();
    let scratch = f.data_dir().join("scratch");
    child.kill().unwrap(); // SIGKILL: no cleanup at all
    child.wait().unwrap();
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        1,
        "the orphan is there"
    );
    std::fs::remove_file(&big).unwrap();
    // The killed run never finished: the next one is the first to compare with nothing.
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    assert_eq!(ev["verdict"], "pass");
    assert!(
        reason_of(check(target(&ev, "nas"), "drift")).contains("first inventory"),
        "{ev:#}"
    );
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        0,
        "orphan scratch removed"
    );
    let history = f.backproof(&["history", "acme"]);
    assert!(
        history
            .stdout
            .lines()
            .nth(2)
            .unwrap()
            .contains("interrupted"),
        "{}",
        history.stdout
    );
}

#[test]
fn links_leaving_the_target_are_not_restored_but_reported() {
    use std::os::unix::fs::symlink;
    let f = healthy("sample_files = 100");
    let outside = f.dir.path().join("host-secret");
    std::fs::write(&outside, b"not a backup").unwrap();
    symlink(&outside, f.backups.join("daily/shadow")).unwrap();
    symlink("/proc/self/environ", f.backups.join("environ")).unwrap();
    symlink("/etc", f.backups.join("etc")).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    let t = target(&ev, "nas");
    assert_eq!(code, 0, "{t:#}");
    assert_eq!(
        t["verdict"], "warn",
        "left-out links warn: nothing is skipped silently"
    );
    assert_eq!(
        t["inventory"]["files"], 6,
        "no host file joined the backup set"
    );
    assert_eq!(t["inventory"]["skipped"], 3);
    assert!(sampled(t, "daily/shadow").is_none());
    assert!(sampled(t, "environ").is_none());
    assert!(
        reason_of(check(t, "inventory")).contains("outside the target, not followed"),
        "{t:#}"
    );
    let text = serde_json::to_string(&ev).unwrap();
    assert!(!text.contains(&blake3::hash(b"not a backup").to_hex().to_string()));
}

//! restic repositories checked with their password (keyed mode, on rustic_core), on
//! repositories made by the real `restic`, compared with `restic check`.

mod common;

use std::time::Duration;

use common::restic::{
    PASSWORD, check_keyed, packs, rel, restic, restic_bounded, source_files, three_backups,
};
use common::*;

/// A job `acme` on the local repository `f.backups`, with `extra` target keys.
fn keyed_job(f: &Fixture, extra: &str) {
    keyed_job_with(f, "", extra);
}

/// [`keyed_job`] with `policy` lines besides `sample_files = 100`.
fn keyed_job_with(f: &Fixture, policy: &str, extra: &str) {
    f.job_with_target(
        &format!("sample_files = 100\n{policy}"),
        &format!(
            "name = \"nas\"\nurl = \"file://{}\"\nformat = \"restic\"\n{extra}",
            f.backups.display()
        ),
    );
}

fn with_password(f: &Fixture, password: &str) {
    with_password_and(f, password, "");
}

/// [`with_password`] with `policy` lines.
fn with_password_and(f: &Fixture, password: &str, policy: &str) {
    let file = f.secret("restic.password", password);
    keyed_job_with(
        f,
        policy,
        &format!("password_file = \"{}\"", file.display()),
    );
}

#[test]
fn keyed_mode_restores_real_files_of_the_newest_snapshot() {
    let f = Fixture::empty();
    with_password(&f, PASSWORD);
    let src = three_backups(f.backups.to_str().unwrap(), &[]);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    // Every file of the last backup restored, each identical to its original.
    check_keyed(&ev, src.path());
    let k = &ev["targets"][0]["restic_keyed"];
    let mut restored: Vec<String> = k["restored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap()[src.path().to_str().unwrap().len() + 1..].to_string())
        .collect();
    restored.sort();
    assert_eq!(restored, source_files(src.path()));
    assert_eq!(k["snapshots"], 3, "{k:#}");
    assert_eq!(k["packs_indexed"], packs(&f.backups).len(), "{k:#}");
    let repo = check(&ev["targets"][0], "repository");
    assert!(reason_of(repo).contains("with the password"), "{repo}");
    // The default restore mode streams: no copy written, none read back.
    assert_eq!(k["mode"], "stream", "{k:#}");
    assert!(
        k["restored"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("read_back").is_none())
    );
    // The bytes keyed mode read count against the egress.
    assert!(
        ev["egress"]["read_bytes"].as_u64().unwrap() > k["read_bytes"].as_u64().unwrap(),
        "{ev:#}"
    );

    // restic agrees that this repository is healthy.
    let (code, out) = restic_bounded(
        f.backups.to_str().unwrap(),
        &["check", "--read-data-subset=100%"],
        Duration::from_secs(120),
    );
    assert_eq!(code, Some(0), "{out}");
}

/// A file that holds the same stretch many times over (as disk images hold zeros) is
/// restored whole, each of its distinct blobs downloaded once: the bytes read follow the
/// repository's size, not the file's.
#[test]
fn keyed_mode_downloads_a_blob_the_file_repeats_once() {
    let f = Fixture::empty();
    with_password(&f, PASSWORD);
    let repo = f.backups.to_str().unwrap();
    restic(repo, &["init"], &[]);
    let src = tempfile::tempdir().unwrap();
    let image = common::suite::content("block", 1 << 20).repeat(24);
    std::fs::write(src.path().join("disk.img"), &image).unwrap();
    restic(repo, &["backup", src.path().to_str().unwrap()], &[]);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    check_keyed(&ev, src.path());
    let k = &ev["targets"][0]["restic_keyed"];
    assert_eq!(k["restored"].as_array().unwrap().len(), 1, "{k:#}");
    let stored: u64 = packs(&f.backups)
        .iter()
        .map(|p| p.metadata().unwrap().len())
        .sum();
    let read = k["read_bytes"].as_u64().unwrap();
    assert!(
        read < image.len() as u64 / 2 && read < 3 * stored,
        "{read} bytes read for a {} byte file stored in {stored} bytes of packs",
        image.len()
    );
}

#[test]
fn keyed_mode_in_disk_mode_writes_each_copy_and_reads_it_back() {
    let f = Fixture::empty();
    with_password_and(&f, PASSWORD, "restore = \"disk\"");
    let src = three_backups(f.backups.to_str().unwrap(), &[]);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    check_keyed(&ev, src.path());
    let k = &ev["targets"][0]["restic_keyed"];
    assert_eq!(k["mode"], "disk", "{k:#}");
    let restored = k["restored"].as_array().unwrap();
    assert!(!restored.is_empty());
    for r in restored {
        let how = r["read_back"].as_str().unwrap_or_default();
        assert!(how == "disk" || how == "cache", "{r:#}");
        assert!(r["reason"].as_str().unwrap().contains("read back"), "{r:#}");
    }
}

#[test]
fn keyed_mode_restores_within_sample_bytes_in_all() {
    let f = Fixture::empty();
    const BUDGET: u64 = 600_000;
    with_password_and(&f, PASSWORD, "sample_bytes = \"600KB\"");
    let src = three_backups(f.backups.to_str().unwrap(), &[]);
    // Each file fits the budget on its own, all of them together do not.
    let sizes: Vec<u64> = source_files(src.path())
        .iter()
        .map(|p| std::fs::metadata(src.path().join(p)).unwrap().len())
        .collect();
    assert!(sizes.iter().any(|&s| s > 0 && s <= BUDGET), "{sizes:?}");
    assert!(
        sizes.iter().filter(|&&s| s <= BUDGET).sum::<u64>() > BUDGET,
        "{sizes:?}"
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let k = &ev["targets"][0]["restic_keyed"];
    let restored = k["restored"].as_array().unwrap();
    assert!(!restored.is_empty(), "{k:#}");
    let total: u64 = restored.iter().map(|r| r["bytes"].as_u64().unwrap()).sum();
    assert!(total <= BUDGET, "{total} bytes restored: {k:#}");
}

#[test]
fn keyed_mode_fails_on_a_missing_pack_and_restic_check_agrees() {
    let f = Fixture::empty();
    with_password(&f, PASSWORD);
    let _src = three_backups(f.backups.to_str().unwrap(), &[]);
    // The largest pack holds the ledger's data. Gone before backproof ever saw the
    // repository: nothing vanished since a previous run, so only keyed mode can tell.
    let largest = packs(&f.backups)
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    std::fs::remove_file(&largest).unwrap();
    let gone = rel(&f.backups, &largest);

    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = &ev["targets"][0];
    let k = &t["restic_keyed"];
    assert_eq!(k["verdict"], "fail", "{k:#}");
    assert_eq!(k["missing_packs"], 1, "{k:#}");
    assert_eq!(k["missing"][0], gone.as_str(), "{k:#}");
    // The ledger's content was in it: its restore fails too.
    let ledger = k["restored"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("/ledger.db"))
        .unwrap_or_else(|| panic!("{k:#}"));
    assert_eq!(ledger["verdict"], "fail", "{ledger}");
    assert!(ledger["blake3"].is_null(), "{ledger}");
    let repo = check(t, "repository");
    assert_eq!(repo["verdict"], "fail", "{repo}");
    assert!(reason_of(repo).contains(&gone), "{repo}");

    // `restic check --read-data-subset` finds the same pack missing (restic 0.14 would
    // retry reading it for 15 minutes: it is stopped after two).
    let (code, out) = restic_bounded(
        f.backups.to_str().unwrap(),
        &["check", "--read-data-subset=1/5"],
        Duration::from_secs(120),
    );
    assert_ne!(code, Some(0), "{out}");
    let id = gone.rsplit('/').next().unwrap();
    assert!(out.contains(&format!("pack {id}: does not exist")), "{out}");
}

#[test]
fn a_wrong_password_is_could_not_verify_and_never_printed() {
    let f = Fixture::empty();
    let wrong = "not-the-password-4711";
    with_password(&f, wrong);
    let _src = three_backups(f.backups.to_str().unwrap(), &[]);
    let out = f.backproof(&["run", "acme", "--json"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let ev = out.json();
    let repo = check(&ev["targets"][0], "repository");
    assert_eq!(repo["verdict"], "error", "{repo}");
    assert!(
        reason_of(repo).contains("the password does not open the repository"),
        "{repo}"
    );
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(wrong), "the password was printed: {text}");
    }
    let shown = f.backproof(&["show", ev["run_id"].as_str().unwrap()]);
    assert!(!shown.stdout.contains(wrong), "{}", shown.stdout);
}

#[test]
fn restic_password_keys_are_checked_with_their_place() {
    let f = Fixture::empty();
    // Not a restic target: a repository password makes no sense there.
    f.job_with_target(
        "",
        &format!(
            "name = \"nas\"\nurl = \"file://{}\"\nrestic_password_env = \"RESTIC_PW\"",
            f.backups.display()
        ),
    );
    let out = f.backproof(&["check-config"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("acme.toml:11"), "{text}");
    assert!(text.contains("targets[1].restic_password_env"), "{text}");
    // Both spellings of the repository password at once.
    keyed_job(
        &f,
        "password_env = \"RESTIC_PW\"\nrestic_password_env = \"RESTIC_PW\"",
    );
    let out = f.backproof(&["check-config"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("give the repository password once"), "{text}");
}

#[test]
fn keyed_mode_fails_on_a_damaged_index_file() {
    let f = Fixture::empty();
    with_password(&f, PASSWORD);
    let _src = three_backups(f.backups.to_str().unwrap(), &[]);
    let index = common::restic::files_in(&f.backups, "index");
    corrupt_in_place(&index[0]);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let k = &ev["targets"][0]["restic_keyed"];
    // A finding, not a "could not verify".
    assert_eq!(k["verdict"], "fail", "{k:#}");
    assert_eq!(k["unreadable_files"], 1, "{k:#}");
    let why = reason_of(k);
    assert!(why.contains("could not be read"), "{k:#}");
    // In plain words: rustic's help texts and backtraces stay out of the report.
    assert!(why.contains("MAC check failed"), "{why}");
    assert!(
        !why.contains("Backtrace") && !why.contains("rustic.cli.rs"),
        "{why}"
    );
}

//! Unattended operation: clean-up never touches what is not ours, and a damaged catalog
//! is explained, with the remedy, and what it lost is noted.

mod common;

use common::*;

/// Two installations (two data folders) sharing one scratch folder, as the README's
/// example `/var/tmp/backproof` invites.
fn two_installations(shared: &std::path::Path) -> (Fixture, Fixture) {
    let make = || {
        // Disk mode: the copy written to the scratch folder shows a restore under way.
        let f = Fixture::new("sample_bytes = \"1TB\"\nrestore = \"disk\"");
        std::fs::write(
            &f.config,
            format!(
                "data_dir = \"data\"\nscratch_dir = \"{}\"\n",
                shared.display()
            ),
        )
        .unwrap();
        f.file("a.tar", 10_000, hours(1));
        f
    };
    (make(), make())
}

/// Waits until a restore is under way in `scratch`.
fn wait_restoring_in(scratch: &std::path::Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let busy = std::fs::read_dir(scratch)
            .map(|d| {
                d.flatten().any(|run| {
                    run.path().join(".backproof-run").exists()
                        && std::fs::read_dir(run.path())
                            .map(|files| {
                                files
                                    .flatten()
                                    .any(|f| !f.file_name().to_string_lossy().starts_with('.'))
                            })
                            .unwrap_or(false)
                })
            })
            .unwrap_or(false);
        if busy {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the restore never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn clean_up_leaves_other_installations_and_people_alone() {
    let shared = tempfile::tempdir().unwrap();
    let (a, b) = two_installations(shared.path());
    let person = shared.path().join("run-payroll-2026");
    std::fs::create_dir_all(&person).unwrap();
    std::fs::write(person.join("ledger.xlsx"), b"someone's work").unwrap();

    // A restores a huge file; meanwhile B's commands clean up.
    std::fs::File::create(a.backups.join("huge.img"))
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let child = spawn_run(&a, "acme");
    wait_restoring_in(shared.path());
    let a_folders = || {
        std::fs::read_dir(shared.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != "run-payroll-2026")
            .count()
    };
    assert_eq!(a_folders(), 1);
    assert_eq!(b.backproof(&["status"]).code, 2);
    let (code, _) = b.run_json("acme", &[]);
    assert_eq!(code, 0);
    assert_eq!(a_folders(), 1, "B removed A's restore in progress");
    assert!(
        person.join("ledger.xlsx").exists(),
        "a person's folder was removed"
    );

    // A's run is still going on and ends only when stopped.
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(a_folders(), 0, "A cleans up its own folder");
    assert!(person.exists());
}

#[test]
fn a_killed_run_leaves_a_folder_only_its_own_installation_removes() {
    let shared = tempfile::tempdir().unwrap();
    let (a, b) = two_installations(shared.path());
    std::fs::File::create(a.backups.join("huge.img"))
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let mut child = spawn_run(&a, "acme");
    wait_restoring_in(shared.path());
    child.kill().unwrap();
    child.wait().unwrap();
    let count = || std::fs::read_dir(shared.path()).unwrap().count();
    assert_eq!(count(), 1);
    b.backproof(&["status"]);
    assert_eq!(count(), 1, "not B's to remove");
    a.backproof(&["status"]);
    assert_eq!(count(), 0, "A removes its orphan");
}

fn flip(db: &std::path::Path, every: usize, upto: usize) {
    let mut bytes = std::fs::read(db).unwrap();
    let upto = upto.min(bytes.len());
    for b in bytes[..upto].iter_mut().step_by(every) {
        *b ^= 0xff;
    }
    std::fs::write(db, bytes).unwrap();
}

#[test]
fn a_damaged_catalog_is_explained_with_the_remedy() {
    let f = Fixture::new("");
    f.file("a.tar", 10_000, hours(1));
    for _ in 0..3 {
        assert_eq!(f.run_json("acme", &[]).0, 0);
    }
    let clean = f.dir.path().join("clean");
    std::fs::rename(f.data_dir().join("catalog"), &clean).unwrap();
    // Damage found when opening, and damage found when reading.
    for (every, upto) in [(1, 65536), (512, usize::MAX)] {
        let _ = std::fs::remove_dir_all(f.data_dir().join("catalog"));
        copy_dir(&clean, &f.data_dir().join("catalog"));
        flip(&f.data_dir().join("catalog/db"), every, upto);
        let out = f.backproof(&["history", "acme"]);
        assert_eq!(out.code, 2, "{}", out.stdout);
        let err = &out.stderr;
        assert!(err.contains("is damaged"), "{err}");
        assert!(err.contains("evidence files under"), "{err}");
        assert!(err.contains(".damaged"), "the remedy: {err}");
        assert_eq!(err.matches("is damaged").count(), 1, "said once: {err}");
        assert!(
            !err.contains("sled::"),
            "library lines stay out without -v: {err}"
        );
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_finished_run_the_catalog_lost_is_put_back_from_its_evidence_file() {
    let f = Fixture::new("");
    f.file("a.tar", 10_000, hours(1));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0);
    let run_id = ev["run_id"].as_str().unwrap().to_string();
    // What a torn write at the end of the database log leaves: the run's "running"
    // record, without the finished one.
    {
        let catalog = backproof::catalog::Catalog::open(&f.data_dir()).unwrap();
        let mut lost = catalog.run(&run_id).unwrap().unwrap();
        lost.status = backproof::evidence::RunStatus::Running;
        lost.verdict = None;
        lost.finished_at = None;
        lost.targets.clear();
        catalog.put_run(&lost).unwrap();
        catalog.flush().unwrap();
    }
    let out = f.backproof(&["history", "acme"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let row = out.stdout.lines().nth(1).unwrap();
    assert!(
        row.contains("PASS"),
        "the finished run is back: {}",
        out.stdout
    );
    assert!(!out.stdout.contains("interrupted"), "{}", out.stdout);
    assert!(
        out.stdout.contains("note: ") && out.stdout.contains("had lost the finished record"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("put back from their evidence files"),
        "{}",
        out.stderr
    );
    // The chain still holds: the document is the same bytes.
    assert_eq!(f.backproof(&["verify-evidence", "acme"]).code, 0);
}

#[test]
fn a_lost_catalog_gets_its_history_and_open_problems_back() {
    let f = Fixture::new("sample_files = 100");
    for n in ["a.tar", "b.tar", "c.tar"] {
        f.file(n, 10_000, hours(1));
    }
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("b.tar"));
    assert_eq!(f.run_json("acme", &[]).0, 1);
    // The catalog is gone (a damaged one moved aside, or lost with its disk).
    std::fs::rename(
        f.data_dir().join("catalog"),
        f.dir.path().join("catalog.damaged"),
    )
    .unwrap();
    let out = f.backproof(&["history", "acme"]);
    assert_eq!(
        out.stdout.lines().filter(|l| l.contains("manual")).count(),
        2,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("lost the finished record of 2 runs"),
        "{}",
        out.stdout
    );
    // The corruption it had proven is still open: the next run fails, not passes.
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    assert_eq!(target(&ev, "nas")["problems"][0]["kind"], "corruption");
}

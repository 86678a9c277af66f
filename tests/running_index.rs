//! Runs still marked running are found through the catalog's index of running runs: a
//! run killed outright (no chance to record anything) is found and recorded as
//! interrupted by the next start.

mod common;

use backproof::catalog::Catalog;
use backproof::evidence::RunStatus;
use common::{Fixture, hours, spawn_run, wait_restoring};

#[test]
fn a_killed_run_is_found_and_interrupted_at_the_next_start() {
    let f = Fixture::new("sample_bytes = \"1TB\"");
    f.file("a.tar", 1000, hours(1));
    let (code, first) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{first:#}");
    // A huge sparse file keeps the next run restoring until it is killed.
    let big = f.backups.join("huge.img");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let mut child = spawn_run(&f, "acme");
    wait_restoring(&f);
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(big).unwrap();

    let killed = {
        let catalog = Catalog::open(&f.data_dir()).unwrap();
        let unfinished = catalog.unfinished().unwrap();
        assert_eq!(unfinished.len(), 1, "the killed run is in the index");
        assert_ne!(unfinished[0].run_id, first["run_id"].as_str().unwrap());
        unfinished[0].run_id.clone()
    };
    // Any command's start interrupts it.
    let out = f.backproof(&["status"]);
    assert!(out.code <= 2, "{}{}", out.stdout, out.stderr);
    let catalog = Catalog::open(&f.data_dir()).unwrap();
    assert!(catalog.unfinished().unwrap().is_empty());
    let ev = catalog.run(&killed).unwrap().unwrap();
    assert_eq!(ev.status, RunStatus::Interrupted);
    assert_eq!(ev.verdict, None);
}

//! The shared target suite against a local folder.

mod common;

use common::suite;

#[tokio::test]
async fn local_folder_passes_the_target_suite() {
    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in suite::fixture_files() {
        let p = dir.path().join(&path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let target = backproof::target::local::open(dir.path()).await.unwrap();
    suite::run(&target).await;
}

#[tokio::test]
async fn local_missing_folder_is_not_found() {
    let err =
        match backproof::target::local::open(std::path::Path::new("/nonexistent/backups")).await {
            Err(e) => e,
            Ok(_) => panic!("opened a missing folder"),
        };
    assert_eq!(err.kind, backproof::target::ErrorKind::NotFound);
    assert!(err.message.contains("does not exist"), "{err}");
}

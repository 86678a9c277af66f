//! The shared target suite against a local folder, and the local folder's link policy.

mod common;

use backproof::config::FollowSymlinks;
use backproof::storage::local;
use backproof::storage::{ErrorKind, Target};
use common::suite;
use futures::TryStreamExt;

#[tokio::test]
async fn local_folder_passes_the_target_suite() {
    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in suite::fixture_files() {
        let p = dir.path().join(&path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let target = local::open(dir.path(), FollowSymlinks::Inside)
        .await
        .unwrap();
    suite::run(&target).await;
    assert_eq!(target.skipped().count, 0);
}

#[tokio::test]
async fn local_missing_folder_is_not_found() {
    let err = match local::open(
        std::path::Path::new("/nonexistent/backups"),
        FollowSymlinks::Inside,
    )
    .await
    {
        Err(e) => e,
        Ok(_) => panic!("opened a missing folder"),
    };
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.message.contains("does not exist"), "{err}");
}

/// A backup folder with links of every kind beside a real file, and a folder outside it.
fn linked_tree() -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("backups");
    let outside = dir.path().join("host");
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::create_dir_all(outside.join("etc")).unwrap();
    std::fs::write(root.join("data/real.bak"), b"real").unwrap();
    std::fs::write(outside.join("secret"), b"host secret").unwrap();
    std::fs::write(outside.join("etc/passwd"), b"host file").unwrap();
    symlink(root.join("data/real.bak"), root.join("inside-link.bak")).unwrap();
    symlink(outside.join("secret"), root.join("shadow-link")).unwrap();
    symlink(outside.join("etc"), root.join("etc-link")).unwrap();
    symlink("/proc/self/environ", root.join("environ-link")).unwrap();
    symlink(root.join("gone"), root.join("broken-link")).unwrap();
    symlink(&root, root.join("data/loop")).unwrap();
    (dir, root)
}

async fn listed(t: &dyn Target) -> Vec<String> {
    let mut names: Vec<String> = t.list().map_ok(|e| e.path).try_collect().await.unwrap();
    names.sort();
    names
}

#[tokio::test]
async fn links_leaving_the_target_are_skipped_and_reported() {
    let (_dir, root) = linked_tree();
    let t = local::open(&root, FollowSymlinks::Inside).await.unwrap();
    assert_eq!(listed(&t).await, vec!["data/real.bak", "inside-link.bak"]);
    let skipped = t.skipped();
    let reasons: std::collections::BTreeMap<&str, &str> = skipped
        .entries
        .iter()
        .map(|(p, r)| (p.as_str(), r.as_str()))
        .collect();
    assert_eq!(skipped.count, 5, "{reasons:#?}");
    assert!(
        reasons["shadow-link"].contains("outside the target"),
        "{reasons:#?}"
    );
    assert!(reasons["etc-link"].contains("outside the target"));
    assert!(reasons["environ-link"].contains("outside the target"));
    assert!(reasons["broken-link"].contains("broken symbolic link"));
    assert!(reasons["data/loop"].contains("loop"));
    // Reading through a link that leaves the target is refused too.
    let err = match t.read("shadow-link").await {
        Err(e) => e,
        Ok(_) => panic!("read a file outside the target"),
    };
    assert_eq!(err.kind, ErrorKind::PermissionDenied, "{err}");
    assert!(t.stat("etc-link/passwd").await.is_err());
}

#[tokio::test]
async fn the_link_policy_can_follow_all_or_none() {
    let (_dir, root) = linked_tree();
    let all = local::open(&root, FollowSymlinks::All).await.unwrap();
    let names = listed(&all).await;
    assert!(names.contains(&"shadow-link".to_string()), "{names:?}");
    assert!(names.contains(&"etc-link/passwd".to_string()), "{names:?}");
    assert!(all.skipped().entries.iter().any(|(p, _)| p == "data/loop"));
    let none = local::open(&root, FollowSymlinks::None).await.unwrap();
    assert_eq!(listed(&none).await, vec!["data/real.bak"]);
    assert_eq!(none.skipped().count, 6);
    assert!(none.read("inside-link.bak").await.is_err());
}

//! Object names are untrusted: whatever a storage returns, a restore writes only inside
//! the run's scratch folder. Storage that allows any key (S3 does) is played here by a
//! small in-memory target; the restore path and the scratch folder are the real ones.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use backproof::scratch::ScratchDir;
use backproof::storage::{ByteStream, Entry, ErrorKind, Target, TargetError};
use futures::StreamExt;
use futures::stream::BoxStream;

const OWNER: backproof::scratch::Owner<'static> = backproof::scratch::Owner {
    installation: "test",
    run_id: "r",
};

struct AnyNames(Vec<String>);

#[async_trait]
impl Target for AnyNames {
    fn location(&self) -> &str {
        "memory://any-names"
    }
    fn list(&self) -> BoxStream<'static, Result<Entry, TargetError>> {
        futures::stream::empty().boxed()
    }
    async fn stat(&self, _: &str) -> Result<Entry, TargetError> {
        Err(TargetError::new(ErrorKind::Other, "unused"))
    }
    async fn read(&self, path: &str) -> Result<ByteStream, TargetError> {
        assert!(self.0.iter().any(|p| p == path));
        let bytes = bytes::Bytes::from(format!("content of {path:?}"));
        Ok(futures::stream::iter([Ok(bytes)]).boxed())
    }
}

fn evil_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "../../../../escaped.txt",
        "/etc/backproof-escaped",
        "/tmp/backproof-escaped-abs",
        "..",
        ".",
        "a/../../../escaped2",
        "..\\..\\..\\escaped3",
        "C:\\Windows\\escaped4",
        "C:escaped5",
        "nul\0byte/../../escaped6",
        "\x1b[2J\x07ctl",
        "",
        "////",
        "x/./../../escaped7",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("{}/{}", "deep".repeat(2000), "n".repeat(10_000)));
    v.push("../".repeat(200) + "escaped8");
    v
}

fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        }
        out.insert(p);
    }
}

#[tokio::test]
async fn restores_of_hostile_names_stay_in_the_scratch_folder() {
    let root = tempfile::tempdir().unwrap();
    // Scratch three levels down, so `../` has somewhere to go if it were followed.
    let base = root.path().join("a/b/scratch");
    let scratch = ScratchDir::create(&base, "run-1", OWNER).unwrap();
    let names = evil_names();
    let target = AnyNames(names.clone());
    let mut created = BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        let dest = scratch.file_for(i, name);
        assert_eq!(dest.parent(), Some(scratch.path()), "{name:?}");
        assert!(
            created.insert(dest.clone()),
            "two names mapped to {}",
            dest.display()
        );
        let r = backproof::verify::restore::restore(&target, name, dest)
            .await
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert_eq!(
            r.streamed,
            blake3::hash(format!("content of {name:?}").as_bytes())
        );
        assert_eq!(Some(r.streamed), r.on_disk);
    }
    let mut everything = BTreeSet::new();
    walk(root.path(), &mut everything);
    let outside: Vec<_> = everything
        .iter()
        .filter(|p| !p.starts_with(scratch.path()) && !scratch.path().starts_with(p))
        .collect();
    assert!(
        outside.is_empty(),
        "written outside the scratch folder: {outside:?}"
    );
    assert!(!Path::new("/etc/backproof-escaped").exists());
    assert!(!Path::new("/tmp/backproof-escaped-abs").exists());
}

#[tokio::test]
async fn an_existing_file_or_link_at_the_destination_is_never_followed() {
    let root = tempfile::tempdir().unwrap();
    let scratch = ScratchDir::create(&root.path().join("s"), "run-2", OWNER).unwrap();
    let victim = root.path().join("victim.txt");
    std::fs::write(&victim, b"keep me").unwrap();
    let dest = scratch.file_for(0, "x");
    std::os::unix::fs::symlink(&victim, &dest).unwrap();
    let target = AnyNames(vec!["x".into()]);
    let err = backproof::verify::restore::restore(&target, "x", dest)
        .await
        .expect_err("must refuse an existing destination");
    assert!(
        matches!(err, backproof::verify::restore::RestoreError::Scratch(_)),
        "{err}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
}

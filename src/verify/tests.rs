//! Unit tests of the run pipeline with an in-memory target whose reads can be made to
//! misbehave (what no real server in the test suite can be made to do on demand).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::catalog::Catalog;
use crate::evidence::{Trigger, Verdict};
use crate::target::{ByteStream, Entry, ErrorKind, Target, TargetError};

use super::{RunRequest, Verifier};

/// Files in memory; `bad_reads[path]` lists which reads (counted from 1) return damaged
/// bytes.
struct Flaky {
    files: Vec<(String, Vec<u8>, DateTime<Utc>)>,
    reads: Mutex<HashMap<String, usize>>,
    bad_reads: Mutex<HashMap<String, Vec<usize>>>,
    /// Files listed but gone by the time they are read.
    gone: Mutex<Vec<String>>,
}

#[async_trait]
impl Target for Flaky {
    fn location(&self) -> &str {
        "memory://flaky"
    }
    fn list(&self) -> BoxStream<'static, Result<Entry, TargetError>> {
        let entries: Vec<_> = self
            .files
            .iter()
            .map(|(p, c, m)| {
                Ok(Entry {
                    path: p.clone(),
                    size: c.len() as u64,
                    modified: *m,
                })
            })
            .collect();
        futures::stream::iter(entries).boxed()
    }
    async fn stat(&self, _: &str) -> Result<Entry, TargetError> {
        Err(TargetError::new(ErrorKind::Other, "unused"))
    }
    async fn read(&self, path: &str) -> Result<ByteStream, TargetError> {
        if self.gone.lock().unwrap().iter().any(|g| g == path) {
            return Err(TargetError::new(
                ErrorKind::NotFound,
                format!("`{path}` does not exist"),
            ));
        }
        let n = {
            let mut reads = self.reads.lock().unwrap();
            let n = reads.entry(path.to_string()).or_default();
            *n += 1;
            *n
        };
        let (_, content, _) = self.files.iter().find(|(p, _, _)| p == path).unwrap();
        let mut bytes = content.clone();
        if self
            .bad_reads
            .lock()
            .unwrap()
            .get(path)
            .is_some_and(|b| b.contains(&n))
        {
            bytes[10] ^= 0xff;
        }
        Ok(futures::stream::iter([Ok(Bytes::from(bytes))]).boxed())
    }
}

fn setup() -> (tempfile::TempDir, crate::config::Config, Arc<Flaky>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs.d")).unwrap();
    std::fs::write(dir.path().join("backproof.toml"), "data_dir = \"data\"\n").unwrap();
    std::fs::write(
        dir.path().join("jobs.d/acme.toml"),
        "client = \"Acme\"\nschedule = \"0 3 * * *\"\n[policy]\nsample_files = 10\n[[targets]]\nname = \"t\"\nurl = \"file:///unused\"\n",
    )
    .unwrap();
    let config = crate::config::load(&dir.path().join("backproof.toml")).unwrap();
    let m = Utc::now() - chrono::Duration::hours(1);
    let flaky = Arc::new(Flaky {
        files: vec![
            ("a.bin".into(), vec![1; 100], m),
            ("b.bin".into(), vec![2; 100], m - chrono::Duration::hours(1)),
        ],
        reads: Mutex::new(HashMap::new()),
        bad_reads: Mutex::new(HashMap::new()),
        gone: Mutex::new(Vec::new()),
    });
    (dir, config, flaky)
}

async fn run(
    config: &crate::config::Config,
    catalog: &Catalog,
    target: Arc<Flaky>,
) -> crate::evidence::RunEvidence {
    let mut v = Verifier::new(config, catalog.clone());
    v.opener = Arc::new(move |_| {
        let t: Arc<dyn Target> = target.clone();
        Box::pin(async move { Ok(t) })
    });
    let req = RunRequest {
        target: None,
        seed: Some(1),
        trigger: Trigger::Manual,
        run_id: None,
        progress: None,
    };
    v.run(config.job("acme").unwrap(), req)
        .await
        .unwrap()
        .evidence
}

#[tokio::test]
async fn a_mismatch_that_does_not_repeat_is_a_warning_and_one_that_does_is_a_failure() {
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.verdict, Some(Verdict::Pass));
    let baseline = blake3::hash(&[1; 100]).to_hex().to_string();

    // The 2nd read of a.bin (first of run 2) is damaged; the 3rd is fine.
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("a.bin".into(), vec![2]);
    let ev = run(&config, &catalog, flaky.clone()).await;
    let a = ev.targets[0]
        .files
        .iter()
        .find(|f| f.path == "a.bin")
        .unwrap();
    assert_eq!(a.verdict, Verdict::Warn, "{}", a.reason);
    assert_ne!(a.streamed_blake3.as_deref(), Some(baseline.as_str()));
    assert_eq!(a.second_read_blake3.as_deref(), Some(baseline.as_str()));
    assert!(
        a.reason.contains("second read matched the baseline"),
        "{}",
        a.reason
    );
    assert_eq!(ev.verdict, Some(Verdict::Warn));

    // Every read of a.bin damaged the same way: corruption, both reads in the evidence.
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("a.bin".into(), (1..100).collect());
    let ev = run(&config, &catalog, flaky.clone()).await;
    let a = ev.targets[0]
        .files
        .iter()
        .find(|f| f.path == "a.bin")
        .unwrap();
    assert_eq!(a.verdict, Verdict::Fail);
    assert_eq!(a.second_read_blake3, a.streamed_blake3);
    assert!(a.reason.contains("same bytes"), "{}", a.reason);
    assert_eq!(ev.verdict, Some(Verdict::Fail));
}

#[tokio::test]
async fn files_that_vanish_before_their_restore_prove_nothing() {
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    *flaky.gone.lock().unwrap() = vec!["a.bin".into(), "b.bin".into()];
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert!(
        t.files
            .iter()
            .all(|f| f.verdict == Verdict::Warn && !f.verified())
    );
    let restore = t
        .checks
        .iter()
        .find(|c| c.check == crate::evidence::CheckKind::Restore)
        .unwrap();
    assert_eq!(restore.verdict, Verdict::Error, "{}", restore.reason);
    assert!(
        restore.reason.contains("nothing could be restored"),
        "{}",
        restore.reason
    );
    assert_eq!(t.coverage.as_ref().unwrap().verified_files, 0);
    assert_eq!(ev.verdict, Some(Verdict::Error));
}

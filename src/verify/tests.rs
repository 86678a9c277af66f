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
use crate::storage::{ByteStream, Entry, ErrorKind, Target, TargetError};

use super::{RunRequest, Verifier};

/// A file in memory: path, content, modification time.
type MemFile = (String, Vec<u8>, DateTime<Utc>);

/// Files in memory; `bad_reads[path]` lists which reads (counted from 1) return damaged
/// bytes.
struct Flaky {
    files: Mutex<Vec<MemFile>>,
    reads: Mutex<HashMap<String, usize>>,
    bad_reads: Mutex<HashMap<String, Vec<usize>>>,
    /// Files listed but gone by the time they are read.
    gone: Mutex<Vec<String>>,
    /// Files whose reads are refused (permission denied).
    denied: Mutex<Vec<String>>,
    /// Files each read of which returns other damaged bytes.
    unstable: Mutex<Vec<String>>,
    /// Files whose reads break after their first half.
    broken: Mutex<Vec<String>>,
    /// Files whose reads time out (the whole target stopped answering).
    timeouts: Mutex<Vec<String>>,
}

#[async_trait]
impl Target for Flaky {
    fn location(&self) -> &str {
        "memory://flaky"
    }
    fn list(&self) -> BoxStream<'static, Result<Entry, TargetError>> {
        // In path order, as every target lists.
        let mut entries: Vec<Entry> = self
            .files
            .lock()
            .unwrap()
            .iter()
            .map(|(p, c, m)| Entry {
                path: p.clone(),
                size: c.len() as u64,
                modified: *m,
            })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        futures::stream::iter(entries.into_iter().map(Ok)).boxed()
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
        if self.denied.lock().unwrap().iter().any(|g| g == path) {
            return Err(TargetError::new(
                ErrorKind::PermissionDenied,
                format!("`{path}`: permission denied"),
            ));
        }
        if self.timeouts.lock().unwrap().iter().any(|g| g == path) {
            return Err(TargetError::new(
                ErrorKind::Timeout,
                "no answer in 30 s".to_string(),
            ));
        }
        let n = {
            let mut reads = self.reads.lock().unwrap();
            let n = reads.entry(path.to_string()).or_default();
            *n += 1;
            *n
        };
        let mut bytes = {
            let files = self.files.lock().unwrap();
            let (_, content, _) = files.iter().find(|(p, _, _)| p == path).unwrap();
            content.clone()
        };
        if self
            .bad_reads
            .lock()
            .unwrap()
            .get(path)
            .is_some_and(|b| b.contains(&n))
        {
            bytes[10] ^= 0xff;
        }
        if self.unstable.lock().unwrap().iter().any(|u| u == path) {
            bytes[20] ^= n as u8;
        }
        if self.broken.lock().unwrap().iter().any(|b| b == path) {
            let half = Bytes::from(bytes[..bytes.len() / 2].to_vec());
            return Ok(futures::stream::iter([
                Ok(half),
                Err(TargetError::new(ErrorKind::Read, "I/O error")),
            ])
            .boxed());
        }
        Ok(futures::stream::iter([Ok(Bytes::from(bytes))]).boxed())
    }
}

fn setup() -> (tempfile::TempDir, crate::config::Config, Arc<Flaky>) {
    let m = Utc::now() - chrono::Duration::hours(1);
    setup_job(
        "",
        &["t"],
        vec![
            ("a.bin".into(), vec![1; 100], m),
            ("b.bin".into(), vec![2; 100], m - chrono::Duration::hours(1)),
        ],
    )
}

/// The job `acme` with `extra` after its `[policy]` (`sample_files = 10`) and one target
/// per name, every target opening the same in-memory `files`.
fn setup_job(
    extra: &str,
    targets: &[&str],
    files: Vec<MemFile>,
) -> (tempfile::TempDir, crate::config::Config, Arc<Flaky>) {
    setup_job_with("", extra, targets, files)
}

/// [`setup_job`] with `top` among the job's own keys (before `[policy]`).
fn setup_job_with(
    top: &str,
    extra: &str,
    targets: &[&str],
    files: Vec<MemFile>,
) -> (tempfile::TempDir, crate::config::Config, Arc<Flaky>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs.d")).unwrap();
    std::fs::write(dir.path().join("backproof.toml"), "data_dir = \"data\"\n").unwrap();
    let mut job = format!(
        "client = \"Acme\"\nschedule = \"0 3 * * *\"\n{top}\n[policy]\n{}{extra}\n",
        if extra.contains("sample_files") {
            ""
        } else {
            "sample_files = 10\n"
        }
    );
    for t in targets {
        // A name may be followed by more lines of its own (`t\n[[targets.canaries]]...`).
        let (name, more) = t.split_once('\n').unwrap_or((t, ""));
        job.push_str(&format!(
            "[[targets]]\nname = \"{name}\"\nurl = \"file:///unused\"\n{more}\n"
        ));
    }
    std::fs::write(dir.path().join("jobs.d/acme.toml"), job).unwrap();
    let config = crate::config::load(&dir.path().join("backproof.toml")).unwrap();
    let flaky = Arc::new(Flaky {
        files: Mutex::new(files),
        reads: Mutex::new(HashMap::new()),
        bad_reads: Mutex::new(HashMap::new()),
        gone: Mutex::new(Vec::new()),
        denied: Mutex::new(Vec::new()),
        unstable: Mutex::new(Vec::new()),
        broken: Mutex::new(Vec::new()),
        timeouts: Mutex::new(Vec::new()),
    });
    (dir, config, flaky)
}

async fn run(
    config: &crate::config::Config,
    catalog: &Catalog,
    target: Arc<Flaky>,
) -> crate::evidence::RunEvidence {
    run_unreachable(config, catalog, target, &[]).await
}

/// A run whose progress is reported to `progress`.
async fn run_watched(
    config: &crate::config::Config,
    catalog: &Catalog,
    target: Arc<Flaky>,
    progress: Arc<crate::progress::Progress>,
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
        progress: Some(progress),
    };
    crate::app::runs::RunService::new(config, v)
        .run(config.job("acme").unwrap(), req)
        .await
        .unwrap()
        .evidence
}

/// A run in which the targets named in `unreachable` cannot be opened.
async fn run_unreachable(
    config: &crate::config::Config,
    catalog: &Catalog,
    target: Arc<Flaky>,
    unreachable: &[&str],
) -> crate::evidence::RunEvidence {
    let mut v = Verifier::new(config, catalog.clone());
    let unreachable: Vec<String> = unreachable.iter().map(|s| s.to_string()).collect();
    v.opener = Arc::new(move |spec| {
        let t: Arc<dyn Target> = target.clone();
        let down = unreachable.contains(&spec.name);
        Box::pin(async move {
            if down {
                Err(TargetError::new(
                    ErrorKind::Unreachable,
                    "connection refused by 127.0.0.1:1",
                ))
            } else {
                Ok(t)
            }
        })
    });
    let req = RunRequest {
        target: None,
        seed: Some(1),
        trigger: Trigger::Manual,
        run_id: None,
        progress: None,
    };
    crate::app::runs::RunService::new(config, v)
        .run(config.job("acme").unwrap(), req)
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
    // Two files that vanished warn; nothing restored is an error, told as such.
    let kinds: Vec<_> = t
        .findings
        .iter()
        .map(|f| (f.kind, f.verdict, f.files))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (crate::evidence::ProblemKind::NotVerified, Verdict::Error, 0),
            (crate::evidence::ProblemKind::Other, Verdict::Warn, 2),
        ]
    );
    assert!(
        t.findings[1]
            .summary
            .starts_with("2 restored files need attention: "),
        "{}",
        t.findings[1].summary
    );
    assert!(
        t.findings[1].summary.ends_with(" (and 1 more)"),
        "{}",
        t.findings[1].summary
    );
}

fn file_of<'a>(
    ev: &'a crate::evidence::RunEvidence,
    target: usize,
    path: &str,
) -> &'a crate::evidence::SampledFile {
    ev.targets[target]
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} was not sampled"))
}

fn check_of(
    t: &crate::evidence::TargetEvidence,
    kind: crate::evidence::CheckKind,
) -> &crate::evidence::CheckResult {
    t.checks
        .iter()
        .find(|c| c.check == kind)
        .unwrap_or_else(|| panic!("no {kind:?} check"))
}

#[tokio::test]
async fn a_passing_target_says_what_was_restored_and_a_warning_target_says_its_warning() {
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.targets[0].verdict, Verdict::Pass);
    assert_eq!(
        ev.targets[0].summary,
        "2 files (200 B) restored and verified"
    );
    // A read that does not repeat its damage warns: the summary is that warning.
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("a.bin".into(), vec![2]);
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert_eq!(t.verdict, Verdict::Warn);
    assert_eq!(t.summary, t.findings[0].summary);
    assert!(t.summary.contains("second read matched"), "{}", t.summary);
}

#[tokio::test]
async fn three_different_reads_of_a_file_could_not_be_verified() {
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    assert_eq!(
        run(&config, &catalog, flaky.clone()).await.verdict,
        Some(Verdict::Pass)
    );
    *flaky.unstable.lock().unwrap() = vec!["a.bin".into()];
    let ev = run(&config, &catalog, flaky.clone()).await;
    let a = file_of(&ev, 0, "a.bin");
    assert_eq!(a.verdict, Verdict::Error, "{}", a.reason);
    assert!(
        a.reason.contains("three different contents"),
        "{}",
        a.reason
    );
    assert!(a.second_read_blake3.is_some());
    assert_ne!(a.second_read_blake3, a.streamed_blake3);
    assert!(!a.verified());
    assert_eq!(ev.verdict, Some(Verdict::Error));
    assert_eq!(ev.effective_verdict().exit_code(), 2);
    // Its baseline stays the one proven good: a stable read passes again.
    flaky.unstable.lock().unwrap().clear();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(file_of(&ev, 0, "a.bin").verdict, Verdict::Pass);
}

/// A proven problem outranks a missing proof in every place verdicts combine: the files
/// of a target, its checks, its findings and summary, the targets of a job, the exit
/// code, the email subject and the status.
#[tokio::test]
async fn a_proven_problem_outranks_a_missing_proof_everywhere() {
    use crate::evidence::{CheckKind, ProblemKind};
    let m = Utc::now() - chrono::Duration::hours(1);
    let (_dir, config, flaky) = setup_job(
        "",
        &["t", "u"],
        vec![
            ("a.bin".into(), vec![1; 100], m),
            ("b.bin".into(), vec![2; 100], m - chrono::Duration::hours(1)),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.verdict, Some(Verdict::Pass));
    // Now a.bin is corrupt (every read), b.bin cannot be read, and u cannot be reached.
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("a.bin".into(), (1..100).collect());
    *flaky.denied.lock().unwrap() = vec!["b.bin".into()];
    let ev = run_unreachable(&config, &catalog, flaky.clone(), &["u"]).await;
    assert_eq!(file_of(&ev, 0, "a.bin").verdict, Verdict::Fail);
    assert_eq!(file_of(&ev, 0, "b.bin").verdict, Verdict::Error);
    let t = &ev.targets[0];
    assert_eq!(check_of(t, CheckKind::Restore).verdict, Verdict::Fail);
    assert_eq!(t.verdict, Verdict::Fail);
    assert_eq!(
        (t.findings[0].kind, t.findings[0].verdict),
        (ProblemKind::Corruption, Verdict::Fail)
    );
    assert!(
        t.findings
            .iter()
            .any(|f| f.kind == ProblemKind::NotVerified && f.verdict == Verdict::Error),
        "{:?}",
        t.findings
    );
    assert_eq!(t.summary, t.findings[0].summary);
    assert_eq!(ev.targets[1].verdict, Verdict::Error);
    assert_eq!(
        ev.targets[1].summary,
        "could not verify: connection refused by 127.0.0.1:1"
    );
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    assert_eq!(ev.effective_verdict().exit_code(), 1);
    let subject = crate::report::email::subject(&ev, false);
    assert!(
        subject.starts_with("[FAIL] Acme: 1 corrupt file on t"),
        "{subject}"
    );
    let status = crate::status::collect(&config, &catalog, None).unwrap();
    assert_eq!(status.rows[0].state, crate::status::ClientState::Problem);
    assert_eq!(status.exit_code(), 1);
    // Next run t cannot be reached: its open corruption still fails it (it is not
    // "could not verify"), and u, now listed, fails on the same corrupt file.
    let ev = run_unreachable(&config, &catalog, flaky.clone(), &["t"]).await;
    let t = &ev.targets[0];
    assert_eq!(check_of(t, CheckKind::Access).verdict, Verdict::Error);
    assert_eq!(t.verdict, Verdict::Fail);
    assert_eq!(t.findings[0].kind, ProblemKind::Corruption);
    assert_eq!(t.summary, t.findings[0].summary);
    assert!(
        t.summary.starts_with("still open since run "),
        "{}",
        t.summary
    );
    assert_eq!(ev.targets[1].verdict, Verdict::Fail);
    assert_eq!(ev.verdict, Some(Verdict::Fail));
}

#[tokio::test]
async fn the_newest_file_left_out_by_the_budget_is_never_a_pass() {
    let m = Utc::now() - chrono::Duration::hours(1);
    let (_dir, config, flaky) = setup_job(
        "[budget]\nper_run = 200",
        &["t"],
        vec![
            ("new.bin".into(), vec![1; 300], m),
            (
                "old1.bin".into(),
                vec![2; 50],
                m - chrono::Duration::hours(1),
            ),
            (
                "old2.bin".into(),
                vec![3; 50],
                m - chrono::Duration::hours(2),
            ),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    let restored: Vec<&str> = t.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(restored, vec!["old1.bin", "old2.bin"]);
    assert!(t.files.iter().all(|f| f.verified()));
    let restore = check_of(t, crate::evidence::CheckKind::Restore);
    assert_eq!(restore.verdict, Verdict::Warn, "{}", restore.reason);
    assert!(
        restore
            .reason
            .contains("smaller than the newest file new.bin (300 B), which was not restored"),
        "{}",
        restore.reason
    );
    assert_eq!(t.verdict, Verdict::Warn);
    // The check is worse than any file: its own finding, in its own words.
    let found = t
        .findings
        .iter()
        .find(|f| f.check == crate::evidence::CheckKind::Restore)
        .unwrap();
    assert_eq!(
        (found.kind, found.verdict),
        (crate::evidence::ProblemKind::Other, Verdict::Warn)
    );
    assert_eq!(found.summary, restore.reason);
    assert_eq!(ev.verdict, Some(Verdict::Warn));
    assert_eq!(ev.egress.read_bytes, 100);
}

#[tokio::test]
async fn a_weekly_budget_is_shared_by_the_targets_of_a_run() {
    let m = Utc::now() - chrono::Duration::hours(1);
    let (_dir, config, flaky) = setup_job(
        "[budget]\nper_week = 250",
        &["t", "u"],
        vec![
            ("a.bin".into(), vec![1; 100], m),
            ("b.bin".into(), vec![2; 100], m - chrono::Duration::hours(1)),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    // A run of eight days ago read a lot: it no longer counts against the week.
    let mut old: crate::evidence::RunEvidence = serde_json::from_value(serde_json::json!({
        "schema": 2, "run_id": "20200101-000000-0000", "job": "acme", "client": "Acme",
        "host": "h", "backproof_version": "0", "trigger": "manual",
        "started_at": "2020-01-01T00:00:00Z", "finished_at": "2020-01-01T00:01:00Z",
        "status": "finished", "verdict": "pass", "seed": 1, "targets": []
    }))
    .unwrap();
    old.started_at = Utc::now() - chrono::Duration::days(8);
    old.egress.read_bytes = 1000;
    catalog.put_run(&old).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.egress.week_used_before, 0);
    // t reads 200 bytes; 50 are left for u, less than its newest file.
    assert_eq!(ev.targets[0].files.len(), 2);
    assert!(ev.targets[1].files.is_empty());
    let restore = check_of(&ev.targets[1], crate::evidence::CheckKind::Restore);
    assert_eq!(restore.verdict, Verdict::Error);
    assert!(
        restore
            .reason
            .starts_with("nothing could be restored: the egress budget left (50 B)"),
        "{}",
        restore.reason
    );
    assert_eq!(
        restore.reason.matches("egress budget").count(),
        1,
        "{}",
        restore.reason
    );
    assert_eq!(ev.egress.read_bytes, 200);
    assert_eq!(ev.egress.per_week, Some(250));
    assert_eq!(ev.verdict, Some(Verdict::Error));
    // The next run has 50 bytes of the week left: nothing fits, nothing is read.
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.egress.week_used_before, 200);
    assert_eq!(ev.egress.read_bytes, 0);
    assert!(ev.targets.iter().all(|t| t.files.is_empty()));
}

#[test]
fn the_bytes_left_are_the_smaller_of_the_run_and_the_week_budget() {
    use crate::evidence::Egress;
    let e = |per_run, per_week, week_used_before, read_bytes| Egress {
        read_bytes,
        per_run,
        per_week,
        week_used_before,
    };
    assert_eq!(e(None, None, 500, 30).left(), None);
    assert_eq!(e(Some(100), None, 500, 30).left(), Some(70));
    assert_eq!(e(None, Some(1000), 100, 30).left(), Some(870));
    assert_eq!(e(Some(100), Some(1000), 950, 30).left(), Some(20));
    assert_eq!(e(Some(100), Some(1000), 100, 30).left(), Some(70));
    // Overspent: nothing left, never a wrap-around.
    assert_eq!(e(Some(100), Some(1000), 990, 130).left(), Some(0));
}

/// Stores `document` as the catalog's record of `ev`'s run, as a tamperer with access
/// to the catalog would.
fn store_document(catalog: &Catalog, ev: &crate::evidence::RunEvidence, document: &[u8]) {
    catalog
        .finish_run(ev, document, None, &crate::catalog::RunCommit::default())
        .unwrap();
}

/// `ev` changed the way a tamperer would, and its bytes.
fn forged(ev: &crate::evidence::RunEvidence) -> (crate::evidence::RunEvidence, Vec<u8>) {
    let mut ev = ev.clone();
    ev.host = "elsewhere".into();
    let bytes = serde_json::to_vec(&ev).unwrap();
    (ev, bytes)
}

/// The chain's problems as (run, reason) pairs.
fn chain_problems(config: &crate::config::Config, catalog: &Catalog) -> Vec<(String, String)> {
    let c = crate::chain::verify(catalog, "acme", &config.data_dir.join("evidence")).unwrap();
    assert_eq!(c.is_intact(), c.problems.is_empty());
    c.problems
        .into_iter()
        .map(|p| (p.run_id, p.reason))
        .collect()
}

fn has(problems: &[(String, String)], run: &str, words: &str) -> bool {
    problems
        .iter()
        .any(|(r, reason)| r == run && reason.contains(words))
}

#[tokio::test]
async fn the_runs_seal_each_other_and_the_chain_names_every_break() {
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(run(&config, &catalog, flaky.clone()).await);
    }
    let ids: Vec<String> = runs.iter().map(|e| e.run_id.clone()).collect();
    let evidence = config.data_dir.join("evidence");
    let c = crate::chain::verify(&catalog, "acme", &evidence).unwrap();
    assert!(c.is_intact(), "{:?}", c.problems);
    assert_eq!((c.documents, c.head.as_deref()), (3, Some(ids[2].as_str())));
    assert_eq!(runs[1].previous_run.as_deref(), Some(ids[0].as_str()));

    // A run that did not finish is not part of the chain.
    let mut unfinished = runs[2].clone();
    unfinished.run_id = "29991231-235959-0000".into();
    unfinished.status = crate::evidence::RunStatus::Running;
    unfinished.verdict = None;
    catalog.put_run(&unfinished).unwrap();
    let c = crate::chain::verify(&catalog, "acme", &evidence).unwrap();
    assert!(c.is_intact(), "{:?}", c.problems);
    assert_eq!((c.documents, c.head.as_deref()), (3, Some(ids[2].as_str())));
    catalog.remove_run(&unfinished.run_id).unwrap();

    // The newest evidence file forged: no successor seals it, its file is compared.
    let file = |id: &str| evidence.join("acme").join(format!("{id}.json"));
    let head = std::fs::read(file(&ids[2])).unwrap();
    std::fs::write(file(&ids[2]), forged(&runs[2]).1).unwrap();
    let p = chain_problems(&config, &catalog);
    assert!(has(&p, &ids[2], "differs from the document"), "{p:?}");
    assert_eq!(p.len(), 1, "{p:?}");
    std::fs::write(file(&ids[2]), &head).unwrap();
    assert!(chain_problems(&config, &catalog).is_empty());

    // The oldest file missing, one file planted: both named, nothing more.
    let oldest = std::fs::read(file(&ids[0])).unwrap();
    std::fs::remove_file(file(&ids[0])).unwrap();
    std::fs::write(file("20200101-000000-beef"), &head).unwrap();
    let p = chain_problems(&config, &catalog);
    assert!(has(&p, &ids[0], "is missing"), "{p:?}");
    assert!(
        has(&p, "20200101-000000-beef", "is not a finished run"),
        "{p:?}"
    );
    assert_eq!(p.len(), 2, "{p:?}");
    // Many planted files: the first 20 named, the rest counted.
    for i in 0..21 {
        std::fs::write(file(&format!("20200102-0000{i:02}-beef")), b"{}").unwrap();
    }
    let p = chain_problems(&config, &catalog);
    assert!(
        has(&p, "...", "2 more evidence files"),
        "22 planted, 20 named: {p:?}"
    );
    assert_eq!(p.len(), 1 + 20 + 1, "{p:?}");
    for i in 0..21 {
        std::fs::remove_file(file(&format!("20200102-0000{i:02}-beef"))).unwrap();
    }
    std::fs::remove_file(file("20200101-000000-beef")).unwrap();
    // A file that is there but cannot be read is not called missing.
    std::fs::create_dir(file(&ids[0])).unwrap();
    let p = chain_problems(&config, &catalog);
    assert!(has(&p, &ids[0], "cannot be read"), "{p:?}");
    std::fs::remove_dir(file(&ids[0])).unwrap();
    std::fs::write(file(&ids[0]), &oldest).unwrap();
    assert!(chain_problems(&config, &catalog).is_empty());

    // Stores `bytes` as `ev`'s document, in the catalog and in its file alike, and checks.
    let record = |ev: &crate::evidence::RunEvidence, bytes: &[u8]| {
        store_document(&catalog, ev, bytes);
        std::fs::write(file(&ev.run_id), bytes).unwrap();
        chain_problems(&config, &catalog)
    };
    let sealed_after = format!("changed after run {} sealed it", ids[2]);
    // The middle document changed in the catalog (and its file with it): its successor's
    // seal no longer holds.
    let (ev, bytes) = forged(&runs[1]);
    let p = record(&ev, &bytes);
    assert!(has(&p, &ids[1], &sealed_after), "{p:?}");
    assert_eq!(p.len(), 1, "{p:?}");
    // A document that names no run before it, or names the wrong one.
    let mut ev = runs[1].clone();
    ev.previous_run = None;
    let p = record(&ev, &serde_json::to_vec(&ev).unwrap());
    assert!(has(&p, &ids[1], "it has a hash but names no run"), "{p:?}");
    ev.previous_hash = None;
    let p = record(&ev, &serde_json::to_vec(&ev).unwrap());
    assert!(
        has(
            &p,
            &ids[1],
            &format!("does not seal the run before it, {}", ids[0])
        ),
        "{p:?}"
    );
    ev.previous_run = Some("20200101-000000-beef".into());
    let p = record(&ev, &serde_json::to_vec(&ev).unwrap());
    assert!(has(&p, &ids[1], "but the run before it is"), "{p:?}");
    // Not evidence at all.
    let p = record(&runs[1], b"not json");
    assert!(has(&p, &ids[1], "not valid evidence"), "{p:?}");
    // A stored document that cannot be unpacked: a finding of its run, not the end of the
    // check (the run after it is still checked, and its seal cannot match).
    catalog.put_stored_run(&ids[1], &[0x28, 0xb5, 0x2f, 0xfd, 0, 1]);
    let p = chain_problems(&config, &catalog);
    assert!(
        has(&p, &ids[1], "the stored document cannot be read"),
        "{p:?}"
    );
    assert!(has(&p, &ids[1], &sealed_after), "{p:?}");
    // Put back as it was: intact again.
    record(&runs[1], &serde_json::to_vec(&runs[1]).unwrap());
    let c = crate::chain::verify(&catalog, "acme", &evidence).unwrap();
    assert!(c.is_intact(), "{:?}", c.problems);

    // The oldest run removed from the catalog: the next one seals a run that is gone,
    // and the file of the removed one belongs to no run.
    assert!(catalog.remove_run(&ids[0]).unwrap());
    let p = chain_problems(&config, &catalog);
    assert!(
        has(
            &p,
            &ids[1],
            &format!("it seals run {}, which is no longer in the catalog", ids[0])
        ),
        "{p:?}"
    );
    assert!(has(&p, &ids[0], "is not a finished run"), "{p:?}");
}

#[tokio::test]
async fn acknowledging_checks_what_it_is_asked_and_a_carried_problem_then_warns() {
    use crate::ack::{AckError, AckRequest, acknowledge};
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("a.bin".into(), (1..100).collect());
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    let key = ev.targets[0].problems[0].key.clone();
    let now = Utc::now();
    let req = |target: Option<&str>, problem: Option<&str>, reason: &str, until| AckRequest {
        target: target.map(str::to_string),
        problem: problem.map(str::to_string),
        reason: reason.into(),
        until,
        by: "ann".into(),
    };
    let ack = |job: &str, r: &AckRequest| acknowledge(&config, &catalog, job, r, now);
    let ok = req(None, None, "restoring from tape", None);
    assert!(matches!(ack("other", &ok), Err(AckError::UnknownJob(_))));
    assert!(matches!(
        ack("acme", &req(Some("x"), None, "why", None)),
        Err(AckError::UnknownTarget { .. })
    ));
    assert!(matches!(
        ack("acme", &req(None, None, "  ", None)),
        Err(AckError::NoReason)
    ));
    assert!(matches!(
        ack("acme", &req(None, None, "why", Some(now))),
        Err(AckError::UntilInPast(_))
    ));
    assert!(matches!(
        ack("acme", &req(None, Some("BP-00000000"), "why", None)),
        Err(AckError::NoSuchProblem { .. })
    ));
    // Nothing was acknowledged by the refused requests.
    assert!(catalog.open_problems("acme", "t").unwrap()[0].ack.is_none());
    // The key as reports print it, in capitals; until a second from now is in the future.
    let shown = format!("BP-{}", key.to_uppercase());
    let done = ack(
        "acme",
        &req(
            Some("t"),
            Some(&shown),
            " restoring from tape ",
            Some(now + chrono::Duration::seconds(1)),
        ),
    )
    .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0].key.as_str(), done[0].target.as_str(), done[0].files),
        (key.as_str(), "t", 1)
    );
    assert_eq!(done[0].kind, crate::evidence::ProblemKind::Corruption);
    let stored = catalog.open_problems("acme", "t").unwrap()[0]
        .ack
        .clone()
        .unwrap();
    assert_eq!(
        (stored.by.as_str(), stored.reason.as_str()),
        ("ann", "restoring from tape")
    );
    // All open problems of the job at once.
    assert_eq!(ack("acme", &ok).unwrap().len(), 1);
}

#[tokio::test]
async fn progress_counts_what_is_restored() {
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let progress = Arc::new(crate::progress::Progress::new("r", "acme"));
    let ev = run_watched(&config, &catalog, flaky.clone(), progress.clone()).await;
    assert_eq!(ev.verdict, Some(Verdict::Pass));
    let s = progress.snapshot();
    assert_eq!(s.target.as_deref(), Some("t"));
    assert_eq!(s.phase.as_deref(), Some("restoring"));
    assert_eq!((s.listed, s.files_total, s.files_done), (2, 2, 2));
    assert_eq!((s.bytes_total, s.bytes_done), (200, 200));
    assert!(s.current_file.is_some());
}

#[tokio::test]
async fn the_restore_figures_add_up() {
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    // A damaged first read of a.bin: read twice, so 300 bytes read for 200 verified.
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("a.bin".into(), vec![2]);
    let progress = Arc::new(crate::progress::Progress::new("r", "acme"));
    let ev = run_watched(&config, &catalog, flaky.clone(), progress.clone()).await;
    // The second read shows in the progress too.
    let s = progress.snapshot();
    assert_eq!((s.bytes_total, s.bytes_done), (200, 300));
    let t = &ev.targets[0];
    let r = t.restore.as_ref().unwrap();
    assert_eq!((r.files, r.bytes, r.read_bytes), (2, 200, 300));
    assert_eq!(ev.egress.read_bytes, 300);
    assert!(r.seconds > 0.0);
    let rate = r.bytes as f64 / r.seconds / 1e6;
    assert!(
        (r.throughput_mb_s - rate).abs() <= rate * 1e-9,
        "{} vs {rate}",
        r.throughput_mb_s
    );
    let projected = r.projected_full_restore_seconds.unwrap();
    let inventory = t.inventory.as_ref().unwrap().bytes as f64;
    let expected = inventory / (r.throughput_mb_s * 1e6);
    assert!(
        (projected - expected).abs() <= expected * 1e-9,
        "{projected} vs {expected}"
    );
}

#[tokio::test]
async fn coverage_counts_each_version_once_and_again_after_thirty_days() {
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    let c = ev.targets[0].coverage.clone().unwrap();
    assert_eq!((c.verified_files, c.verified_bytes), (2, 200));
    assert_eq!((c.verified_files_30d, c.verified_bytes_30d), (2, 200));
    // Verified again: not counted twice.
    let ev = run(&config, &catalog, flaky.clone()).await;
    let c = ev.targets[0].coverage.clone().unwrap();
    assert_eq!((c.verified_files, c.verified_bytes), (2, 200));
    assert_eq!((c.verified_files_30d, c.verified_bytes_30d), (2, 200));
    assert!(
        ev.targets[0]
            .checks
            .iter()
            .any(|c| c.check == crate::evidence::CheckKind::Coverage
                && c.verdict == Verdict::Pass
                && c.reason.starts_with("2 of 2 files (100%)")),
        "{:?}",
        ev.targets[0].checks
    );
    // a.bin was last verified 40 days ago (and b.bin 29): a.bin is verified once more in
    // the last 30 days once this run restores it, b.bin already was.
    for (path, days) in [("a.bin", 40), ("b.bin", 29)] {
        let mut rec = catalog.file("acme", "t", path).unwrap().unwrap();
        rec.verified_at = Utc::now() - chrono::Duration::days(days);
        catalog.put_file("acme", "t", path, &rec).unwrap();
    }
    let ev = run(&config, &catalog, flaky.clone()).await;
    let c = ev.targets[0].coverage.clone().unwrap();
    assert_eq!((c.verified_files, c.verified_bytes), (2, 200));
    assert_eq!((c.verified_files_30d, c.verified_bytes_30d), (2, 200));
    // A new version of a.bin of the same size: verified for the first time.
    let (path, content, modified) = flaky.take("a.bin");
    flaky.put((path, content, modified + chrono::Duration::minutes(1)));
    let ev = run(&config, &catalog, flaky.clone()).await;
    let c = ev.targets[0].coverage.clone().unwrap();
    assert_eq!((c.verified_files, c.verified_bytes), (2, 200));
    // Both 40 days ago: both count again.
    for path in ["a.bin", "b.bin"] {
        let mut rec = catalog.file("acme", "t", path).unwrap().unwrap();
        rec.verified_at = Utc::now() - chrono::Duration::days(40);
        catalog.put_file("acme", "t", path, &rec).unwrap();
    }
    let ev = run(&config, &catalog, flaky.clone()).await;
    let c = ev.targets[0].coverage.clone().unwrap();
    assert_eq!((c.verified_files_30d, c.verified_bytes_30d), (2, 200));
}

#[tokio::test]
async fn a_damaged_inventory_is_not_verified_once_then_starts_over() {
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let passes = |ev: &crate::evidence::RunEvidence| {
        assert_eq!(
            ev.targets[0].verdict,
            Verdict::Pass,
            "{}",
            ev.targets[0].summary
        );
    };
    passes(&run(&config, &catalog, flaky.clone()).await);
    let chunks = config.data_dir.join("inventory");
    let mut damaged = 0;
    for folder in std::fs::read_dir(&chunks).unwrap() {
        for file in std::fs::read_dir(folder.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let mut bytes = std::fs::read(&path).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            std::fs::write(&path, bytes).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged > 0);
    // Nothing is judged against a damaged record: the target is not verified, and says why.
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert_eq!(t.verdict, Verdict::Error, "{}", t.summary);
    assert!(
        t.summary.contains("damaged") && t.summary.contains("BLAKE3"),
        "{}",
        t.summary
    );
    let notes = catalog.notes("acme").unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("inventory of target `t` was damaged")),
        "{notes:?}"
    );
    // The damaged part was dropped: the next run lists afresh and passes.
    passes(&run(&config, &catalog, flaky.clone()).await);
    // And the run after that compares with it again: a vanished file is seen.
    flaky.take("b.bin");
    let ev = run(&config, &catalog, flaky.clone()).await;
    let drift = ev.targets[0].drift.as_ref().unwrap();
    assert_eq!(drift.vanished_files, 1, "{drift:?}");
    assert_eq!(drift.vanished[0].path, "b.bin");
}

/// Five files of 100 bytes, f0 the newest (1 hour old), one more hour each.
fn five_files() -> Vec<MemFile> {
    let now = Utc::now();
    (0..5)
        .map(|i| {
            (
                format!("f{i}"),
                vec![i as u8; 100],
                now - chrono::Duration::hours(1 + i as i64),
            )
        })
        .collect()
}

impl Flaky {
    fn take(&self, path: &str) -> MemFile {
        let mut files = self.files.lock().unwrap();
        let i = files.iter().position(|f| f.0 == path).unwrap();
        files.remove(i)
    }

    fn put(&self, file: MemFile) {
        let mut files = self.files.lock().unwrap();
        files.retain(|f| f.0 != file.0);
        files.push(file);
    }
}

fn problem_kinds(t: &crate::evidence::TargetEvidence) -> Vec<crate::evidence::ProblemKind> {
    t.problems.iter().map(|p| p.kind).collect()
}

#[tokio::test]
async fn vanished_files_stay_a_problem_until_they_are_back() {
    use crate::evidence::{CheckKind, ProblemKind};
    let (_dir, config, flaky) = setup_job("retention = \"30d\"", &["t"], five_files());
    let catalog = Catalog::open(&config.data_dir).unwrap();
    assert_eq!(
        run(&config, &catalog, flaky.clone()).await.verdict,
        Some(Verdict::Pass)
    );
    let f3 = flaky.take("f3");
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    assert_eq!(problem_kinds(t), vec![ProblemKind::Vanished]);
    let p = &t.problems[0];
    assert!(p.new && p.observed);
    assert_eq!((p.files, p.paths.clone()), (1, vec!["f3".to_string()]));
    // Still gone: the next run compares with a listing without it, yet the problem stays.
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    let p = &t.problems[0];
    assert!(!p.new && !p.observed);
    assert_eq!(p.files, 1);
    let carried = t
        .findings
        .iter()
        .find(|f| f.check == CheckKind::Problems)
        .unwrap();
    assert_eq!(carried.verdict, Verdict::Fail);
    assert!(
        carried.summary.contains("; 1 file still concerned: "),
        "{}",
        carried.summary
    );
    assert!(
        carried.summary.contains("0 days ago"),
        "{}",
        carried.summary
    );
    let c = check_of(t, CheckKind::Problems);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(
        c.reason
            .starts_with("1 problem found by earlier runs still open: vanished"),
        "{}",
        c.reason
    );
    // Back as it was: fixed.
    flaky.put(f3);
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert_eq!(ev.verdict, Some(Verdict::Pass), "{:?}", t.findings);
    assert!(t.problems.is_empty());
    assert_eq!(t.closed_problems.len(), 1);
    assert_eq!(t.closed_problems[0].fixed_by, "the vanished file is back");
    let c = check_of(t, CheckKind::Problems);
    assert_eq!(c.verdict, Verdict::Pass);
    assert!(
        c.reason.starts_with("1 problem fixed: vanished ("),
        "{}",
        c.reason
    );
    assert!(catalog.open_problems("acme", "t").unwrap().is_empty());
}

#[tokio::test]
async fn an_acknowledgement_turns_a_carried_problem_into_a_warning_until_it_lapses_or_grows() {
    use crate::ack::{AckRequest, acknowledge};
    use crate::evidence::CheckKind;
    let (_dir, config, flaky) = setup_job("retention = \"30d\"", &["t"], five_files());
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    flaky.take("f3");
    assert_eq!(
        run(&config, &catalog, flaky.clone()).await.verdict,
        Some(Verdict::Fail)
    );
    let req = |until| AckRequest {
        target: None,
        problem: None,
        reason: "moved to the new NAS".into(),
        until,
        by: "ann".into(),
    };
    acknowledge(&config, &catalog, "acme", &req(None), Utc::now()).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert_eq!(t.verdict, Verdict::Warn, "{:?}", t.findings);
    assert_eq!(ev.verdict, Some(Verdict::Warn));
    assert!(t.problems[0].acknowledged.is_some());
    assert!(
        t.summary.contains("acknowledged by ann on ")
            && t.summary.ends_with(": moved to the new NAS"),
        "{}",
        t.summary
    );
    let c = check_of(t, CheckKind::Problems);
    assert_eq!(c.verdict, Verdict::Warn);
    assert!(
        c.reason.ends_with("vanished (acknowledged)"),
        "{}",
        c.reason
    );
    // An acknowledgement whose until has come lapses: the problem fails again.
    let now = Utc::now();
    let until = now + chrono::Duration::milliseconds(50);
    acknowledge(&config, &catalog, "acme", &req(Some(until)), now).unwrap();
    while Utc::now() <= until {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let ev = run(&config, &catalog, flaky.clone()).await;
    // The run came after the until: lapsed.
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    assert!(ev.targets[0].problems[0].acknowledged.is_none());
    assert!(catalog.open_problems("acme", "t").unwrap()[0].ack.is_none());
    // Acknowledged again until later, then another file vanishes: the problem grew, a
    // technician must look again.
    let later = Utc::now() + chrono::Duration::days(1);
    acknowledge(&config, &catalog, "acme", &req(Some(later)), Utc::now()).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.verdict, Some(Verdict::Warn));
    assert!(
        ev.targets[0].summary.contains(" until "),
        "{}",
        ev.targets[0].summary
    );
    flaky.take("f2");
    let ev = run(&config, &catalog, flaky.clone()).await;
    let p = &ev.targets[0].problems[0];
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    assert!(p.acknowledged.is_none());
    assert_eq!(p.files, 2);
    let mut paths = p.paths.clone();
    paths.sort();
    assert_eq!(paths, vec!["f2", "f3"]);
}

#[tokio::test]
async fn corruption_stays_open_while_it_is_observed_and_closes_when_the_file_verifies() {
    use crate::evidence::ProblemKind;
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("a.bin".into(), (1..100).collect());
    let ev = run(&config, &catalog, flaky.clone()).await;
    let p = &ev.targets[0].problems[0];
    assert_eq!((p.kind, p.new, p.files), (ProblemKind::Corruption, true, 1));
    let opened = p.opened_run.clone();
    let restore = check_of(&ev.targets[0], crate::evidence::CheckKind::Restore);
    assert!(
        restore.reason.starts_with(
            "1 of 2 restored files failed: a.bin: content changed while size and modification time stayed the same"
        ),
        "{}",
        restore.reason
    );
    assert!(
        restore.reason.contains("; 1 file (100 B) as expected"),
        "{}",
        restore.reason
    );
    let ev = run(&config, &catalog, flaky.clone()).await;
    let p = &ev.targets[0].problems[0];
    assert!(p.observed && !p.new);
    assert_eq!(
        (p.opened_run.as_str(), p.last_seen_run.as_str()),
        (opened.as_str(), ev.run_id.as_str())
    );
    assert_eq!(p.paths, vec!["a.bin"]);
    flaky.bad_reads.lock().unwrap().clear();
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert_eq!(ev.verdict, Some(Verdict::Pass));
    assert!(t.problems.is_empty());
    assert_eq!(
        t.closed_problems[0].fixed_by,
        "the file restored again and verified"
    );
    assert_eq!(t.closed_problems[0].opened_run, opened);
}

#[tokio::test]
async fn a_stale_set_closes_when_a_new_backup_arrives() {
    use crate::evidence::ProblemKind;
    let now = Utc::now();
    let (_dir, config, flaky) = setup_job(
        "max_age = \"2h\"",
        &["t"],
        vec![
            (
                "a.bin".into(),
                vec![1; 100],
                now - chrono::Duration::hours(3),
            ),
            (
                "b.bin".into(),
                vec![2; 100],
                now - chrono::Duration::hours(4),
            ),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    assert_eq!(problem_kinds(&ev.targets[0]), vec![ProblemKind::Stale]);
    // Still stale, and no more: carried in the same words.
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    flaky.put(("c.bin".into(), vec![3; 100], Utc::now()));
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert_eq!(ev.verdict, Some(Verdict::Pass), "{:?}", t.findings);
    assert!(
        t.closed_problems[0]
            .fixed_by
            .starts_with("a new backup arrived: newest backup is"),
        "{}",
        t.closed_problems[0].fixed_by
    );
}

#[tokio::test]
async fn a_shrunken_set_closes_only_when_its_size_is_back_within_the_limit() {
    use crate::evidence::ProblemKind;
    let now = Utc::now();
    let (_dir, config, flaky) = setup_job(
        "",
        &["t"],
        vec![
            (
                "a.bin".into(),
                vec![1; 1000],
                now - chrono::Duration::hours(1),
            ),
            (
                "b.bin".into(),
                vec![2; 1000],
                now - chrono::Duration::hours(2),
            ),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    let version = |size: usize, minutes: i64| {
        (
            "a.bin".to_string(),
            vec![size as u8; size],
            Utc::now() - chrono::Duration::minutes(60 - minutes),
        )
    };
    // 2000 bytes become 1100: a drop of 45%, over the 20% allowed.
    flaky.put(version(100, 1));
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    assert_eq!(problem_kinds(&ev.targets[0]), vec![ProblemKind::Shrunken]);
    // 1500 of the 2000 before the drop: still under the 1600 floor, still open.
    flaky.put(version(500, 2));
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(problem_kinds(&ev.targets[0]), vec![ProblemKind::Shrunken]);
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    // Exactly at the floor: fixed.
    flaky.put(version(600, 3));
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert!(t.problems.is_empty(), "{:?}", t.problems);
    assert_eq!(
        t.closed_problems[0].fixed_by,
        "the total size is back to 1.6 KiB (2.0 KiB before the drop)"
    );
}

#[tokio::test]
async fn a_used_up_budget_is_only_mentioned_when_it_kept_something_out() {
    let m = Utc::now() - chrono::Duration::hours(1);
    let (_dir, config, flaky) = setup_job(
        "[budget]\nper_week = 200",
        &["t"],
        vec![
            ("empty.bin".into(), Vec::new(), m),
            ("a.bin".into(), vec![1; 100], m - chrono::Duration::hours(1)),
            ("b.bin".into(), vec![2; 100], m - chrono::Duration::hours(2)),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.egress.read_bytes, 200);
    assert_eq!(ev.verdict, Some(Verdict::Pass));
    // Nothing of the week is left, but the newest file is empty: it fits, and is all
    // this run restores; no budget note.
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    let restored: Vec<&str> = t.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(restored, vec!["empty.bin"]);
    let restore = check_of(t, crate::evidence::CheckKind::Restore);
    assert_eq!(restore.verdict, Verdict::Pass, "{}", restore.reason);
    assert!(!restore.reason.contains("budget"), "{}", restore.reason);
}

#[tokio::test]
async fn status_tells_each_state_and_its_exit_code() {
    use crate::status::{ClientState, collect};
    let (_dir, config, flaky) = setup_job("retention = \"30d\"", &["t"], five_files());
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let state = || {
        let s = collect(&config, &catalog, None).unwrap();
        (s.rows[0].state, s.exit_code(), s)
    };
    // Never verified.
    let (st, code, s) = state();
    assert_eq!((st, code), (ClientState::NotVerified, 2));
    assert_eq!(
        (s.rows[0].verdict, s.rows[0].last_run.clone()),
        (None, None)
    );
    assert!(!s.daemon_running && s.rows[0].next_run.is_none());
    // Verified.
    let ev = run(&config, &catalog, flaky.clone()).await;
    let (st, code, s) = state();
    assert_eq!((st, code), (ClientState::Ok, 0));
    let row = &s.rows[0];
    assert_eq!(row.last_run.as_deref(), Some(ev.run_id.as_str()));
    assert_eq!(row.verdict, Some(Verdict::Pass));
    let age = row.newest_backup_age_seconds.unwrap();
    assert!((3600..3700).contains(&age), "{age}");
    assert_eq!(row.open_problems, 0);
    // Could not verify.
    let ev = run_unreachable(&config, &catalog, flaky.clone(), &["t"]).await;
    assert_eq!(ev.verdict, Some(Verdict::Error));
    let (st, code, s) = state();
    assert_eq!((st, code), (ClientState::NotVerified, 2));
    assert!(
        s.rows[0]
            .not_verified_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("t: could not verify: ")),
        "{:?}",
        s.rows[0].not_verified_reason
    );
    // A proven problem, open and not acknowledged.
    flaky.take("f3");
    run(&config, &catalog, flaky.clone()).await;
    let (st, code, s) = state();
    assert_eq!((st, code), (ClientState::Problem, 1));
    let worst = s.rows[0].worst_problem.clone().unwrap();
    assert_eq!((worst.target.as_str(), worst.acknowledged), ("t", false));
    assert_eq!(worst.kind, crate::evidence::ProblemKind::Vanished);
    assert!(s.rows[0].not_verified_reason.is_none());
    // Acknowledged, and the next run only carries it: acknowledged, not a problem.
    let req = crate::ack::AckRequest {
        target: None,
        problem: None,
        reason: "known".into(),
        until: Some(Utc::now() + chrono::Duration::seconds(2)),
        by: "ann".into(),
    };
    let until = req.until.unwrap();
    crate::ack::acknowledge(&config, &catalog, "acme", &req, Utc::now()).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.verdict, Some(Verdict::Warn));
    let (st, code, s) = state();
    assert_eq!((st, code), (ClientState::Acknowledged, 0));
    assert_eq!(
        (s.rows[0].open_problems, s.rows[0].acknowledged_problems),
        (1, 1)
    );
    assert!(s.rows[0].worst_problem.as_ref().unwrap().acknowledged);
    // Its until has come: a problem again, even before the next run.
    while Utc::now() <= until {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (st, code, s) = state();
    assert_eq!((st, code), (ClientState::Problem, 1));
    assert_eq!(s.rows[0].acknowledged_problems, 0);
}

#[tokio::test]
async fn status_says_warn_for_a_run_with_warnings_and_nothing_open() {
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("a.bin".into(), vec![2]);
    assert_eq!(
        run(&config, &catalog, flaky.clone()).await.verdict,
        Some(Verdict::Warn)
    );
    let s = crate::status::collect(&config, &catalog, None).unwrap();
    assert_eq!(s.rows[0].state, crate::status::ClientState::Warn);
    assert_eq!(s.exit_code(), 0);
    assert_eq!(crate::status::ClientState::Warn.label(), "WARN");
}

#[tokio::test]
async fn reports_are_queued_for_problems_and_the_recovery_after_them() {
    let (_dir, config, flaky) = setup_job_with(
        "technicians = [\"noc@msp.example\"]",
        "",
        &["t"],
        vec![(
            "a.bin".into(),
            vec![1; 100],
            Utc::now() - chrono::Duration::hours(1),
        )],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let subjects = || -> Vec<String> {
        catalog
            .outbox()
            .unwrap()
            .into_iter()
            .map(|i| i.subject)
            .collect()
    };
    run(&config, &catalog, flaky.clone()).await;
    assert!(subjects().is_empty(), "a routine pass is not emailed");
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("a.bin".into(), (1..100).collect());
    run(&config, &catalog, flaky.clone()).await;
    flaky.bad_reads.lock().unwrap().clear();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.verdict, Some(Verdict::Pass));
    assert_eq!(
        subjects(),
        vec![
            // The problem's key leads both: one PSA ticket, opened and closed.
            "[BP-7d9b66f7] [FAIL] Acme: 1 corrupt file on t".to_string(),
            "[BP-7d9b66f7] [PASS] Acme: 1 backup target verified again".to_string(),
        ]
    );
}

#[tokio::test]
async fn a_file_found_damaged_by_two_checks_is_one_problem_file() {
    use crate::evidence::ProblemKind;
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    // a.bin truncated in place: the listing (drift) and its restore both see it.
    let (path, mut content, modified) = flaky.take("a.bin");
    content.truncate(50);
    flaky.put((path, content, modified));
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    let p = &t.problems[0];
    assert_eq!(p.kind, ProblemKind::Corruption);
    assert_eq!((p.files, p.paths.clone()), (1, vec!["a.bin".to_string()]));
    assert!(
        p.summary
            .contains("changed size while keeping the modification time")
            && p.summary.contains("; 1 restored file not as expected"),
        "{}",
        p.summary
    );
    let corrupt: Vec<_> = t
        .findings
        .iter()
        .filter(|f| f.kind == ProblemKind::Corruption)
        .collect();
    assert_eq!(corrupt.len(), 2, "one per check: {:?}", t.findings);
    let a = file_of(&ev, 0, "a.bin");
    assert!(
        a.reason.starts_with("size changed from 100 to 50 bytes"),
        "{}",
        a.reason
    );
}

#[tokio::test]
async fn a_read_that_breaks_fails_the_file_and_a_silent_target_is_not_waited_on() {
    let (_dir, config, flaky) = setup_job("concurrency = 1", &["t"], {
        let m = Utc::now() - chrono::Duration::hours(1);
        vec![
            ("a.bin".into(), vec![1; 100], m),
            ("b.bin".into(), vec![2; 100], m - chrono::Duration::hours(1)),
        ]
    });
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    // The read of a.bin breaks half way: the restore failed (proven), after 50 bytes.
    *flaky.broken.lock().unwrap() = vec!["a.bin".into()];
    let ev = run(&config, &catalog, flaky.clone()).await;
    let a = file_of(&ev, 0, "a.bin");
    assert_eq!(a.verdict, Verdict::Fail, "{}", a.reason);
    assert!(
        a.reason.starts_with("the restore failed after 50 B: "),
        "{}",
        a.reason
    );
    assert_eq!(a.bytes, 50);
    assert_eq!(file_of(&ev, 0, "b.bin").verdict, Verdict::Pass);
    assert_eq!(
        ev.targets[0].findings[0].kind,
        crate::evidence::ProblemKind::FailedRestore
    );
    // Broken before the first byte: no "after".
    let (path, _, modified) = flaky.take("a.bin");
    flaky.put((path, Vec::from([7u8]), modified));
    let ev = run(&config, &catalog, flaky.clone()).await;
    let a = file_of(&ev, 0, "a.bin");
    assert!(a.reason.starts_with("the restore failed: "), "{}", a.reason);
    // a.bin times out: the target stopped answering, b.bin is not even tried.
    flaky.broken.lock().unwrap().clear();
    *flaky.timeouts.lock().unwrap() = vec!["a.bin".into()];
    let reads_of_b = flaky.reads.lock().unwrap().get("b.bin").copied();
    let ev = run(&config, &catalog, flaky.clone()).await;
    let a = file_of(&ev, 0, "a.bin");
    assert_eq!(a.verdict, Verdict::Error, "{}", a.reason);
    assert!(
        a.reason
            .starts_with("could not be read, so it is not verified: "),
        "{}",
        a.reason
    );
    let b = file_of(&ev, 0, "b.bin");
    assert_eq!(b.verdict, Verdict::Error);
    assert_eq!(
        b.reason,
        "not attempted: the target stopped answering (no answer in 30 s)"
    );
    assert_eq!(
        flaky.reads.lock().unwrap().get("b.bin").copied(),
        reads_of_b
    );
    let restore = check_of(&ev.targets[0], crate::evidence::CheckKind::Restore);
    assert_eq!(restore.verdict, Verdict::Error, "{}", restore.reason);
}

#[tokio::test]
async fn a_file_resized_in_place_before_its_first_restore_never_becomes_a_baseline() {
    let m = Utc::now() - chrono::Duration::hours(1);
    let (_dir, config, flaky) = setup_job(
        "sample_files = 2",
        &["t"],
        vec![
            ("a.bin".into(), vec![1; 100], m),
            ("b.bin".into(), vec![2; 100], m - chrono::Duration::hours(1)),
            ("c.bin".into(), vec![3; 100], m - chrono::Duration::hours(2)),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.targets[0].files.len(), 2, "the newest and one more");
    // The file listed but not restored loses half its bytes and keeps its date; the
    // next run restores it for the first time.
    let left = ["b.bin", "c.bin"]
        .into_iter()
        .find(|p| ev.targets[0].files.iter().all(|f| f.path != *p))
        .unwrap();
    let (path, mut content, modified) = flaky.take(left);
    content.truncate(50);
    flaky.put((path, content, modified));
    let ev = run(&config, &catalog, flaky.clone()).await;
    let f = file_of(&ev, 0, left);
    assert_eq!(f.verdict, Verdict::Fail, "{}", f.reason);
    assert!(
        f.reason
            .starts_with("size changed from 100 to 50 bytes while its modification time stayed"),
        "{}",
        f.reason
    );
    assert!(catalog.file("acme", "t", left).unwrap().is_none());
}

#[tokio::test]
async fn canaries_are_restored_every_run_and_must_stay_intact() {
    use crate::evidence::{CheckKind, PickReason, ProblemKind};
    let m = Utc::now() - chrono::Duration::hours(1);
    let canary = b"backproof canary: do not change".to_vec();
    let hash = blake3::hash(&canary).to_hex().to_string();
    let second = b"another canary".to_vec();
    let second_hash = blake3::hash(&second).to_hex().to_string();
    let target = format!(
        "t\n[[targets.canaries]]\npath = \"IT/canary.txt\"\nblake3 = \"{hash}\"\n[[targets.canaries]]\npath = \"IT/second.txt\"\nblake3 = \"{second_hash}\""
    );
    let (_dir, config, flaky) = setup_job(
        "sample_files = 1\nsample_bytes = 150",
        &[target.as_str()],
        vec![
            ("a.bin".into(), vec![1; 100], m),
            (
                "big.bin".into(),
                vec![2; 200],
                m - chrono::Duration::hours(1),
            ),
            (
                "IT/canary.txt".into(),
                canary.clone(),
                m - chrono::Duration::days(100),
            ),
            (
                "IT/second.txt".into(),
                second.clone(),
                m - chrono::Duration::days(100),
            ),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    let c = file_of(&ev, 0, "IT/canary.txt");
    assert_eq!((c.picked, c.verdict), (PickReason::Canary, Verdict::Pass));
    let check = check_of(t, CheckKind::Canary);
    assert_eq!(check.verdict, Verdict::Pass);
    assert_eq!(check.reason, "2 canaries present and intact");
    // The second canary altered: each canary is judged by its own file.
    let (path, mut content, modified) = flaky.take("IT/second.txt");
    content[0] ^= 1;
    flaky.put((path, content, modified));
    let ev2 = run(&config, &catalog, flaky.clone()).await;
    let check2 = check_of(&ev2.targets[0], CheckKind::Canary);
    assert_eq!(check2.verdict, Verdict::Fail);
    assert!(
        check2
            .reason
            .starts_with("canary IT/second.txt: the canary is altered"),
        "{}",
        check2.reason
    );
    flaky.put((
        "IT/second.txt".into(),
        second,
        m - chrono::Duration::days(100),
    ));
    // big.bin is larger than sample_bytes: coverage says so, and warns.
    let coverage = check_of(t, CheckKind::Coverage);
    assert_eq!(coverage.verdict, Verdict::Warn);
    assert!(
        coverage
            .reason
            .contains("; 1 file larger than sample_bytes (150 B)"),
        "{}",
        coverage.reason
    );
    // Altered: the canary check fails and names it.
    let (path, mut content, modified) = flaky.take("IT/canary.txt");
    content[0] ^= 1;
    flaky.put((path, content, modified));
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    let check = check_of(t, CheckKind::Canary);
    assert_eq!(check.verdict, Verdict::Fail);
    assert!(
        check
            .reason
            .starts_with("canary IT/canary.txt: the canary is altered"),
        "{}",
        check.reason
    );
    assert_eq!(t.findings[0].kind, ProblemKind::Canary);
    assert_eq!(t.findings[0].paths, vec!["IT/canary.txt"]);
    assert_eq!(problem_kinds(t), vec![ProblemKind::Canary]);
    // Missing.
    flaky.take("IT/canary.txt");
    let ev = run(&config, &catalog, flaky.clone()).await;
    let check = check_of(&ev.targets[0], CheckKind::Canary);
    assert_eq!(check.verdict, Verdict::Fail);
    assert_eq!(
        check.reason,
        "canary IT/canary.txt is missing from the backup"
    );
    // Back intact: the problem closes with the check's words.
    flaky.put((
        "IT/canary.txt".into(),
        canary,
        m - chrono::Duration::days(100),
    ));
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert!(t.problems.is_empty(), "{:?}", t.problems);
    assert_eq!(
        t.closed_problems[0].fixed_by,
        "2 canaries present and intact"
    );
}

#[tokio::test]
async fn a_corrupt_file_the_retention_let_go_closes_its_problem() {
    use crate::evidence::ProblemKind;
    let now = Utc::now();
    let (_dir, config, flaky) = setup_job(
        "retention = \"30d\"",
        &["t"],
        vec![
            (
                "new.bin".into(),
                vec![1; 100],
                now - chrono::Duration::hours(1),
            ),
            (
                "old.bin".into(),
                vec![2; 100],
                now - chrono::Duration::days(40),
            ),
            (
                "older.bin".into(),
                vec![3; 100],
                now - chrono::Duration::days(50),
            ),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("old.bin".into(), (1..100).collect());
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(problem_kinds(&ev.targets[0]), vec![ProblemKind::Corruption]);
    // The backup software's retention removes it: expected, and the problem with it.
    flaky.take("old.bin");
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert!(t.problems.is_empty(), "{:?}", t.problems);
    assert_eq!(
        t.closed_problems[0].fixed_by,
        "0 files restored again and verified, 1 removed by the retention policy"
    );
    assert_eq!(ev.verdict, Some(Verdict::Pass), "{:?}", t.findings);
}

#[tokio::test]
async fn at_most_twenty_problem_files_are_restored_again_per_run() {
    let now = Utc::now();
    let files: Vec<MemFile> = (0..25)
        .map(|i| {
            (
                format!("f{i:02}"),
                vec![i as u8; 100],
                now - chrono::Duration::hours(1 + i as i64),
            )
        })
        .collect();
    let (_dir, config, flaky) = setup_job("sample_files = 30", &["t"], files);
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    for i in 0..25 {
        flaky
            .bad_reads
            .lock()
            .unwrap()
            .insert(format!("f{i:02}"), (1..100).collect());
    }
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(ev.targets[0].problems[0].files, 25);
    let rechecked = ev.targets[0]
        .files
        .iter()
        .filter(|f| f.picked == crate::evidence::PickReason::Recheck)
        .count();
    assert_eq!(rechecked, 0, "observed this run, not yet rechecked");
    let ev = run(&config, &catalog, flaky.clone()).await;
    let rechecked = ev.targets[0]
        .files
        .iter()
        .filter(|f| f.picked == crate::evidence::PickReason::Recheck)
        .count();
    assert_eq!(rechecked, 20);
}

#[tokio::test]
async fn a_young_corrupt_file_that_vanishes_keeps_its_problem_open() {
    use crate::evidence::ProblemKind;
    let now = Utc::now();
    let (_dir, config, flaky) = setup_job(
        "retention = \"30d\"",
        &["t"],
        vec![
            (
                "new.bin".into(),
                vec![1; 100],
                now - chrono::Duration::hours(1),
            ),
            (
                "old.bin".into(),
                vec![2; 100],
                now - chrono::Duration::days(2),
            ),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("old.bin".into(), (1..100).collect());
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(problem_kinds(&ev.targets[0]), vec![ProblemKind::Corruption]);
    // Two days old, well inside the 30 days of retention: its going is no fix.
    flaky.take("old.bin");
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert!(
        problem_kinds(t).contains(&ProblemKind::Corruption),
        "{:?}",
        t.problems
    );
    assert!(t.closed_problems.is_empty(), "{:?}", t.closed_problems);
    assert_eq!(ev.verdict, Some(Verdict::Fail));
}

#[tokio::test]
async fn a_vanished_file_back_as_another_version_closes_only_once_it_verifies() {
    use crate::evidence::ProblemKind;
    let (_dir, config, flaky) = setup_job("retention = \"30d\"", &["t"], five_files());
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    let (path, mut bytes, modified) = flaky.take("f3");
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert!(problem_kinds(&ev.targets[0]).contains(&ProblemKind::Vanished));
    // Back under its name, but another version, and it cannot be read: nothing proves it.
    bytes[0] ^= 0xff;
    bytes.push(7);
    flaky.put((path.clone(), bytes, modified + chrono::Duration::minutes(5)));
    *flaky.denied.lock().unwrap() = vec![path];
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert!(
        problem_kinds(t).contains(&ProblemKind::Vanished),
        "{:?}",
        t.problems
    );
    assert!(
        t.closed_problems
            .iter()
            .all(|c| c.kind != ProblemKind::Vanished),
        "{:?}",
        t.closed_problems
    );
    // Readable again: restored, verified as a new version, and the problem closes.
    flaky.denied.lock().unwrap().clear();
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert!(
        t.closed_problems
            .iter()
            .any(|c| c.kind == ProblemKind::Vanished),
        "{:?} {:?}",
        t.problems,
        t.closed_problems
    );
    assert!(!problem_kinds(t).contains(&ProblemKind::Vanished));
}

#[tokio::test]
async fn a_vanished_set_larger_than_its_tracked_files_stays_open_while_one_is_missing() {
    use crate::catalog::PROBLEM_FILE_LIMIT;
    use crate::evidence::ProblemKind;
    let m = Utc::now() - chrono::Duration::hours(1);
    let files: Vec<MemFile> = (0..=PROBLEM_FILE_LIMIT)
        .map(|i| (format!("d/{i:05}"), vec![1], m))
        .chain([("keep.bin".to_string(), vec![2; 10], m)])
        .collect();
    let (_dir, config, flaky) = setup_job("retention = \"30d\"", &["t"], files);
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    let gone: Vec<MemFile> = {
        let mut all = flaky.files.lock().unwrap();
        let (gone, kept) = all.drain(..).partition(|f| f.0.starts_with("d/"));
        *all = kept;
        gone
    };
    let ev = run(&config, &catalog, flaky.clone()).await;
    let p = ev.targets[0]
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::Vanished)
        .unwrap();
    assert_eq!(p.files, PROBLEM_FILE_LIMIT as u64 + 1);
    // One more vanished file than the catalog tracks by name. All come back but one
    // whose name is tracked: two may still be missing (it, and maybe the untracked one).
    let mut tracked = None;
    catalog
        .problem_files("acme", "t", ProblemKind::Vanished, |path, _| {
            tracked = Some(path.to_string());
            Ok(false)
        })
        .unwrap();
    let missing = tracked.unwrap();
    for f in gone.into_iter().filter(|f| f.0 != missing) {
        flaky.files.lock().unwrap().push(f);
    }
    let ev = run(&config, &catalog, flaky.clone()).await;
    let t = &ev.targets[0];
    assert!(
        problem_kinds(t).contains(&ProblemKind::Vanished),
        "{:?}",
        t.closed_problems
    );
    assert_eq!(ev.verdict, Some(Verdict::Fail));
}

#[tokio::test]
async fn a_run_started_exactly_at_the_week_start_counts_against_the_week() {
    use crate::verify::checks::budget::week_used;
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert!(ev.egress.read_bytes > 0);
    let since = ev.started_at;
    assert_eq!(
        week_used(&catalog, "acme", since).unwrap(),
        ev.egress.read_bytes
    );
    let after = since + chrono::Duration::microseconds(1);
    assert_eq!(week_used(&catalog, "acme", after).unwrap(), 0);
}

#[tokio::test]
async fn files_found_damaged_by_different_checks_are_all_one_problems_files() {
    use crate::evidence::ProblemKind;
    let (_dir, config, flaky) = setup();
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    // a.bin truncated in place (drift and its restore see it), b.bin altered in place
    // keeping its size and date (only its restore sees it).
    let (path, mut content, modified) = flaky.take("a.bin");
    content.truncate(50);
    flaky.put((path, content, modified));
    flaky
        .bad_reads
        .lock()
        .unwrap()
        .insert("b.bin".into(), (1..100).collect());
    let ev = run(&config, &catalog, flaky.clone()).await;
    let p = ev.targets[0]
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::Corruption)
        .unwrap();
    let mut paths = p.paths.clone();
    paths.sort();
    assert_eq!((p.files, paths), (2, vec!["a.bin".into(), "b.bin".into()]));
    let mut tracked = Vec::new();
    catalog
        .problem_files("acme", "t", ProblemKind::Corruption, |path, _| {
            tracked.push(path.to_string());
            Ok(true)
        })
        .unwrap();
    tracked.sort();
    assert_eq!(tracked, vec!["a.bin", "b.bin"]);
}

#[tokio::test]
async fn an_acknowledgement_of_a_canary_problem_holds_until_another_canary_fails() {
    use crate::ack::{AckRequest, acknowledge};
    use crate::evidence::ProblemKind;
    let m = Utc::now() - chrono::Duration::days(100);
    let (one, two) = (b"canary one".to_vec(), b"canary two".to_vec());
    let target = format!(
        "t\n[[targets.canaries]]\npath = \"IT/one.txt\"\nblake3 = \"{}\"\n[[targets.canaries]]\npath = \"IT/two.txt\"\nblake3 = \"{}\"",
        blake3::hash(&one).to_hex(),
        blake3::hash(&two).to_hex()
    );
    let (_dir, config, flaky) = setup_job(
        "",
        &[target.as_str()],
        vec![
            ("a.bin".into(), vec![1; 100], Utc::now()),
            ("IT/one.txt".into(), one, m),
            ("IT/two.txt".into(), two, m),
        ],
    );
    let catalog = Catalog::open(&config.data_dir).unwrap();
    run(&config, &catalog, flaky.clone()).await;
    let alter = |path: &str| {
        let (path, mut content, modified) = flaky.take(path);
        content[0] ^= 1;
        flaky.put((path, content, modified));
    };
    alter("IT/one.txt");
    let ev = run(&config, &catalog, flaky.clone()).await;
    assert_eq!(problem_kinds(&ev.targets[0]), vec![ProblemKind::Canary]);
    assert_eq!(ev.verdict, Some(Verdict::Fail));
    let req = AckRequest {
        target: None,
        problem: None,
        reason: "the canary is being replaced".into(),
        until: None,
        by: "ann".into(),
    };
    acknowledge(&config, &catalog, "acme", &req, Utc::now()).unwrap();
    // The same canary still altered: it fails the run it is seen in, and the
    // acknowledgement stays on the problem.
    let ev = run(&config, &catalog, flaky.clone()).await;
    let p = &ev.targets[0].problems[0];
    assert!(p.acknowledged.is_some(), "{p:?}");
    // The second canary fails too: the problem grew, a technician must look again.
    alter("IT/two.txt");
    let ev = run(&config, &catalog, flaky.clone()).await;
    let p = &ev.targets[0].problems[0];
    assert_eq!((p.kind, p.files), (ProblemKind::Canary, 2));
    assert!(p.acknowledged.is_none(), "{p:?}");
}

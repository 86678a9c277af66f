//! The randomized truth test: random sequences of healthy backups, retention deletions,
//! bit flips keeping size and modification time, truncations, same-size rewrites with a
//! new modification time, deletions of young files, files put back, interruptions in the
//! middle of a run, and re-runs, driven through the real run pipeline on a real local
//! folder. A small model, written apart from the production code, predicts from what was
//! done to the files whether a problem is proven and open, and the test asserts over every
//! run:
//! - no false PASS: a run never passes while the model holds an open problem;
//! - no false alarm: a run never fails on a healthy set, and every corrupt file a run
//!   reports is really damaged;
//! - every bit flip in a file with a baseline is caught within a bounded number of runs
//!   (the sample rotates through the files).
//!
//! `BACKPROOF_TRUTH_SEQUENCES` (default 40) and `BACKPROOF_TRUTH_SEED` change the budget
//! and the sequences; a failure prints the seed and the step that broke.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backproof::app::runs::RunService;
use backproof::catalog::Catalog;
use backproof::config::Config;
use backproof::evidence::{ProblemKind, RunEvidence, RunStatus, Trigger, Verdict};
use backproof::progress::Progress;
use backproof::verify::{RunRequest, Verifier};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DAY: u64 = 86_400;
const RETENTION_DAYS: u64 = 10;
const SAMPLE: usize = 4;
const STEPS: usize = 12;

/// A file as the model knows it.
#[derive(Debug, Clone)]
struct File {
    bytes: Vec<u8>,
    /// What the backup software wrote.
    written: Vec<u8>,
    mtime: SystemTime,
}

impl File {
    /// Its content is not what the backup software wrote.
    fn damaged(&self) -> bool {
        self.bytes != self.written
    }

    fn state(&self) -> (u64, SystemTime) {
        (self.bytes.len() as u64, self.mtime)
    }
}

fn age(t: SystemTime) -> Duration {
    SystemTime::now().duration_since(t).unwrap_or_default()
}

/// Why the model holds a problem open, with the file's state when it was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Open {
    Vanished,
    Damaged,
}

#[derive(Default)]
struct Model {
    present: BTreeMap<String, File>,
    /// Young files deleted, kept to be put back exactly.
    deleted: BTreeMap<String, File>,
    /// The listing of the last finished run: path -> (size, mtime).
    committed: BTreeMap<String, (u64, SystemTime)>,
    /// Files the system verified in a finished run, in the state it verified them.
    baseline: BTreeMap<String, (u64, SystemTime)>,
    open: BTreeMap<(Open, String), (u64, SystemTime)>,
    /// Bit flips in files with a baseline, not caught yet: finished runs since.
    latent: BTreeMap<String, u32>,
    counter: u32,
}

struct World {
    model: Model,
    root: PathBuf,
    rng: StdRng,
}

fn content(rng: &mut StdRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.random()).collect()
}

fn write(path: &Path, f: &File) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, &f.bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(f.mtime)
        .unwrap();
}

impl World {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn pick(&mut self, filter: impl Fn(&File) -> bool) -> Option<String> {
        let candidates: Vec<String> = self
            .model
            .present
            .iter()
            .filter(|(_, f)| filter(f))
            .map(|(p, _)| p.clone())
            .collect();
        (!candidates.is_empty())
            .then(|| candidates[self.rng.random_range(0..candidates.len())].clone())
    }

    fn new_file(&mut self, age_secs: u64) -> String {
        self.model.counter += 1;
        let rel = format!("set/b{:03}.bak", self.model.counter);
        let len = self.rng.random_range(1_000..6_000);
        let bytes = content(&mut self.rng, len);
        let f = File {
            written: bytes.clone(),
            bytes,
            // Distinct modification times, also for files made in the same second.
            mtime: SystemTime::now()
                - Duration::from_secs(age_secs)
                - Duration::from_millis(u64::from(1000 - self.model.counter.min(999))),
        };
        write(&self.path(&rel), &f);
        self.model.present.insert(rel.clone(), f);
        rel
    }

    /// One random change to the backup set; returns what it was, for failure messages.
    fn act(&mut self) -> String {
        let margin = Duration::from_secs(3600);
        let horizon = Duration::from_secs(RETENTION_DAYS * DAY);
        match self.rng.random_range(0..9) {
            0 | 1 => format!("new backup {}", self.new_file(0)),
            2 => match self.pick(|f| age(f.mtime) > horizon + margin) {
                Some(p) => {
                    std::fs::remove_file(self.path(&p)).unwrap();
                    self.model.present.remove(&p);
                    self.model.latent.remove(&p);
                    format!("retention deleted {p}")
                }
                None => "nothing old to retire".into(),
            },
            3 => match self.pick(|f| f.bytes.len() > 8) {
                Some(p) => {
                    let path = self.path(&p);
                    let at = self.rng.random_range(0..self.model.present[&p].bytes.len());
                    let f = self.model.present.get_mut(&p).unwrap();
                    f.bytes[at] ^= 0x5a;
                    write(&path, f);
                    if self.model.baseline.get(&p) == Some(&f.state()) {
                        self.model.latent.entry(p.clone()).or_insert(0);
                    }
                    format!("bit flip in {p}")
                }
                None => "nothing to flip".into(),
            },
            4 => match self.pick(|f| f.bytes.len() > 8) {
                Some(p) => {
                    let path = self.path(&p);
                    let f = self.model.present.get_mut(&p).unwrap();
                    let half = f.bytes.len() / 2;
                    f.bytes.truncate(half);
                    write(&path, f);
                    self.model.latent.remove(&p);
                    format!("truncated {p}")
                }
                None => "nothing to truncate".into(),
            },
            5 => match self.pick(|_| true) {
                Some(p) => {
                    let path = self.path(&p);
                    let len = self.model.present[&p].bytes.len();
                    let bytes = content(&mut self.rng, len);
                    let f = self.model.present.get_mut(&p).unwrap();
                    f.written = bytes.clone();
                    f.bytes = bytes;
                    f.mtime = SystemTime::now();
                    write(&path, f);
                    self.model.latent.remove(&p);
                    format!("new version of {p}")
                }
                None => "nothing to rewrite".into(),
            },
            6 => match self.pick(|f| age(f.mtime) + margin < horizon) {
                Some(p) => {
                    std::fs::remove_file(self.path(&p)).unwrap();
                    let f = self.model.present.remove(&p).unwrap();
                    self.model.latent.remove(&p);
                    self.model.deleted.insert(p.clone(), f);
                    format!("deleted young {p}")
                }
                None => "nothing young to delete".into(),
            },
            7 => {
                let keys: Vec<String> = self.model.deleted.keys().cloned().collect();
                if keys.is_empty() {
                    return "nothing to put back".into();
                }
                let p = keys[self.rng.random_range(0..keys.len())].clone();
                let f = self.model.deleted.remove(&p).unwrap();
                write(&self.path(&p), &f);
                self.model.present.insert(p.clone(), f);
                format!("put back {p}")
            }
            _ => "no change".into(),
        }
    }
}

/// Writes the configuration of one sequence.
fn setup(dir: &Path) -> Config {
    let backups = dir.join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    std::fs::write(dir.join("backproof.toml"), "data_dir = \"data\"\n").unwrap();
    std::fs::create_dir_all(dir.join("jobs.d")).unwrap();
    std::fs::write(
        dir.join("jobs.d/acme.toml"),
        format!(
            "client = \"Acme\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"0 3 * * *\"\n\
             [policy]\nsample_files = {SAMPLE}\nretention = \"{RETENTION_DAYS}d\"\nmax_age = \"off\"\n\
             ransomware = \"off\"\ncount_drop_percent = 100\nsize_drop_percent = 100\n\
             [[targets]]\nname = \"nas\"\nurl = \"file://{}\"\n",
            backups.display()
        ),
    )
    .unwrap();
    backproof::config::load(&dir.join("backproof.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the job; with `cancel_after`, drops the run once that many files were restored
/// (as Ctrl-C or a daemon shutdown does). Returns the evidence of a finished run.
async fn run(
    verifier: &RunService,
    config: &Config,
    seed: u64,
    cancel_after: Option<u64>,
) -> Option<RunEvidence> {
    let job = config.job("acme").unwrap();
    let progress = Arc::new(Progress::new("", "acme"));
    let req = RunRequest {
        target: None,
        seed: Some(seed),
        trigger: Trigger::Manual,
        run_id: None,
        progress: Some(progress.clone()),
    };
    let Some(after) = cancel_after else {
        return Some(verifier.run(job, req).await.unwrap().evidence);
    };
    let cancel = async {
        loop {
            let s = progress.snapshot();
            if s.phase.as_deref() == Some("restoring") && s.files_done >= after {
                return;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    };
    tokio::select! {
        done = verifier.run(job, req) => Some(done.unwrap().evidence),
        _ = cancel => {
            verifier.verifier.catalog.interrupt_unfinished().unwrap();
            None
        }
    }
}

/// Brings the model up to date with a finished run and checks the run against it.
fn judge(m: &mut Model, ev: &RunEvidence, where_: &str) {
    assert_eq!(ev.status, RunStatus::Finished);
    let t = &ev.targets[0];
    let verdict = ev.effective_verdict();
    let restored: Vec<String> = t
        .files
        .iter()
        .map(|f| format!("{} {:?} {} {}", f.path, f.picked, f.verdict, f.reason))
        .collect();
    let where_ = &format!("{where_}\nrestored: {restored:#?}");
    // Every corrupt file reported is really damaged; a caught damage the model did not
    // expect (a baseline from an interrupted run) is proven from now on.
    for f in t.findings.iter().filter(|f| {
        f.kind == ProblemKind::Corruption && f.check != backproof::evidence::CheckKind::Problems
    }) {
        for p in &f.paths {
            let file = m.present.get(p);
            assert!(
                file.is_some_and(|f| f.damaged()),
                "{where_}: false alarm: {p} reported corrupt but it is intact: {}",
                f.summary
            );
            let state = file.unwrap().state();
            m.open.entry((Open::Damaged, p.clone())).or_insert(state);
            m.latent.remove(p);
        }
    }
    // Bit flips in baselined files are proven when the run restores them.
    for f in t.files.iter().filter(|f| f.streamed_blake3.is_some()) {
        if m.latent.remove(&f.path).is_some() {
            let state = m.present[&f.path].state();
            m.open.insert((Open::Damaged, f.path.clone()), state);
        }
    }
    // What the listing shows against the last finished run.
    for (p, &(size, mtime)) in &m.committed {
        match m.present.get(p) {
            None if age(mtime) < Duration::from_secs(RETENTION_DAYS * DAY) => {
                m.open
                    .entry((Open::Vanished, p.clone()))
                    .or_insert((size, mtime));
            }
            Some(f) if f.mtime == mtime && f.bytes.len() as u64 != size => {
                m.open
                    .entry((Open::Damaged, p.clone()))
                    .or_insert(f.state());
            }
            _ => {}
        }
    }
    // What this run shows fixed.
    let present = &m.present;
    m.open.retain(|(kind, p), state| match kind {
        Open::Vanished => present.get(p).is_none_or(|f| f.state() != *state),
        Open::Damaged => match present.get(p) {
            Some(f) => f.damaged(),
            None => age(state.1) < Duration::from_secs(RETENTION_DAYS * DAY),
        },
    });
    // Baselines the system recorded.
    for f in t.files.iter().filter(|f| f.verified()) {
        let untrusted = f.picked == backproof::evidence::PickReason::Recheck
            && matches!(f.expected, backproof::evidence::Expectation::FirstSeen);
        if !untrusted {
            m.baseline
                .insert(f.path.clone(), (f.size, f.modified.into()));
        }
    }
    m.committed = m
        .present
        .iter()
        .map(|(p, f)| (p.clone(), f.state()))
        .collect();

    let bound = m.present.len().div_ceil(SAMPLE - 2) as u32 + 1;
    for (p, runs) in m.latent.iter_mut() {
        *runs += 1;
        assert!(
            *runs <= bound,
            "{where_}: the bit flip in {p} was not caught within {bound} runs"
        );
    }
    if !m.open.is_empty() {
        assert_eq!(
            verdict,
            Verdict::Fail,
            "{where_}: false PASS: open problems {:?}; findings {:#?}",
            m.open,
            t.findings
        );
    }
    let healthy =
        m.open.is_empty() && m.latent.is_empty() && m.present.values().all(|f| !f.damaged());
    if healthy {
        assert!(
            matches!(verdict, Verdict::Pass | Verdict::Warn),
            "{where_}: false alarm on a healthy set: {:#?}",
            t.findings
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_false_pass_no_false_alarm_and_damage_is_caught() {
    let sequences: u64 = std::env::var("BACKPROOF_TRUTH_SEQUENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let master: u64 = std::env::var("BACKPROOF_TRUTH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0xbac_9f00f);
    let (mut runs, mut finished, mut failed, mut caught) = (0u64, 0u64, 0u64, 0u64);
    let mut problems_seen = BTreeSet::new();
    for sequence in 0..sequences {
        let seed = master.wrapping_add(sequence);
        let dir = tempfile::tempdir().unwrap();
        let config = setup(dir.path());
        let catalog = Catalog::open(&config.data_dir).unwrap();
        let verifier = RunService::new(&config, Verifier::new(&config, catalog));
        let mut w = World {
            model: Model::default(),
            root: dir.path().join("backups"),
            rng: StdRng::seed_from_u64(seed),
        };
        // A starting set: some files older than the retention, some younger.
        for _ in 0..8 {
            let days = if w.rng.random_bool(0.4) {
                w.rng.random_range(12..20)
            } else {
                w.rng.random_range(1..8)
            };
            w.new_file(days * DAY);
        }
        w.new_file(0);
        let mut log = Vec::new();
        for step in 0..STEPS {
            let action = if step == 0 {
                "first run".into()
            } else {
                w.act()
            };
            log.push(action);
            let cancel = w
                .rng
                .random_bool(0.2)
                .then(|| w.rng.random_range(0..SAMPLE as u64));
            let run_seed = w.rng.random();
            let outcome = run(&verifier, &config, run_seed, cancel).await;
            runs += 1;
            let where_ = format!("sequence seed {seed}, step {step}: {}", log.join(" / "));
            match outcome {
                Some(ev) => {
                    finished += 1;
                    let open_before = w.model.open.len();
                    judge(&mut w.model, &ev, &where_);
                    if ev.effective_verdict() == Verdict::Fail {
                        failed += 1;
                    }
                    caught += w.model.open.len().saturating_sub(open_before) as u64;
                    for k in w.model.open.keys() {
                        problems_seen.insert(k.0);
                    }
                }
                None => log.push("(interrupted)".into()),
            }
        }
    }
    println!(
        "truth test: {sequences} sequences, {runs} runs ({finished} finished, {} interrupted), {failed} failed as the model required or allowed, {caught} problems proven; kinds seen: {problems_seen:?}",
        runs - finished
    );
    assert!(finished > sequences * (STEPS as u64) / 2);
    assert!(
        problems_seen.len() == 2 && caught > sequences,
        "the sequences must exercise both kinds of problem"
    );
}

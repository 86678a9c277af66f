//! The catalog: everything backproof remembers, in one sled database under `data_dir`.
//!
//! Trees (key → value, values are JSON with a schema version):
//! - `runs`: run id → [`RunEvidence`], compressed (see [`packed`])
//! - `job_runs`: `job \0 start time \0 run id` → run id (a job's runs in time order)
//! - `files`: `job \0 target \0 path` → [`FileRecord`] (baseline and coverage ledger)
//! - `inventory_chunks`: `job \0 target \0 first path` → chunk id: the index of the
//!   inventory's chunk files under `data_dir/inventory` (the committed listing and the
//!   one in progress, [`InventoryRecord`]s of consecutive paths; see [`inventory`]), and
//!   `job \0 target` → the marker of a target whose records are all in chunks
//! - `inventory`: `job \0 target \0 path` → [`InventoryRecord`], as older catalogs kept
//!   it: converted to chunks by a target's next listing
//! - `targets`: `job \0 target` → [`TargetState`] (totals of the committed listing)
//! - `problems`: `job \0 target \0 kind` → [`ProblemRecord`] (open problems)
//! - `problem_files`: `job \0 target \0 kind \0 path` → [`ProblemFile`]
//! - `acks`: `job \0 time \0 key` → [`AckRecord`] (every acknowledgement, kept)
//! - `notes`: `job \0 time` → text (what happened to the catalog itself, e.g. a run
//!   restored from its evidence file after damage)
//! - `meta`: `installation` → this catalog's id (marks the scratch folders it owns);
//!   `generation-floor` and `compacted-bytes` (see [`compact`])
//! - `outbox`: outbox id → [`OutboxItem`] (messages to send, sent or rejected)
//! - `alert_state`: `job \0 target \0 kind` → [`AlertState`] (reminders, escalation)
//! - `problem_episodes`: `job \0 target \0 kind` → [`Episodes`] (recent closings: flapping)
//! - `webhooks`: id → [`WebhookItem`] (webhook events to send, sent or rejected)
//! - `schedule`: job → the last scheduled slot the daemon handled (RFC 3339), for catch-up
//! - `alerts_pending`: run id → job, runs whose alerts (webhook events, closing and
//!   flapping notices) are still to be queued: written with the run, removed once queued
//! - `users`: user name → [`UserRecord`] (accounts of the web pages, argon2id hashes)
//! - `running`: run id → job, for each run still marked running (found at start without
//!   reading every run)
//! - `summaries`: job → [`JobSummary`] (what status and metrics need of its finished runs)
//! - `outbox_open`: outbox id → `p` (pending) or `r` (rejected), then the run id: the
//!   messages not delivered, counted without reading every message
//! - `anchors`: job → [`ChainAnchor`] (the last run retention pruned, where its evidence
//!   chain now starts)
//!
//! sled allows one process per database; [`lock::ProcessLock`] turns a second opener into
//! a clear error that names the process holding it.

mod alert_state;
mod compact;
mod episodes;
pub mod inventory;
mod lock;
mod packed;
mod records;
mod retention;
mod summary;
mod users;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::evidence::{EVIDENCE_SCHEMA, RunEvidence, RunStatus};

pub use alert_state::AlertState;
pub use compact::{CompactCopy, Compaction};
pub use episodes::Episodes;
pub use inventory::{InventoryCursor, InventoryWriter};
pub use lock::{HolderKind, LockRecord, ProcessLock, holder};
pub use records::{
    AckRecord, Claim, Delivery, FileRecord, InventoryRecord, MailKind, OutboxItem,
    PROBLEM_FILE_LIMIT, ProblemFile, ProblemRecord, RECORD_SCHEMA, Seen, Slot, TargetState, Update,
};
pub use retention::ChainAnchor;
pub use summary::{Durations, JobSummary, LastRun, TargetSummary, duration_bounds};
pub use users::{Role, UserRecord};
pub use webhooks::WebhookItem;

use crate::evidence::{Acknowledgement, ProblemKind};

/// What a finished run changes besides its own record, written in the same transaction:
/// the committed listing of each target it listed completely, and the open problems.
#[derive(Debug, Default)]
pub struct RunCommit {
    pub targets: Vec<TargetCommit>,
}

/// One target's part of a [`RunCommit`].
#[derive(Debug)]
pub struct TargetCommit {
    pub job: String,
    pub target: String,
    /// The listing this run made, now the one later runs compare with; `None` when the
    /// target could not be listed completely.
    pub state: Option<TargetState>,
    pub problems: Vec<ProblemUpdate>,
}

/// A change to one open problem.
#[derive(Debug)]
pub enum ProblemUpdate {
    /// Opens or updates the problem. An acknowledgement given meanwhile is kept unless
    /// `clear_ack` (the problem grew since).
    Upsert {
        record: Box<ProblemRecord>,
        add: Vec<(String, ProblemFile)>,
        remove: Vec<String>,
        clear_ack: bool,
    },
    /// The evidence shows it fixed: the record and its remaining files go.
    Close {
        kind: ProblemKind,
        files: Vec<String>,
    },
}

/// How a stored inventory record relates to the listing being swept.
#[derive(Debug, Clone, Copy)]
pub enum Swept {
    /// Seen by this listing; `before` is the committed view, if the file was in it.
    Present { now: Seen, before: Option<Seen> },
    /// In the committed listing but not in this one.
    Vanished { before: Seen },
}

/// The catalog could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(
        "the catalog in {data_dir} is in use by another backproof process ({holder}); lock file {lock_file}"
    )]
    Locked {
        data_dir: PathBuf,
        lock_file: PathBuf,
        holder: String,
        /// The holder's record, when it could be read.
        record: Option<Box<LockRecord>>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("catalog database {path}: {cause}")]
    Db { path: PathBuf, cause: sled::Error },
    #[error(
        "the catalog database {path} is damaged ({detail}). The evidence files under {evidence} are not affected. To go on: stop backproof (systemctl stop backproof), move the damaged catalog aside (mv {path} {path}.damaged), and start again: a new catalog begins (run history, baselines and open problems start over), and `backproof verify-evidence` still checks the evidence files"
    )]
    Damaged {
        path: PathBuf,
        evidence: PathBuf,
        detail: String,
    },
    #[error("catalog record {key} is unreadable: {message}")]
    Corrupt { key: String, message: String },
    /// A chunk of a target's inventory is missing or damaged (see [`inventory`]).
    #[error("the catalog's inventory of target `{target}` is damaged: {detail}")]
    InventoryDamaged { target: String, detail: String },
}

/// An open catalog. Cheap to clone; all clones share the database and the lock.
#[derive(Clone)]
pub struct Catalog {
    path: PathBuf,
    db: sled::Db,
    runs: sled::Tree,
    job_runs: sled::Tree,
    files: sled::Tree,
    inventory: sled::Tree,
    inventory_chunks: sled::Tree,
    targets: sled::Tree,
    outbox: sled::Tree,
    schedule: sled::Tree,
    problems: sled::Tree,
    problem_files: sled::Tree,
    acks: sled::Tree,
    notes: sled::Tree,
    meta: sled::Tree,
    alerts_pending: sled::Tree,
    running: sled::Tree,
    summaries: sled::Tree,
    anchors: sled::Tree,
    outbox_open: sled::Tree,
    /// This catalog's id, written into the scratch folders of its runs.
    installation: String,
    _lock: Arc<ProcessLock>,
}

type Result<T> = std::result::Result<T, CatalogError>;

const SEP: u8 = 0;

/// The database's folder in `data_dir`.
const CATALOG_DIR: &str = "catalog";

fn key(parts: &[&str]) -> Vec<u8> {
    let mut k = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(SEP);
        }
        k.extend_from_slice(p.as_bytes());
    }
    k
}

fn prefix(parts: &[&str]) -> Vec<u8> {
    let mut k = key(parts);
    k.push(SEP);
    k
}

/// The records of one target in one tree (`job \0 target \0 path` keys), in path order,
/// for a listing to merge with: [`Cursor::seek`] passes over the records of the paths
/// before a listed one without reading them, and returns that path's own.
pub struct Cursor<T> {
    iter: std::iter::Peekable<std::iter::Fuse<sled::Iter>>,
    skip: usize,
    catalog: Catalog,
    decode: fn(&[u8], &[u8]) -> Result<T>,
}

impl<T> Cursor<T> {
    fn new(
        catalog: &Catalog,
        tree: &sled::Tree,
        job: &str,
        target: &str,
        decode: fn(&[u8], &[u8]) -> Result<T>,
    ) -> Cursor<T> {
        let p = prefix(&[job, target]);
        Cursor {
            skip: p.len(),
            iter: tree.scan_prefix(p).fuse().peekable(),
            catalog: catalog.clone(),
            decode,
        }
    }

    /// The record of `path` (paths asked for in ascending order).
    pub fn seek(&mut self, path: &str) -> Result<Option<T>> {
        use std::cmp::Ordering;
        loop {
            let order = match self.iter.peek() {
                None => return Ok(None),
                Some(Ok((k, _))) => k[self.skip..].cmp(path.as_bytes()),
                Some(Err(_)) => {
                    return match self.iter.next() {
                        Some(Err(e)) => Err(self.catalog.db_err(e)),
                        _ => Ok(None),
                    };
                }
            };
            if order == Ordering::Greater {
                return Ok(None);
            }
            let Some(Ok((k, v))) = self.iter.next() else {
                return Ok(None);
            };
            if order == Ordering::Equal {
                return (self.decode)(&k, &v).map(Some);
            }
        }
    }
}

/// How long an open waits for the file lock of the database. The process lock is taken
/// first, so another backproof cannot be holding it: what holds it is the background
/// threads of a catalog just dropped (ours, or a process's that is ending), which let go
/// of the file a moment later, on a busy machine not at once.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Opens the sled database at `path`, waiting a bounded time for its file lock.
fn open_db(path: &Path) -> sled::Result<sled::Db> {
    let started = std::time::Instant::now();
    let deadline = started + RELEASE_WAIT;
    let mut said = false;
    loop {
        let opened = sled::Config::new()
            .path(path)
            // A small cache: memory matters more than speed here (the fleet page reads
            // summaries, a listing reads the inventory once, in order), and sled's own
            // memory grows beyond its cache with the size of the database.
            .cache_capacity(8 << 20)
            .flush_every_ms(Some(1000))
            .open();
        match opened {
            Err(e) if still_held(&e) && std::time::Instant::now() < deadline => {
                // Usually a moment; a wait this long is worth a line in the log.
                if !said && started.elapsed() >= std::time::Duration::from_secs(2) {
                    said = true;
                    tracing::warn!(
                        path = %path.display(),
                        wait_s = RELEASE_WAIT.as_secs(),
                        "the catalog's database file is still held open; waiting for it to be let go"
                    );
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            opened => return opened,
        }
    }
}

/// Whether sled refused to open because a file handle of the database is still open.
fn still_held(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io)
        if io.kind() == std::io::ErrorKind::WouldBlock
            || io.to_string().contains("could not acquire lock"))
}

impl Catalog {
    /// Opens (creating if needed) the catalog in `data_dir`, taking the process lock.
    pub fn open(data_dir: &Path) -> Result<Catalog> {
        Catalog::open_as(data_dir, &LockRecord::command())
    }

    /// [`Catalog::open`], with `me` as the lock holder's record (the daemon names its API).
    pub fn open_as(data_dir: &Path, me: &LockRecord) -> Result<Catalog> {
        std::fs::create_dir_all(data_dir).map_err(|e| CatalogError::Io {
            path: data_dir.to_path_buf(),
            source: e,
        })?;
        let lock = Arc::new(ProcessLock::acquire(data_dir, me)?);
        compact::recover(data_dir)?;
        Catalog::open_locked(data_dir, lock)
    }

    /// Opens the database in `data_dir` (no interrupted compaction left) under `lock`.
    fn open_locked(data_dir: &Path, lock: Arc<ProcessLock>) -> Result<Catalog> {
        let path = data_dir.join(CATALOG_DIR);
        let db_err = |e| CatalogError::Db {
            path: path.clone(),
            cause: e,
        };
        let damaged = |e: sled::Error| match e {
            sled::Error::Corruption { .. } => CatalogError::Damaged {
                path: path.clone(),
                evidence: data_dir.join("evidence"),
                detail: "its data cannot be read back".into(),
            },
            e => db_err(e),
        };
        let db = open_db(&path).map_err(damaged)?;
        let tree = |name: &str| db.open_tree(name).map_err(damaged);
        let meta = tree("meta")?;
        let installation = match meta.get(b"installation").map_err(damaged)? {
            Some(id) => String::from_utf8_lossy(&id).into_owned(),
            None => {
                let id = format!("{:032x}", rand::random::<u128>());
                meta.insert(b"installation", id.as_bytes())
                    .map_err(damaged)?;
                id
            }
        };
        let catalog = Catalog {
            meta,
            running: tree("running")?,
            summaries: tree("summaries")?,
            anchors: tree("anchors")?,
            outbox_open: tree("outbox_open")?,
            notes: tree("notes")?,
            installation,
            runs: tree("runs")?,
            job_runs: tree("job_runs")?,
            files: tree("files")?,
            inventory: tree("inventory")?,
            inventory_chunks: tree("inventory_chunks")?,
            targets: tree("targets")?,
            outbox: tree("outbox")?,
            schedule: tree("schedule")?,
            problems: tree("problems")?,
            problem_files: tree("problem_files")?,
            acks: tree("acks")?,
            alerts_pending: tree("alerts_pending")?,
            db,
            path,
            _lock: lock,
        };
        catalog.build_indexes()?;
        Ok(catalog)
    }

    /// Builds the index of running runs and the job summaries of a catalog written by a
    /// backproof that kept neither: reads every stored run once, the first time only.
    fn build_indexes(&self) -> Result<()> {
        const BUILT: &[u8] = b"indexes-v1";
        if self.meta.get(BUILT).map_err(|e| self.db_err(e))?.is_some() {
            return Ok(());
        }
        let mut current: Option<(String, JobSummary)> = None;
        let save = |(job, summary): (String, JobSummary)| -> Result<()> {
            if summary.last.is_some() {
                self.put(&self.summaries, job.into_bytes(), &summary)?;
            }
            Ok(())
        };
        for item in self.job_runs.iter() {
            let (_, id) = item.map_err(|e| self.db_err(e))?;
            let Some(v) = self.runs.get(&id).map_err(|e| self.db_err(e))? else {
                continue;
            };
            // A damaged document is reported where it is read, not here.
            let Some(ev) = packed::unpack(&v)
                .ok()
                .and_then(|doc| serde_json::from_slice::<RunEvidence>(&doc).ok())
            else {
                continue;
            };
            if ev.status == RunStatus::Running {
                self.running
                    .insert(&id, ev.job.as_bytes())
                    .map_err(|e| self.db_err(e))?;
            }
            if current.as_ref().is_none_or(|(job, _)| *job != ev.job) {
                if let Some(done) = current.take() {
                    save(done)?;
                }
                current = Some((ev.job.clone(), JobSummary::default()));
            }
            if let Some((_, summary)) = current.as_mut() {
                summary.add(&ev);
            }
        }
        if let Some(done) = current {
            save(done)?;
        }
        for item in self.outbox.iter() {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            if let Ok(item) = serde_json::from_slice::<OutboxItem>(&v)
                && let Some(entry) = open_entry(&item)
            {
                self.outbox_open
                    .insert(k, entry)
                    .map_err(|e| self.db_err(e))?;
            }
        }
        self.meta.insert(BUILT, b"1").map_err(|e| self.db_err(e))?;
        self.flush()
    }

    fn db_err(&self, e: sled::Error) -> CatalogError {
        match e {
            sled::Error::Corruption { .. } => CatalogError::Damaged {
                path: self.path.clone(),
                evidence: self
                    .path
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join("evidence"),
                detail: "some of its data cannot be read back".into(),
            },
            e => CatalogError::Db {
                path: self.path.clone(),
                cause: e,
            },
        }
    }

    fn get<T: DeserializeOwned>(&self, tree: &sled::Tree, k: &[u8]) -> Result<Option<T>> {
        match tree.get(k).map_err(|e| self.db_err(e))? {
            None => Ok(None),
            Some(v) => decode(k, &v).map(Some),
        }
    }

    fn put<T: Serialize>(&self, tree: &sled::Tree, k: Vec<u8>, value: &T) -> Result<()> {
        let v = serde_json::to_vec(value).expect("records serialize");
        tree.insert(k, v).map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush().map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// A number larger than any this catalog returned before (survives restarts).
    pub fn next_generation(&self) -> Result<u64> {
        // sled's counter starts again in a compacted copy: the copy records where the
        // counter of the database it was made from had got to.
        let floor = match self.meta.get(compact::GENERATION_FLOOR) {
            Ok(Some(v)) => compact::decode_u64(&v),
            Ok(None) => 0,
            Err(e) => return Err(self.db_err(e)),
        };
        let id = self.db.generate_id().map_err(|e| self.db_err(e))?;
        Ok(floor.saturating_add(id))
    }

    // --- runs -------------------------------------------------------------------------

    /// Stores (or replaces) a run's evidence.
    pub fn put_run(&self, ev: &RunEvidence) -> Result<()> {
        use sled::Transactional;
        let doc = packed::pack(&encode(ev));
        (&self.runs, &self.job_runs, &self.running)
            .transaction(|(runs, job_runs, running)| {
                runs.insert(ev.run_id.as_bytes(), doc.as_slice())?;
                job_runs.insert(job_run_key(ev), ev.run_id.as_bytes())?;
                if ev.status == RunStatus::Running {
                    running.insert(ev.run_id.as_bytes(), ev.job.as_bytes())?;
                } else {
                    running.remove(ev.run_id.as_bytes())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<String>>(())
            })
            .map_err(|e| self.tx_err(e))
    }

    fn tx_err(&self, e: sled::transaction::TransactionError<String>) -> CatalogError {
        match e {
            sled::transaction::TransactionError::Storage(e) => self.db_err(e),
            sled::transaction::TransactionError::Abort(message) => CatalogError::Corrupt {
                key: "transaction".into(),
                message,
            },
        }
    }

    /// The summary of a job's finished runs (`None` before its first finished run).
    pub fn summary(&self, job: &str) -> Result<Option<JobSummary>> {
        self.get(&self.summaries, job.as_bytes())
    }

    /// Records a finished run: its evidence exactly as `document` (the bytes its hash is
    /// taken of), the message reporting it, what it changes (`commit`: committed
    /// listings, open problems), and that its alerts are still to be queued (see
    /// [`Catalog::alerts_pending`]), in one transaction. Either all are stored or none.
    pub fn finish_run(
        &self,
        ev: &RunEvidence,
        document: &[u8],
        mail: Option<&OutboxItem>,
        commit: &RunCommit,
    ) -> Result<()> {
        use sled::Transactional;
        use sled::transaction::ConflictableTransactionError;
        let mail = mail.map(|m| (m.id.clone(), encode(m), open_entry(m)));
        let document = packed::pack(document);
        (
            &self.runs,
            &self.job_runs,
            &self.outbox,
            &self.targets,
            &self.problems,
            &self.problem_files,
            &self.running,
            &self.summaries,
            &self.outbox_open,
            &self.alerts_pending,
        )
            .transaction(
                |(
                    runs,
                    job_runs,
                    outbox,
                    targets,
                    problems,
                    files,
                    running,
                    summaries,
                    open,
                    pending,
                )| {
                    runs.insert(ev.run_id.as_bytes(), document.as_slice())?;
                    job_runs.insert(job_run_key(ev), ev.run_id.as_bytes())?;
                    running.remove(ev.run_id.as_bytes())?;
                    pending.insert(ev.run_id.as_bytes(), ev.job.as_bytes())?;
                    add_to_summary(summaries, ev)?;
                    if let Some((id, bytes, entry)) = &mail {
                        outbox.insert(id.as_bytes(), bytes.as_slice())?;
                        match entry {
                            Some(entry) => open.insert(id.as_bytes(), entry.as_slice())?,
                            None => open.remove(id.as_bytes())?,
                        };
                    }
                    for tc in &commit.targets {
                        let (job, target) = (tc.job.as_str(), tc.target.as_str());
                        if let Some(state) = &tc.state {
                            targets.insert(key(&[job, target]), encode(state))?;
                        }
                        for update in &tc.problems {
                            match update {
                                ProblemUpdate::Upsert {
                                    record,
                                    add,
                                    remove,
                                    clear_ack,
                                } => {
                                    let k = key(&[job, target, record.kind.label()]);
                                    let mut record = (**record).clone();
                                    if !clear_ack && let Some(current) = problems.get(&k)? {
                                        let current: ProblemRecord =
                                            serde_json::from_slice(&current).map_err(|e| {
                                                ConflictableTransactionError::Abort(e.to_string())
                                            })?;
                                        record.ack = current.ack;
                                    }
                                    problems.insert(k, encode(&record))?;
                                    let label = record.kind.label();
                                    for (path, f) in add {
                                        files
                                            .insert(key(&[job, target, label, path]), encode(f))?;
                                    }
                                    for path in remove {
                                        files.remove(key(&[job, target, label, path]))?;
                                    }
                                }
                                ProblemUpdate::Close { kind, files: paths } => {
                                    problems.remove(key(&[job, target, kind.label()]))?;
                                    for path in paths {
                                        files.remove(key(&[job, target, kind.label(), path]))?;
                                    }
                                }
                            }
                        }
                    }
                    Ok::<_, ConflictableTransactionError<String>>(())
                },
            )
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(e) => self.db_err(e),
                sled::transaction::TransactionError::Abort(message) => CatalogError::Corrupt {
                    key: format!("problems of job {}", ev.job),
                    message,
                },
            })
    }

    /// Runs whose alerts are still to be queued, as (run id, job), oldest first: a process
    /// that stopped between recording a run and queueing its alerts leaves them here, and
    /// the next one to open the catalog queues them (queueing them twice sends nothing
    /// twice).
    pub fn alerts_pending(&self) -> Result<Vec<(String, String)>> {
        let mut pending = Vec::new();
        for item in self.alerts_pending.iter() {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            pending.push((
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            ));
        }
        Ok(pending)
    }

    /// The alerts of run `run_id` are queued.
    pub fn alerts_queued(&self, run_id: &str) -> Result<()> {
        self.alerts_pending
            .remove(run_id.as_bytes())
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Marks one run as interrupted if it is still running (cancelled by the daemon).
    pub fn interrupt_run(&self, run_id: &str) -> Result<bool> {
        match self.run(run_id)? {
            Some(mut ev) if ev.status == RunStatus::Running => {
                ev.status = RunStatus::Interrupted;
                ev.verdict = None;
                ev.finished_at = Some(chrono::Utc::now());
                self.put_run(&ev)?;
                self.flush()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    // --- schedule ----------------------------------------------------------------------

    /// The last scheduled slot of `job` the daemon handled.
    pub fn last_slot(&self, job: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        let Some(v) = self
            .schedule
            .get(job.as_bytes())
            .map_err(|e| self.db_err(e))?
        else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&v);
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| Some(t.with_timezone(&chrono::Utc)))
            .map_err(|e| CatalogError::Corrupt {
                key: format!("schedule/{job}"),
                message: e.to_string(),
            })
    }

    pub fn set_last_slot(&self, job: &str, slot: chrono::DateTime<chrono::Utc>) -> Result<()> {
        self.schedule
            .insert(job.as_bytes(), slot.to_rfc3339().as_bytes())
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Forgets a run (its document and its place in the job's history). Its successor's
    /// seal then points at nothing, which `backproof verify-evidence` reports.
    pub fn remove_run(&self, run_id: &str) -> Result<bool> {
        let Some(ev) = self.run(run_id)? else {
            return Ok(false);
        };
        self.runs
            .remove(run_id.as_bytes())
            .map_err(|e| self.db_err(e))?;
        self.job_runs
            .remove(job_run_key(&ev))
            .map_err(|e| self.db_err(e))?;
        self.running
            .remove(run_id.as_bytes())
            .map_err(|e| self.db_err(e))?;
        Ok(true)
    }

    /// A run's evidence document: the exact bytes it was recorded with (stored packed).
    pub fn run_document(&self, run_id: &str) -> Result<Option<Vec<u8>>> {
        let Some(stored) = self
            .runs
            .get(run_id.as_bytes())
            .map_err(|e| self.db_err(e))?
        else {
            return Ok(None);
        };
        let document = packed::unpack(&stored).map_err(|message| CatalogError::Corrupt {
            key: run_id.into(),
            message,
        })?;
        Ok(Some(document.into_owned()))
    }

    /// Stores `stored` as run `run_id`'s value as it is, unpacked (tests: damage).
    #[cfg(test)]
    pub(crate) fn put_stored_run(&self, run_id: &str, stored: &[u8]) {
        self.runs.insert(run_id.as_bytes(), stored).unwrap();
    }

    pub fn run(&self, run_id: &str) -> Result<Option<RunEvidence>> {
        Ok(self.run_with_document(run_id)?.map(|(ev, _)| ev))
    }

    /// A run's evidence and its document (as [`Catalog::run_document`]), read once.
    pub fn run_with_document(&self, run_id: &str) -> Result<Option<(RunEvidence, Vec<u8>)>> {
        let Some(document) = self.run_document(run_id)? else {
            return Ok(None);
        };
        let ev: RunEvidence = decode(run_id.as_bytes(), &document)?;
        if ev.schema > EVIDENCE_SCHEMA {
            return Err(CatalogError::Corrupt {
                key: run_id.into(),
                message: format!(
                    "written by a newer backproof (evidence schema {}, this one knows {EVIDENCE_SCHEMA})",
                    ev.schema
                ),
            });
        }
        Ok(Some((ev, document)))
    }

    /// Run ids of a job, newest first.
    pub fn run_ids_of_job(&self, job: &str) -> Result<Vec<String>> {
        self.newest_run_ids(job).collect()
    }

    /// Run ids of a job, newest first, read as they are asked for.
    pub fn newest_run_ids(&self, job: &str) -> impl Iterator<Item = Result<String>> + '_ {
        self.job_runs.scan_prefix(prefix(&[job])).rev().map(|item| {
            let (_, id) = item.map_err(|e| self.db_err(e))?;
            Ok(String::from_utf8_lossy(&id).into_owned())
        })
    }

    /// The newest finished run of a job, if any.
    pub fn last_finished_run(&self, job: &str) -> Result<Option<RunEvidence>> {
        for id in self.newest_run_ids(job) {
            if let Some(ev) = self.run(&id?)?
                && ev.status == RunStatus::Finished
            {
                return Ok(Some(ev));
            }
        }
        Ok(None)
    }

    /// Records that the daemon is alive and healthy now.
    pub fn set_heartbeat(&self, at: chrono::DateTime<chrono::Utc>) -> Result<()> {
        self.meta
            .insert(b"heartbeat", at.to_rfc3339().as_bytes())
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// When the daemon last said it was alive and healthy.
    pub fn heartbeat(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        Ok(self
            .meta
            .get(b"heartbeat")
            .map_err(|e| self.db_err(e))?
            .and_then(|v| chrono::DateTime::parse_from_rfc3339(&String::from_utf8_lossy(&v)).ok())
            .map(|t| t.with_timezone(&chrono::Utc)))
    }

    /// This catalog's id: the scratch folders of its runs carry it, so that a clean-up
    /// never touches folders another installation (or a person) made.
    pub fn installation(&self) -> &str {
        &self.installation
    }

    /// Puts back a finished run's document (exactly as its evidence file holds it) after
    /// the catalog lost it.
    pub fn restore_run(&self, ev: &RunEvidence, document: &[u8]) -> Result<()> {
        use sled::Transactional;
        let document = packed::pack(document);
        (&self.runs, &self.job_runs, &self.running, &self.summaries)
            .transaction(|(runs, job_runs, running, summaries)| {
                runs.insert(ev.run_id.as_bytes(), document.as_slice())?;
                job_runs.insert(job_run_key(ev), ev.run_id.as_bytes())?;
                running.remove(ev.run_id.as_bytes())?;
                add_to_summary(summaries, ev)?;
                Ok(())
            })
            .map_err(|e| self.tx_err(e))
    }

    /// Opens `problem` of a job's target again as a run's evidence showed it open, unless
    /// the catalog has it (after the catalog lost it). Its files' sizes and dates are not
    /// in the evidence: they are known again when they are restored.
    pub fn reopen_problem(
        &self,
        job: &str,
        target: &str,
        p: &crate::evidence::OpenProblem,
    ) -> Result<bool> {
        let k = key(&[job, target, p.kind.label()]);
        if self.problems.get(&k).map_err(|e| self.db_err(e))?.is_some() {
            return Ok(false);
        }
        let record = ProblemRecord {
            v: RECORD_SCHEMA,
            kind: p.kind,
            summary: p.summary.clone(),
            opened_run: p.opened_run.clone(),
            opened_at: p.opened_at,
            last_seen_run: p.last_seen_run.clone(),
            last_seen_at: p.last_seen_at,
            files: p.files,
            untracked_files: p.files.saturating_sub(p.paths.len() as u64),
            reference_bytes: None,
            ack: p.acknowledged.clone(),
        };
        self.put(&self.problems, k, &record)?;
        for path in &p.paths {
            let f = ProblemFile::UNKNOWN;
            self.put(
                &self.problem_files,
                key(&[job, target, p.kind.label(), path]),
                &f,
            )?;
        }
        Ok(true)
    }

    /// Records something that happened to the catalog itself, shown in the job's history.
    pub fn note(&self, job: &str, text: &str) -> Result<()> {
        let at = chrono::Utc::now();
        let k = key(&[job, &format!("{:020}", at.timestamp_micros().max(0))]);
        let v = format!("{} {text}", at.format("%Y-%m-%d %H:%M UTC"));
        self.notes
            .insert(k, v.as_bytes())
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// The notes of a job, oldest first.
    pub fn notes(&self, job: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for item in self.notes.scan_prefix(prefix(&[job])) {
            let (_, v) = item.map_err(|e| self.db_err(e))?;
            out.push(String::from_utf8_lossy(&v).into_owned());
        }
        Ok(out)
    }

    /// The runs still marked `running` (their process is gone if we hold the lock).
    /// They are found through the index of running runs, not by reading every run.
    pub fn unfinished(&self) -> Result<Vec<RunEvidence>> {
        let mut out = Vec::new();
        for item in self.running.iter() {
            let (k, _) = item.map_err(|e| self.db_err(e))?;
            match self.run(&String::from_utf8_lossy(&k))? {
                Some(ev) if ev.status == RunStatus::Running => out.push(ev),
                // An index entry whose run finished or went: nothing to do.
                _ => {
                    self.running.remove(&k).map_err(|e| self.db_err(e))?;
                }
            }
        }
        Ok(out)
    }

    /// Marks runs that were still `running` as `interrupted` (the process that ran them
    /// is gone: we hold the lock). Returns their ids.
    pub fn interrupt_unfinished(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for mut ev in self.unfinished()? {
            ev.status = RunStatus::Interrupted;
            ev.verdict = None;
            self.put_run(&ev)?;
            ids.push(ev.run_id);
        }
        Ok(ids)
    }

    // --- outbox -----------------------------------------------------------------------

    pub fn put_outbox(&self, item: &OutboxItem) -> Result<()> {
        use sled::Transactional;
        let (v, entry) = (encode(item), open_entry(item));
        (&self.outbox, &self.outbox_open)
            .transaction(|(outbox, open)| {
                outbox.insert(item.id.as_bytes(), v.as_slice())?;
                match &entry {
                    Some(entry) => open.insert(item.id.as_bytes(), entry.as_slice())?,
                    None => open.remove(item.id.as_bytes())?,
                };
                Ok::<_, sled::transaction::ConflictableTransactionError<String>>(())
            })
            .map_err(|e| self.tx_err(e))
    }

    /// One outbox message.
    pub fn outbox_item(&self, id: &str) -> Result<Option<OutboxItem>> {
        self.get(&self.outbox, id.as_bytes())
    }

    /// Every outbox message, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>> {
        let mut items = Vec::new();
        for item in self.outbox.iter() {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            items.push(decode(&k, &v)?);
        }
        Ok(items)
    }

    /// How many messages wait for delivery, and how many the server refused for good:
    /// read from the index of messages not delivered, not from the messages.
    pub fn outbox_counts(&self) -> Result<(usize, usize)> {
        let (mut queued, mut rejected) = (0, 0);
        for item in self.outbox_open.iter() {
            let (_, v) = item.map_err(|e| self.db_err(e))?;
            match v.first() {
                Some(b'p') => queued += 1,
                _ => rejected += 1,
            }
        }
        Ok((queued, rejected))
    }

    /// The messages waiting for delivery, oldest first: found through the index of
    /// messages not delivered, without reading the others.
    pub fn pending_outbox(&self) -> Result<Vec<OutboxItem>> {
        let mut items = Vec::new();
        for entry in self.outbox_open.iter() {
            let (k, v) = entry.map_err(|e| self.db_err(e))?;
            if v.first() == Some(&b'p')
                && let Some(item) = self.get::<OutboxItem>(&self.outbox, &k)?
            {
                items.push(item);
            }
        }
        Ok(items)
    }

    /// The runs the messages waiting for delivery report on.
    pub fn outbox_runs(&self) -> Result<std::collections::HashSet<String>> {
        let mut runs = std::collections::HashSet::new();
        for item in self.outbox_open.iter() {
            let (_, v) = item.map_err(|e| self.db_err(e))?;
            if let Some((b'p', run)) = v.split_first()
                && !run.is_empty()
            {
                runs.insert(String::from_utf8_lossy(run).into_owned());
            }
        }
        Ok(runs)
    }

    /// Takes message `id` for one delivery attempt if it is [`OutboxItem::claimable`],
    /// holding it for `lease`. The claim is a compare-and-swap on the stored record, so of
    /// several deliverers trying at once exactly one gets the message; the others see it
    /// claimed (or no longer pending) and leave it. Returns the claimed message.
    pub fn claim_outbox(
        &self,
        id: &str,
        by: &str,
        now: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
        force: bool,
    ) -> Result<Option<OutboxItem>> {
        loop {
            let Some(current) = self.outbox.get(id).map_err(|e| self.db_err(e))? else {
                return Ok(None);
            };
            let mut item: OutboxItem = decode(id.as_bytes(), &current)?;
            if !item.claimable(now, force) {
                return Ok(None);
            }
            item.claim = Some(Claim {
                by: by.to_string(),
                until: now + lease,
            });
            if self.swap_outbox(id, &current, &item)? {
                return Ok(Some(item));
            }
            // Someone changed the record meanwhile: look at it again.
        }
    }

    /// Records the outcome of an attempt claimed by `by`, dropping the claim. Writes
    /// nothing and returns `false` if `by` no longer holds the message (its claim lapsed
    /// and another deliverer took it over).
    pub fn settle_outbox(&self, item: &OutboxItem, by: &str) -> Result<bool> {
        let mut settled = item.clone();
        settled.claim = None;
        loop {
            let Some(current) = self.outbox.get(&item.id).map_err(|e| self.db_err(e))? else {
                return Ok(false);
            };
            let stored: OutboxItem = decode(item.id.as_bytes(), &current)?;
            if stored.claim.as_ref().map(|c| c.by.as_str()) != Some(by) {
                return Ok(false);
            }
            if self.swap_outbox(&item.id, &current, &settled)? {
                return Ok(true);
            }
        }
    }

    /// Replaces the record `id` by `item` if it still holds the bytes `current`.
    fn swap_outbox(&self, id: &str, current: &sled::IVec, item: &OutboxItem) -> Result<bool> {
        let new = serde_json::to_vec(item).map_err(|e| CatalogError::Corrupt {
            key: format!("outbox/{id}"),
            message: e.to_string(),
        })?;
        use sled::Transactional;
        let entry = open_entry(item);
        (&self.outbox, &self.outbox_open)
            .transaction(|(outbox, open)| {
                if outbox.get(id)?.as_ref() != Some(current) {
                    return Ok(false);
                }
                outbox.insert(id.as_bytes(), new.as_slice())?;
                match &entry {
                    Some(entry) => open.insert(id.as_bytes(), entry.as_slice())?,
                    None => open.remove(id.as_bytes())?,
                };
                Ok::<_, sled::transaction::ConflictableTransactionError<String>>(true)
            })
            .map_err(|e| self.tx_err(e))
    }

    /// Forgets delivered messages older than `keep` (rejected ones stay until removed by
    /// hand).
    pub fn prune_outbox(&self, keep: chrono::Duration) -> Result<usize> {
        let cutoff = chrono::Utc::now() - keep;
        let mut removed = 0;
        for item in self.outbox()? {
            if matches!(item.delivery, Delivery::Sent { at } | Delivery::Written { at, .. } if at < cutoff)
            {
                self.outbox
                    .remove(item.id.as_bytes())
                    .map_err(|e| self.db_err(e))?;
                self.outbox_open
                    .remove(item.id.as_bytes())
                    .map_err(|e| self.db_err(e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    // --- files: baselines and coverage ledger -------------------------------------------

    pub fn file(&self, job: &str, target: &str, path: &str) -> Result<Option<FileRecord>> {
        self.get(&self.files, &key(&[job, target, path]))
    }

    pub fn put_file(&self, job: &str, target: &str, path: &str, rec: &FileRecord) -> Result<()> {
        self.put(&self.files, key(&[job, target, path]), rec)
    }

    // --- inventory: see [`inventory`] ----------------------------------------------------

    /// The target's file records (baselines), in path order.
    pub fn files_cursor(&self, job: &str, target: &str) -> Cursor<FileRecord> {
        Cursor::new(self, &self.files, job, target, decode)
    }

    // --- targets ------------------------------------------------------------------------

    pub fn target_state(&self, job: &str, target: &str) -> Result<Option<TargetState>> {
        self.get(&self.targets, &key(&[job, target]))
    }

    pub fn put_target_state(&self, job: &str, target: &str, st: &TargetState) -> Result<()> {
        self.put(&self.targets, key(&[job, target]), st)
    }

    // --- problems -----------------------------------------------------------------------

    /// The open problems of a target, worst kind first.
    pub fn open_problems(&self, job: &str, target: &str) -> Result<Vec<ProblemRecord>> {
        let mut out: Vec<ProblemRecord> = Vec::new();
        for item in self.problems.scan_prefix(prefix(&[job, target])) {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            out.push(decode(&k, &v)?);
        }
        out.sort_by_key(|r| (r.kind.tier(), r.kind));
        Ok(out)
    }

    /// The open problems of every target of a job: (target, problem).
    pub fn job_problems(&self, job: &str) -> Result<Vec<(String, ProblemRecord)>> {
        let p = prefix(&[job]);
        let mut out = Vec::new();
        for item in self.problems.scan_prefix(&p) {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            let rest = &k[p.len()..];
            let target = rest.split(|b| *b == SEP).next().unwrap_or_default();
            out.push((
                String::from_utf8_lossy(target).into_owned(),
                decode(&k, &v)?,
            ));
        }
        Ok(out)
    }

    /// One file of an open problem, if the problem names it.
    pub fn problem_file(
        &self,
        job: &str,
        target: &str,
        kind: ProblemKind,
        path: &str,
    ) -> Result<Option<ProblemFile>> {
        self.get(
            &self.problem_files,
            &key(&[job, target, kind.label(), path]),
        )
    }

    /// Calls `visit` for each file of an open problem, in path order, until it returns
    /// `false`.
    pub fn problem_files(
        &self,
        job: &str,
        target: &str,
        kind: ProblemKind,
        mut visit: impl FnMut(&str, ProblemFile) -> Result<bool>,
    ) -> Result<()> {
        let p = prefix(&[job, target, kind.label()]);
        for item in self.problem_files.scan_prefix(&p) {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            let f: ProblemFile = decode(&k, &v)?;
            if !visit(&String::from_utf8_lossy(&k[p.len()..]), f)? {
                break;
            }
        }
        Ok(())
    }

    /// Acknowledges the open problems of a job (of one target, or only the one with
    /// `key`), recording who, when and why in each problem and in the acknowledgement
    /// log. Returns the problems acknowledged: (target, problem as acknowledged).
    pub fn acknowledge(
        &self,
        job: &str,
        target: Option<&str>,
        problem_key: Option<&str>,
        ack: &Acknowledgement,
    ) -> Result<Vec<(String, ProblemRecord)>> {
        let mut done = Vec::new();
        for (t, mut rec) in self.job_problems(job)? {
            let k = rec.kind.key(job, &t);
            if target.is_some_and(|x| x != t) || problem_key.is_some_and(|x| x != k) {
                continue;
            }
            rec.ack = Some(ack.clone());
            self.put(&self.problems, key(&[job, &t, rec.kind.label()]), &rec)?;
            let log = AckRecord {
                v: RECORD_SCHEMA,
                job: job.to_string(),
                target: t.clone(),
                kind: rec.kind,
                key: k.clone(),
                ack: ack.clone(),
            };
            let at = format!("{:020}", ack.at.timestamp_micros().max(0));
            self.put(&self.acks, key(&[job, &at, &k]), &log)?;
            done.push((t, rec));
        }
        self.flush()?;
        Ok(done)
    }

    /// Every acknowledgement ever given for a job, oldest first.
    pub fn acknowledgements(&self, job: &str) -> Result<Vec<AckRecord>> {
        let mut out = Vec::new();
        for item in self.acks.scan_prefix(prefix(&[job])) {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}

/// The entry of `item` in the index of messages not delivered: `p` (pending) or `r`
/// (rejected), then its run id; `None` once delivered.
fn open_entry(item: &OutboxItem) -> Option<Vec<u8>> {
    let state = match item.delivery {
        Delivery::Pending => b'p',
        Delivery::Rejected { .. } => b'r',
        Delivery::Sent { .. } | Delivery::Written { .. } => return None,
    };
    let mut entry = vec![state];
    entry.extend_from_slice(item.run_id.as_deref().unwrap_or_default().as_bytes());
    Some(entry)
}

/// Adds a finished run to its job's summary, inside a transaction.
fn add_to_summary(
    summaries: &sled::transaction::TransactionalTree,
    ev: &RunEvidence,
) -> std::result::Result<(), sled::transaction::ConflictableTransactionError<String>> {
    if ev.status != RunStatus::Finished {
        return Ok(());
    }
    let mut summary: JobSummary = match summaries.get(ev.job.as_bytes())? {
        // A damaged summary is rebuilt from this run on: it holds no evidence.
        Some(v) => serde_json::from_slice(&v).unwrap_or_default(),
        None => JobSummary::default(),
    };
    summary.add(ev);
    summaries.insert(ev.job.as_bytes(), encode(&summary))?;
    Ok(())
}

fn job_run_key(ev: &RunEvidence) -> Vec<u8> {
    let started = format!("{:020}", ev.started_at.timestamp_micros().max(0));
    key(&[&ev.job, &started, &ev.run_id])
}

fn decode_inventory(k: &[u8], v: &[u8]) -> Result<InventoryRecord> {
    InventoryRecord::decode(v).map_err(|message| CatalogError::Corrupt {
        key: String::from_utf8_lossy(k).replace('\0', "/"),
        message,
    })
}

fn decode<T: DeserializeOwned>(k: &[u8], v: &[u8]) -> Result<T> {
    serde_json::from_slice(v).map_err(|e| CatalogError::Corrupt {
        key: String::from_utf8_lossy(k).replace('\0', "/"),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of job `j` started `minutes` after an hour ago.
    fn run(id: &str, status: &str, minutes: i64) -> RunEvidence {
        let at =
            chrono::Utc::now() - chrono::Duration::hours(1) + chrono::Duration::minutes(minutes);
        serde_json::from_value(serde_json::json!({
            "schema": EVIDENCE_SCHEMA, "run_id": id, "job": "j", "client": "J", "host": "h",
            "backproof_version": "0", "trigger": "manual", "started_at": at,
            "finished_at": (status != "running").then_some(at + chrono::Duration::seconds(3)),
            "status": status, "verdict": (status == "finished").then_some("pass"), "seed": 1,
            "targets": [],
        }))
        .unwrap()
    }

    fn finish(c: &Catalog, ev: &RunEvidence) {
        c.finish_run(ev, &encode(ev), None, &RunCommit::default())
            .unwrap();
    }

    fn ids(runs: Vec<RunEvidence>) -> Vec<String> {
        runs.into_iter().map(|r| r.run_id).collect()
    }

    #[test]
    fn a_run_is_stored_compressed_and_read_back_as_its_exact_document() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(dir.path()).unwrap();
        let ev = run("a", "finished", 0);
        // Pretty-printed, as an evidence file is: the bytes, not their meaning, come back.
        let document = serde_json::to_vec_pretty(&ev).unwrap();
        c.finish_run(&ev, &document, None, &RunCommit::default())
            .unwrap();
        let stored = c.runs.get("a").unwrap().unwrap();
        assert!(!stored.starts_with(b"{") && stored.len() < document.len());
        assert_eq!(c.run_document("a").unwrap().unwrap(), document);
        assert_eq!(c.run("a").unwrap().unwrap().run_id, "a");
        // A run as an older backproof stored it: plain JSON.
        c.runs
            .insert("b", encode(&run("b", "finished", 1)))
            .unwrap();
        assert_eq!(c.run("b").unwrap().unwrap().run_id, "b");
        // A damaged frame is a corrupt record, not a missing run.
        c.runs.insert("a", &stored[..stored.len() - 3]).unwrap();
        assert!(matches!(c.run("a"), Err(CatalogError::Corrupt { key, .. }) if key == "a"));
    }

    #[test]
    fn running_runs_are_found_without_reading_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(dir.path()).unwrap();
        finish(&c, &run("a", "finished", 0));
        c.put_run(&run("b", "running", 1)).unwrap();
        c.put_run(&run("c", "running", 2)).unwrap();
        assert_eq!(ids(c.unfinished().unwrap()), ["b", "c"]);
        // b finishes, c is cancelled: neither is running any more.
        finish(&c, &run("b", "finished", 1));
        assert!(c.interrupt_run("c").unwrap());
        assert!(c.unfinished().unwrap().is_empty());
        // A document nobody needs at start-up is not read then (it was, by every start).
        c.runs.insert("a", &b"damaged"[..]).unwrap();
        c.put_run(&run("d", "running", 3)).unwrap();
        assert_eq!(c.interrupt_unfinished().unwrap(), ["d"]);
        assert_eq!(c.run("d").unwrap().unwrap().status, RunStatus::Interrupted);
        assert!(c.unfinished().unwrap().is_empty());
    }

    #[test]
    fn a_catalog_without_the_index_and_summaries_gets_them_once_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = Catalog::open(dir.path()).unwrap();
            finish(&c, &run("a", "finished", 0));
            finish(&c, &run("b", "finished", 1));
            c.put_run(&run("c", "running", 2)).unwrap();
            // As an older backproof left it: neither index nor summaries, no mark.
            c.running.clear().unwrap();
            c.summaries.clear().unwrap();
            c.meta.remove(b"indexes-v1").unwrap();
            c.flush().unwrap();
        }
        let c = Catalog::open(dir.path()).unwrap();
        assert_eq!(ids(c.unfinished().unwrap()), ["c"]);
        let summary = c.summary("j").unwrap().unwrap();
        assert_eq!(summary.last.unwrap().run_id, "b");
        assert_eq!(summary.durations.count, 2);
    }

    #[test]
    fn the_summary_follows_the_newest_finished_run() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(dir.path()).unwrap();
        assert!(c.summary("j").unwrap().is_none());
        finish(&c, &run("b", "finished", 5));
        c.put_run(&run("c", "running", 6)).unwrap();
        // An older run put back from its evidence file is not the newest.
        let older = run("a", "finished", 0);
        c.restore_run(&older, &encode(&older)).unwrap();
        let summary = c.summary("j").unwrap().unwrap();
        assert_eq!(summary.last.as_ref().unwrap().run_id, "b");
        assert_eq!(summary.durations.count, 1);
        assert_eq!(
            summary.durations.buckets[2], 1,
            "3 s is in the (2, 4] bucket"
        );
        assert_eq!(
            c.last_finished_run("j").unwrap().unwrap().run_id,
            summary.last.unwrap().run_id
        );
    }

    fn message(id: &str, run: &str, delivery: Delivery) -> OutboxItem {
        let now = chrono::Utc::now();
        OutboxItem {
            v: RECORD_SCHEMA,
            id: id.into(),
            kind: MailKind::RunReport,
            job: Some("j".into()),
            run_id: Some(run.into()),
            subject: "s".into(),
            message_id: format!("<{id}@example.com>"),
            from: "a@example.com".into(),
            to: vec!["b@example.com".into()],
            message: "m".into(),
            created: now,
            delivery,
            attempts: 0,
            next_attempt: now,
            last_error: None,
            claim: None,
        }
    }

    #[test]
    fn messages_not_delivered_are_counted_through_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(dir.path()).unwrap();
        let now = chrono::Utc::now();
        let ev = run("r1", "finished", 0);
        let report = message("1", "r1", Delivery::Pending);
        c.finish_run(&ev, &encode(&ev), Some(&report), &RunCommit::default())
            .unwrap();
        c.put_outbox(&message("2", "r2", Delivery::Pending))
            .unwrap();
        let refused = Delivery::Rejected {
            at: now,
            reason: "550".into(),
        };
        c.put_outbox(&message("3", "r3", refused)).unwrap();
        c.put_outbox(&message("4", "r4", Delivery::Sent { at: now }))
            .unwrap();
        assert_eq!(c.outbox_counts().unwrap(), (2, 1));
        let pending: Vec<String> = c
            .pending_outbox()
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(pending, ["1", "2"]);
        let runs = c.outbox_runs().unwrap();
        assert_eq!(runs, ["r1".to_string(), "r2".into()].into());
        // Delivered through a claim: no longer waiting.
        let lease = chrono::Duration::minutes(5);
        let mut claimed = c
            .claim_outbox("1", "me", now, lease, true)
            .unwrap()
            .unwrap();
        claimed.delivery = Delivery::Sent { at: now };
        assert!(c.settle_outbox(&claimed, "me").unwrap());
        assert_eq!(c.outbox_counts().unwrap(), (1, 1));
        assert_eq!(c.outbox_runs().unwrap(), ["r2".to_string()].into());
        // Built from the messages for a catalog that has no index yet.
        c.outbox_open.clear().unwrap();
        c.meta.remove(b"indexes-v1").unwrap();
        drop(c);
        let c = Catalog::open(dir.path()).unwrap();
        assert_eq!(c.outbox_counts().unwrap(), (1, 1));
    }

    #[test]
    fn a_prune_that_overlaps_one_done_meanwhile_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(dir.path()).unwrap();
        let runs: Vec<(RunEvidence, Vec<u8>)> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let ev = run(id, "finished", i as i64);
                finish(&c, &ev);
                let doc = c.run_document(id).unwrap().unwrap();
                (ev, doc)
            })
            .collect();
        // Two passes read the same oldest runs; the one taking more commits first.
        assert!(c.prune_runs("j", &runs[..3]).unwrap());
        assert!(!c.prune_runs("j", &runs[..2]).unwrap());
        let anchor = c.chain_anchor("j").unwrap().unwrap();
        assert_eq!((anchor.through_run.as_str(), anchor.pruned_runs), ("c", 3));
        assert_eq!(anchor.run_id.as_deref(), Some("c"));
        let hash = blake3::hash(&runs[2].1).to_hex().to_string();
        assert_eq!(anchor.hash, Some(hash));
        assert_eq!(c.run_ids_of_job("j").unwrap(), ["d"]);
    }

    #[test]
    fn second_open_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Catalog::open(dir.path()).unwrap();
        let err = match Catalog::open(dir.path()) {
            Err(e) => e,
            Ok(_) => panic!("second open must fail"),
        };
        let msg = err.to_string();
        assert!(matches!(err, CatalogError::Locked { .. }), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
    }

    #[test]
    fn an_open_waits_for_a_dropped_catalogs_file_to_be_let_go() {
        let dir = tempfile::tempdir().unwrap();
        // As sled's background threads do for a moment after a catalog is dropped: the
        // database's file is still open, and locked, when the next open comes.
        let lingering = sled::open(dir.path().join(CATALOG_DIR)).unwrap();
        let let_go = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(lingering);
        });
        let c = Catalog::open(dir.path()).unwrap();
        assert!(c.summary("j").unwrap().is_none());
        let_go.join().unwrap();
    }

    #[test]
    fn a_cursor_finds_one_targets_records_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(dir.path()).unwrap();
        let at = chrono::Utc::now();
        let rec = |size| FileRecord {
            v: RECORD_SCHEMA,
            size,
            modified: at,
            blake3: String::new(),
            baseline_run: "r".into(),
            baseline_at: at,
            verified_run: "r".into(),
            verified_at: at,
            entropy: None,
        };
        for (i, p) in ["b", "a", "d", "c/x", "c-y"].iter().enumerate() {
            c.put_file("j", "t", p, &rec(i as u64)).unwrap();
        }
        c.put_file("j", "t2", "c", &rec(9)).unwrap();
        let size = |r: Option<FileRecord>| r.map(|r| r.size);

        let mut cursor = c.files_cursor("j", "t");
        assert_eq!(size(cursor.seek("b").unwrap()), Some(0));
        // A path with no record (`t2` is another target): nothing.
        assert_eq!(size(cursor.seek("c").unwrap()), None);
        assert_eq!(size(cursor.seek("c/x").unwrap()), Some(3));
        assert_eq!(size(cursor.seek("d").unwrap()), Some(2));
        assert_eq!(size(cursor.seek("e").unwrap()), None);
    }
}

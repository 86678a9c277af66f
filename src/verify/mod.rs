//! One run of one job: every target verified, the evidence recorded.
//!
//! [`Verifier::run`] never returns `Err` for a problem with a target: an unreachable
//! target or a corrupt file is a finding in the evidence. `Err` means the run itself could
//! not be carried out or recorded (unknown target name, catalog failure).

mod crash;
mod drift;
mod expect;
mod findings;
mod freshness;
mod inventory;
pub mod manifest;
mod manifest_check;
mod problems;
mod ransomware;
mod restic;
mod restic_backend;
pub mod restic_keyed;
pub mod restore;
pub mod sample;
pub mod source_check;
mod target_run;
#[cfg(test)]
mod tests;
pub mod validate;

pub use crash::panic_message;

use std::path::{Path, PathBuf};

use chrono::Utc;
use tracing::Instrument;

use crate::catalog::{Catalog, CatalogError, MailKind, RunCommit};
use crate::config::{Config, Job};
use crate::evidence::{EVIDENCE_SCHEMA, RunEvidence, RunStatus, Trigger, Verdict};
use crate::mail::{Sender, compose, outbox, policy};

/// Runs verifications and records them in the catalog.
#[derive(Clone)]
pub struct Verifier {
    pub catalog: Catalog,
    /// Parent of per-run scratch folders.
    pub scratch_dir: PathBuf,
    /// Where evidence documents are also written as files: `<dir>/<job>/<run id>.json`.
    pub evidence_dir: PathBuf,
    pub host: String,
    /// Who report emails come from.
    pub sender: Sender,
    /// Opens a configured target ([`crate::target::open`]; replaced in unit tests).
    pub opener: Opener,
}

/// How a run opens its targets.
pub type Opener = std::sync::Arc<
    dyn Fn(
            &crate::config::TargetSpec,
        ) -> futures::future::BoxFuture<
            'static,
            Result<std::sync::Arc<dyn crate::target::Target>, crate::target::TargetError>,
        > + Send
        + Sync,
>;

/// A recorded run.
#[derive(Debug, Clone)]
pub struct Finished {
    pub evidence: RunEvidence,
    /// BLAKE3 of the evidence document as stored, attached and written to its file.
    pub hash: String,
    pub evidence_file: PathBuf,
    /// Recipients of the report, if one was queued in the outbox.
    pub emailed_to: Option<Vec<String>>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Only this target of the job.
    pub target: Option<String>,
    /// Sampling seed; random when `None`.
    pub seed: Option<u64>,
    pub trigger: Trigger,
    /// The run's id, when the caller chose it in advance (see [`Verifier::new_run_id`]).
    pub run_id: Option<String>,
    /// Where to report progress.
    pub progress: Option<std::sync::Arc<crate::progress::Progress>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("job `{job}` has no target named `{target}` (it has: {known})")]
    UnknownTarget {
        job: String,
        target: String,
        known: String,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("could not write the evidence file {path}: {source}")]
    EvidenceFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Verifier {
    pub fn new(config: &Config, catalog: Catalog) -> Verifier {
        Verifier {
            catalog,
            scratch_dir: config.scratch_dir.clone(),
            evidence_dir: config.data_dir.join("evidence"),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            sender: Sender::from_config(config),
            opener: std::sync::Arc::new(|spec| {
                let spec = spec.clone();
                Box::pin(async move { crate::target::open(&spec).await })
            }),
        }
    }

    /// Where the evidence file of a run is written.
    pub fn evidence_path(&self, job: &str, run_id: &str) -> PathBuf {
        self.evidence_dir.join(job).join(format!("{run_id}.json"))
    }

    /// Verifies every target of `job` (or the one requested) and records the run, with
    /// its report email in the outbox if the job's policy says so.
    pub async fn run(&self, job: &Job, req: RunRequest) -> Result<Finished, RunError> {
        let targets: Vec<_> = match &req.target {
            None => job.targets.iter().collect(),
            Some(name) => {
                let t: Vec<_> = job.targets.iter().filter(|t| &t.name == name).collect();
                if t.is_empty() {
                    return Err(RunError::UnknownTarget {
                        job: job.name.clone(),
                        target: name.clone(),
                        known: job
                            .targets
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                t
            }
        };
        let mut ev = RunEvidence {
            schema: EVIDENCE_SCHEMA,
            run_id: match &req.run_id {
                Some(id) => id.clone(),
                None => self.new_run_id()?,
            },
            job: job.name.clone(),
            client: job.client.clone(),
            host: self.host.clone(),
            backproof_version: env!("CARGO_PKG_VERSION").to_string(),
            trigger: req.trigger,
            started_at: Utc::now(),
            maintenance: job
                .window_at(Utc::now())
                .map(|(from, until)| crate::evidence::MaintenanceWindow { from, until }),
            finished_at: None,
            status: RunStatus::Running,
            verdict: None,
            seed: req.seed.unwrap_or_else(rand::random),
            targets: Vec::new(),
            previous_run: None,
            previous_hash: None,
            egress: crate::evidence::Egress {
                per_run: job.budget.per_run,
                per_week: job.budget.per_week,
                week_used_before: self
                    .egress_since(&job.name, Utc::now() - chrono::Duration::days(7))?,
                read_bytes: 0,
            },
        };
        self.catalog.put_run(&ev)?;
        self.catalog.flush()?;
        // The dead-man's switch: `/start` now, the end once the run is recorded.
        let ping = crate::hooks::ping::RunPing::start(job, &ev.run_id);
        crash::test_panic_point();
        if let Some(p) = &req.progress {
            p.update(|s| s.state = crate::progress::RunState::Running);
        }

        let span = tracing::info_span!(
            "run",
            job = %job.name,
            run_id = %ev.run_id,
            trigger = %req.trigger
        );
        let mut commit = RunCommit::default();
        async {
            for (index, spec) in targets.into_iter().enumerate() {
                let outcome = target_run::TargetRun {
                    verifier: self,
                    job,
                    spec,
                    run_id: &ev.run_id,
                    seed: ev.seed,
                    index,
                    progress: req.progress.as_deref(),
                    allowance: ev.egress.left(),
                }
                .verify()
                .await?;
                let t = outcome.evidence;
                commit.targets.push(outcome.commit);
                ev.egress.read_bytes += t.restore.as_ref().map_or(0, |r| r.read_bytes);
                tracing::info!(target = %t.name, verdict = %t.verdict, "target verified");
                ev.targets.push(t);
            }
            Ok::<_, RunError>(())
        }
        .instrument(span)
        .await?;

        ev.finished_at = Some(Utc::now());
        ev.status = RunStatus::Finished;
        ev.verdict =
            Some(Verdict::worst(ev.targets.iter().map(|t| t.verdict)).unwrap_or(Verdict::Error));
        let done = self.finish(job, ev, &commit)?;
        if let Some(p) = ping {
            p.finished(&done.evidence);
        }
        let mut events = crate::hooks::event::of_run(job, &done.evidence);
        if done.evidence.maintenance.is_some() {
            // Held: sent at the window's end if the problem is still open.
            events.retain(|e| e.kind != "problem.opened");
        }
        crate::alerts::flapping::observe(
            &self.catalog,
            &self.sender,
            job,
            &done.evidence,
            &mut events,
        );
        crate::hooks::webhook::queue(&self.catalog, job, &events);
        crate::alerts::close::queue(&self.catalog, &self.sender, job, &done.evidence);
        Ok(done)
    }

    /// Seals the evidence to the job's previous report, queues the report email and
    /// records both in one transaction with what the run changes (the committed listings,
    /// the open problems), then writes the evidence file.
    fn finish(
        &self,
        job: &Job,
        mut ev: RunEvidence,
        commit: &RunCommit,
    ) -> Result<Finished, RunError> {
        let previous = self.catalog.last_finished_run(&job.name)?;
        if let Some(prev) = &previous
            && let Some(doc) = self.catalog.run_document(&prev.run_id)?
        {
            ev.previous_run = Some(prev.run_id.clone());
            ev.previous_hash = Some(blake3::hash(&doc).to_hex().to_string());
        }
        let document = serde_json::to_vec(&ev).expect("evidence serializes");
        let hash = blake3::hash(&document).to_hex().to_string();
        let previous_verdict = previous.as_ref().map(RunEvidence::effective_verdict);
        let mail = policy::recipients(job, &ev, previous_verdict)
            // In a maintenance window, alerts are held (see `crate::alerts::remind`).
            .filter(|(reason, _)| !(ev.maintenance.is_some() && *reason == policy::Reason::Problem))
            .and_then(|(reason, to)| {
                let composed = compose::run_report(
                    &self.sender,
                    &to,
                    &ev,
                    &document,
                    &hash,
                    reason == policy::Reason::Recovery,
                )
                .inspect_err(|e| tracing::error!(run_id = %ev.run_id, "report not queued: {e}"))
                .ok()?;
                Some(outbox::item(
                    MailKind::RunReport,
                    Some(&job.name),
                    Some(&ev.run_id),
                    &self.sender,
                    composed,
                    Utc::now(),
                ))
            });
        self.catalog
            .finish_run(&ev, &document, mail.as_ref(), commit)?;
        self.catalog.flush()?;
        let path = self.evidence_path(&ev.job, &ev.run_id);
        write_atomically(&path, &document).map_err(|source| RunError::EvidenceFile {
            path: path.clone(),
            source,
        })?;
        // The newest finished run of the job, beside its evidence: if the catalog ever
        // loses it (damage), the next start notices and puts it back from the file.
        let mark = path.with_file_name(LAST_RUN_MARK);
        write_atomically(&mark, ev.run_id.as_bytes()).map_err(|source| RunError::EvidenceFile {
            path: mark.clone(),
            source,
        })?;
        Ok(Finished {
            evidence: ev,
            hash,
            evidence_file: path,
            emailed_to: mail.map(|m| m.to),
        })
    }

    /// Bytes read by the job's runs started since `since`.
    fn egress_since(&self, job: &str, since: chrono::DateTime<Utc>) -> Result<u64, CatalogError> {
        let mut total = 0;
        for id in self.catalog.run_ids_of_job(job)? {
            let Some(ev) = self.catalog.run(&id)? else {
                continue;
            };
            if ev.started_at < since {
                break;
            }
            total += ev.egress.read_bytes;
        }
        Ok(total)
    }

    /// A run id that sorts by time and is unique in this catalog: `20261127-200102-3fa9`.
    pub fn new_run_id(&self) -> Result<String, CatalogError> {
        loop {
            let id = format!(
                "{}-{:04x}",
                Utc::now().format("%Y%m%d-%H%M%S"),
                rand::random::<u16>()
            );
            if self.catalog.run(&id)?.is_none() {
                return Ok(id);
            }
        }
    }
}

/// The file in a job's evidence folder naming its newest finished run.
pub const LAST_RUN_MARK: &str = ".last-finished";

/// Writes `bytes` to `path` through a temporary file and a rename, creating folders.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

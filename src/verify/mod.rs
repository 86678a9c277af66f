//! One run of one job: every target verified, the evidence sealed.
//!
//! [`Verifier::run`] never returns `Err` for a problem with a target: an unreachable
//! target or a corrupt file is a finding in the evidence. `Err` means the run itself could
//! not be carried out (unknown target name, catalog failure).
//!
//! A run returns [`Sealed`] evidence: the document chained to the job's previous one, and
//! what the run changes in the catalog. Recording it (with the report email, in one
//! transaction) is the run service's work ([`crate::app::runs`]): verification knows
//! nothing of mail.

pub(crate) mod checks;
mod conclude;
mod crash;
mod expect;
mod findings;
mod inventory;
pub(crate) mod manifest;
mod problems;
mod restic_backend;
pub(crate) mod restic_keyed;
pub mod restore;
mod restore_file;
mod restore_sample;
pub(crate) mod sample;
mod target_run;
#[cfg(test)]
mod tests;
pub(crate) mod validate;

pub use crash::{Crash, panic_message};

use std::path::PathBuf;

use chrono::Utc;
use tracing::Instrument;

use crate::catalog::{Catalog, CatalogError, RunCommit};
use crate::config::{Config, Job};
use crate::evidence::{EVIDENCE_SCHEMA, RunEvidence, RunStatus, Trigger, Verdict};

/// Runs verifications; reads the catalog (baselines, listings, open problems) and records
/// only that a run started.
#[derive(Clone)]
pub struct Verifier {
    pub catalog: Catalog,
    /// Parent of per-run scratch folders.
    pub scratch_dir: PathBuf,
    pub host: String,
    /// Opens a configured target ([`crate::storage::open`]; replaced in unit tests).
    pub opener: Opener,
}

/// How a run opens its targets.
pub type Opener = std::sync::Arc<
    dyn Fn(
            &crate::config::TargetSpec,
        ) -> futures::future::BoxFuture<
            'static,
            Result<std::sync::Arc<dyn crate::storage::Target>, crate::storage::TargetError>,
        > + Send
        + Sync,
>;

/// A finished run's evidence, sealed to the job's previous document, not yet recorded.
#[derive(Debug)]
pub struct Sealed {
    pub evidence: RunEvidence,
    /// The evidence document as it is stored and written to its file.
    pub document: Vec<u8>,
    /// BLAKE3 of `document`.
    pub hash: String,
    /// What the run changes in the catalog besides its own record.
    pub commit: RunCommit,
    /// The effective verdict of the job's previous finished run, if any.
    pub previous_verdict: Option<Verdict>,
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
}

impl Verifier {
    pub fn new(config: &Config, catalog: Catalog) -> Verifier {
        Verifier {
            catalog,
            scratch_dir: config.scratch_dir.clone(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            opener: std::sync::Arc::new(|spec| {
                let spec = spec.clone();
                Box::pin(async move { crate::storage::open(&spec).await })
            }),
        }
    }

    /// Verifies every target of `job` (or the one requested) and seals the evidence.
    pub async fn run(&self, job: &Job, req: RunRequest) -> Result<Sealed, RunError> {
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
                week_used_before: checks::budget::week_used(
                    &self.catalog,
                    &job.name,
                    Utc::now() - chrono::Duration::days(7),
                )?,
                read_bytes: 0,
            },
        };
        self.catalog.put_run(&ev)?;
        self.catalog.flush()?;
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
        self.seal(&job.name, ev, commit)
    }

    /// Seals the evidence to the job's previous finished run: its id and the BLAKE3 of
    /// its document (the evidence chain).
    fn seal(&self, job: &str, mut ev: RunEvidence, commit: RunCommit) -> Result<Sealed, RunError> {
        let previous = self.catalog.last_finished_run(job)?;
        if let Some(prev) = &previous
            && let Some(doc) = self.catalog.run_document(&prev.run_id)?
        {
            ev.previous_run = Some(prev.run_id.clone());
            ev.previous_hash = Some(blake3::hash(&doc).to_hex().to_string());
        }
        let document = serde_json::to_vec(&ev).expect("evidence serializes");
        let hash = blake3::hash(&document).to_hex().to_string();
        Ok(Sealed {
            evidence: ev,
            document,
            hash,
            commit,
            previous_verdict: previous.as_ref().map(RunEvidence::effective_verdict),
        })
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

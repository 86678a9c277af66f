//! The run service: verifies a job (through [`Verifier`]), asks the mail side whether and
//! to whom the report goes, and records the run and its report email in one catalog
//! transaction, then writes the evidence file. The command line and the daemon both run
//! jobs through it.

use std::path::PathBuf;

use chrono::Utc;

use crate::catalog::{Catalog, CatalogError, MailKind};
use crate::config::{Config, Job};
use crate::evidence::RunEvidence;
use crate::mail::{Sender, compose, outbox, policy};
use crate::verify::{Crash, RunRequest, Sealed, Verifier};

use super::evidence_files::{LAST_RUN_MARK, evidence_path, write_atomically};

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

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Verify(#[from] crate::verify::RunError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("could not write the evidence file {path}: {source}")]
    EvidenceFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Runs jobs and records them.
#[derive(Clone)]
pub struct RunService {
    pub verifier: Verifier,
    /// Who report emails come from.
    pub sender: Sender,
    /// `data_dir`, under which evidence files are written.
    pub data_dir: PathBuf,
    /// What retention keeps: after each run, its job's oldest runs beyond it are pruned.
    pub retention: super::retention::Retention,
}

impl RunService {
    pub fn new(config: &Config, verifier: Verifier) -> RunService {
        RunService {
            verifier,
            sender: Sender::from_config(config),
            data_dir: config.data_dir.clone(),
            retention: super::retention::Retention::of(config),
        }
    }

    /// A run id that sorts by time and is unique in this catalog.
    pub fn new_run_id(&self) -> Result<String, CatalogError> {
        self.verifier.new_run_id()
    }

    /// Verifies every target of `job` (or the one requested) and records the run, with
    /// its report email in the outbox if the job's policy says so.
    pub async fn run(&self, job: &Job, mut req: RunRequest) -> Result<Finished, RunError> {
        let run_id = match &req.run_id {
            Some(id) => id.clone(),
            None => self.new_run_id()?,
        };
        req.run_id = Some(run_id.clone());
        // The dead-man's switch: `/start` now, the end once the run is recorded.
        let ping = crate::hooks::ping::RunPing::start(job, &run_id);
        let sealed = self.verifier.run(job, req).await?;
        let done = self.record(job, sealed)?;
        test_stop_point("recorded");
        if let Some(p) = ping {
            p.finished(&done.evidence);
        }
        queue_alert_items(&self.verifier.catalog, &self.sender, job, &done.evidence);
        test_stop_point("alerts-queued");
        mark_alerts_queued(&self.verifier.catalog, &done.evidence);
        self.prune(job);
        Ok(done)
    }

    /// Retention after a run: one bounded batch of the job's oldest runs, if any may go.
    /// A failure is logged: the run is recorded, and the next one tries again.
    fn prune(&self, job: &Job) {
        let pruned = super::retention::prune_job(
            &self.verifier.catalog,
            &self.data_dir,
            &job.name,
            self.retention,
            None,
            Utc::now(),
            1,
        );
        if let Err(e) = pruned {
            tracing::error!(job = %job.name, "retention could not prune old runs: {e}");
        }
    }

    /// Records a run of `job` that stopped on a panic as a run that could not verify.
    /// `None` if it had been recorded as finished before the panic.
    pub fn record_crash(&self, job: &Job, crash: Crash<'_>) -> Result<Option<Finished>, RunError> {
        match self.verifier.seal_crash(job, crash)? {
            Some(sealed) => {
                let done = self.record(job, sealed)?;
                queue_alerts(&self.verifier.catalog, &self.sender, job, &done.evidence);
                Ok(Some(done))
            }
            None => Ok(None),
        }
    }

    /// Queues the report email (if the job's policy says so) and records it in one
    /// transaction with the run and what it changes (the committed listings, the open
    /// problems) and a mark that its alerts are still to be queued ([`queue_alerts`]
    /// takes it off), then writes the evidence file.
    pub fn record(&self, job: &Job, sealed: Sealed) -> Result<Finished, RunError> {
        let Sealed {
            evidence: ev,
            document,
            hash,
            commit,
            previous_verdict,
        } = sealed;
        let catalog = &self.verifier.catalog;
        let mail = policy::recipients(job, &ev, previous_verdict)
            // In a maintenance window, alerts are held (see `crate::daemon::remind`).
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
        catalog.finish_run(&ev, &document, mail.as_ref(), &commit)?;
        catalog.flush()?;
        let path = evidence_path(&self.data_dir, &ev.job, &ev.run_id);
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
}

/// What a recorded run tells beyond its report (see [`queue_alert_items`]), then takes
/// off the run's "alerts pending" mark. Queueing the alerts of a run again (after a crash
/// between the run's record and the mark's removal) queues nothing twice.
pub(crate) fn queue_alerts(catalog: &Catalog, sender: &Sender, job: &Job, ev: &RunEvidence) {
    queue_alert_items(catalog, sender, job, ev);
    mark_alerts_queued(catalog, ev);
}

/// Queues webhook events, the closing notices of problems the run fixed, and flapping
/// problems. An alert about a problem opened in a maintenance window is held until the
/// window ends (see `crate::daemon::remind`).
fn queue_alert_items(catalog: &Catalog, sender: &Sender, job: &Job, ev: &RunEvidence) {
    let mut events = crate::hooks::event::of_run(job, ev);
    if ev.maintenance.is_some() {
        events.retain(|e| e.kind != "problem.opened");
    }
    crate::alerts::flapping::observe(catalog, sender, job, ev, &mut events);
    crate::hooks::webhook::queue(catalog, job, &events);
    crate::alerts::close::queue(catalog, sender, job, ev);
}

fn mark_alerts_queued(catalog: &Catalog, ev: &RunEvidence) {
    if let Err(e) = catalog.alerts_queued(&ev.run_id) {
        tracing::error!(run_id = %ev.run_id, error = %e, "alerts queued but not marked so: they are looked at again at the next start");
    }
}

/// Queues the alerts of runs recorded by a process that stopped before it queued them.
pub(crate) fn queue_pending_alerts(config: &Config, catalog: &Catalog) -> Result<(), CatalogError> {
    let sender = Sender::from_config(config);
    for (run_id, job) in catalog.alerts_pending()? {
        match (config.job(&job), catalog.run(&run_id)?) {
            (Some(job), Some(ev)) => {
                tracing::warn!(run_id = %run_id, job = %job.name, "queueing the alerts of a run recorded before the last stop");
                queue_alerts(catalog, &sender, job, &ev);
            }
            _ => {
                tracing::warn!(run_id = %run_id, job = %job, "alerts of a run not queued: its job or its record is gone");
                catalog.alerts_queued(&run_id)?;
            }
        }
    }
    Ok(())
}

/// A hook for tests, compiled only into debug builds (what `cargo test` runs): when the
/// file named by `BACKPROOF_TEST_STOP_FILE` holds `point`, the process stops dead there (as
/// a power cut or `kill -9` would): `recorded` right after a run is recorded, before its
/// alerts are queued; `alerts-queued` after they are queued, before that is marked.
/// Release builds ignore the variable.
fn test_stop_point(point: &str) {
    #[cfg(debug_assertions)]
    if let Some(file) = std::env::var_os("BACKPROOF_TEST_STOP_FILE")
        && std::fs::read_to_string(&file).is_ok_and(|t| t.trim() == point)
    {
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

//! [`Service`] on the catalog this process holds: the command line's when no daemon
//! runs, and the daemon's own (its API handlers call this).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use crate::ack::{AckRequest, Acked};
use crate::catalog::{Catalog, OutboxItem, WebhookItem};
use crate::chain::ChainCheck;
use crate::config::{Config, Job};
use crate::evidence::RunEvidence;
use crate::mail::outbox::Counts;
use crate::mail::{Mailer, Sender};
use crate::report::digest::Digest;
use crate::status::Status;

use super::{AppError, History, Service, evidence_files};

/// The run of a job going on, if any (the daemon knows; the command line has none).
pub type RunningRuns = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The catalog, with the configuration it belongs to.
#[derive(Clone)]
pub struct Local {
    pub config: Arc<Config>,
    pub catalog: Catalog,
    running: Option<RunningRuns>,
    /// Woken when a message was queued (the daemon's delivery worker).
    mail: Option<Arc<tokio::sync::Notify>>,
}

impl Local {
    pub fn new(config: Arc<Config>, catalog: Catalog) -> Local {
        Local {
            config,
            catalog,
            running: None,
            mail: None,
        }
    }

    /// In the daemon: which job runs now, and whom to wake when a message is queued.
    pub fn in_daemon(mut self, running: RunningRuns, mail: Arc<tokio::sync::Notify>) -> Local {
        self.running = Some(running);
        self.mail = Some(mail);
        self
    }

    fn job(&self, name: &str) -> Result<&Job, AppError> {
        self.config
            .job(name)
            .ok_or_else(|| AppError::NotFound(format!("no job named `{name}`")))
    }

    /// Refuses while `job` runs: its newest document may be recorded before its file is
    /// written.
    fn not_running(&self, job: &str) -> Result<(), AppError> {
        match self.running.as_ref().and_then(|r| r(job)) {
            Some(run_id) => Err(AppError::Conflict(format!(
                "job `{job}` is running (run {run_id}); check again when it has finished"
            ))),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Service for Local {
    async fn status(&self) -> Result<Status, AppError> {
        let running = self.running.as_deref().map(|r| r as crate::status::Running);
        Ok(crate::status::collect(
            &self.config,
            &self.catalog,
            running,
        )?)
    }

    async fn history(&self, job: &str, limit: usize) -> Result<History, AppError> {
        self.job(job)?;
        let mut runs = Vec::new();
        for id in self.catalog.newest_run_ids(job).take(limit) {
            if let Some(ev) = self.catalog.run(&id?)? {
                runs.push(ev);
            }
        }
        Ok(History {
            runs,
            notes: self.catalog.notes(job)?,
        })
    }

    async fn show(&self, run_id: &str) -> Result<RunEvidence, AppError> {
        self.catalog
            .run(run_id)?
            .ok_or_else(|| AppError::NotFound(format!("no run `{run_id}` in the catalog")))
    }

    async fn run_document(&self, run_id: &str) -> Result<Vec<u8>, AppError> {
        self.catalog
            .run_document(run_id)?
            .ok_or_else(|| AppError::NotFound(format!("no run `{run_id}` in the catalog")))
    }

    async fn problems(&self, job: &str) -> Result<Vec<super::CurrentProblem>, AppError> {
        self.job(job)?;
        let now = Utc::now();
        // The files listed come from the last run's evidence; the state from the catalog.
        let listed = self.catalog.last_finished_run(job)?;
        let paths = |key: &str| {
            listed
                .iter()
                .flat_map(|r| &r.targets)
                .flat_map(|t| &t.problems)
                .find(|p| p.key == key)
                .map(|p| p.paths.clone())
                .unwrap_or_default()
        };
        let mut out: Vec<super::CurrentProblem> = self
            .catalog
            .job_problems(job)?
            .into_iter()
            .map(|(target, p)| {
                let key = p.kind.key(job, &target);
                super::CurrentProblem {
                    paths: paths(&key),
                    key,
                    kind: p.kind,
                    summary: p.summary,
                    opened_run: p.opened_run,
                    opened_at: p.opened_at,
                    files: p.files,
                    acknowledged: p.ack.filter(|a| a.until.is_none_or(|u| u > now)),
                    target,
                }
            })
            .collect();
        out.sort_by_key(|p| (p.acknowledged.is_some(), p.kind.tier(), p.kind));
        Ok(out)
    }

    async fn verify_evidence(&self, job: &str) -> Result<ChainCheck, AppError> {
        self.job(job)?;
        self.not_running(job)?;
        let dir = evidence_files::evidence_dir(&self.config.data_dir);
        let (catalog, name) = (self.catalog.clone(), job.to_string());
        let checked =
            tokio::task::spawn_blocking(move || crate::chain::verify(&catalog, &name, &dir))
                .await
                .map_err(|e| AppError::Failed(e.to_string()))?;
        self.not_running(job)?;
        Ok(checked?)
    }

    async fn digest(&self, job: &str) -> Result<Digest, AppError> {
        let job = self.job(job)?;
        Ok(crate::mail::digest::build(&self.catalog, job, Utc::now())?)
    }

    async fn queue_digest(&self, job: &str) -> Result<bool, AppError> {
        let job = self.job(job)?;
        let sender = Sender::from_config(&self.config);
        let queued = crate::mail::digest::enqueue(&self.catalog, &sender, job, Utc::now())
            .map_err(|e| AppError::Failed(e.to_string()))?
            .is_some();
        if queued && let Some(mail) = &self.mail {
            mail.notify_one();
        }
        Ok(queued)
    }

    async fn outbox(&self) -> Result<Vec<OutboxItem>, AppError> {
        Ok(self
            .catalog
            .outbox()?
            .into_iter()
            .map(|mut i| {
                i.message = String::new();
                i
            })
            .collect())
    }

    async fn webhooks(&self) -> Result<Vec<WebhookItem>, AppError> {
        Ok(self
            .catalog
            .webhooks()?
            .into_iter()
            .map(|mut i| {
                i.body = String::new();
                i
            })
            .collect())
    }

    async fn outbox_retry(&self) -> Result<Counts, AppError> {
        let mailer = Mailer::new(&self.config).map_err(|e| AppError::Failed(e.to_string()))?;
        // The round runs in its own task: a client that gives up waiting does not cut a
        // delivery short (which would leave its message claimed until the claim lapses).
        let catalog = self.catalog.clone();
        let webhooks = self.config.webhooks.clone();
        let round = tokio::spawn(async move {
            let round = crate::mail::outbox::deliver(&catalog, &mailer, true).await;
            let mut counts = round.map(|r| r.counts(&mailer))?;
            let limit = crate::hooks::webhook::round_limit(&webhooks);
            let hooks = crate::hooks::webhook::deliver(&catalog, &webhooks, true);
            match tokio::time::timeout(limit, hooks).await {
                Ok(Ok(r)) => {
                    counts.webhooks_sent = r.sent;
                    counts.webhooks_deferred = r.deferred;
                    counts.webhooks_rejected = r.rejected;
                }
                Ok(Err(e)) => tracing::error!(error = %e, "webhooks not delivered"),
                Err(_) => tracing::warn!(
                    "webhooks: delivery did not finish in {limit:?}; they stay queued"
                ),
            }
            Ok::<_, crate::catalog::CatalogError>(counts)
        });
        match round.await {
            Ok(Ok(counts)) => Ok(counts),
            Ok(Err(e)) => Err(AppError::Failed(e.to_string())),
            Err(e) => Err(AppError::Failed(format!(
                "the delivery round stopped on an internal error: {e}"
            ))),
        }
    }

    async fn ack(&self, job: &str, req: &AckRequest) -> Result<Vec<Acked>, AppError> {
        let now = Utc::now();
        let acked = crate::ack::acknowledge(&self.config, &self.catalog, job, req, now)?;
        // Webhooks hear of it (`problem.acknowledged`), through their outbox.
        if let Some(j) = self.config.job(job) {
            let ack = crate::ack::acknowledgement(req, now);
            let events: Vec<_> = acked
                .iter()
                .map(|a| crate::hooks::event::acknowledged(j, a, &ack))
                .collect();
            crate::hooks::webhook::queue(&self.catalog, j, &events);
        }
        Ok(acked)
    }

    async fn users(&self) -> Result<Vec<super::users::UserInfo>, AppError> {
        let catalog = self.catalog.clone();
        blocking(move || super::users::list(&catalog)).await
    }

    async fn add_user(
        &self,
        user: &super::users::NewUser,
    ) -> Result<super::users::UserInfo, AppError> {
        let catalog = self.catalog.clone();
        let user = super::users::NewUser {
            name: user.name.clone(),
            role: user.role,
            password: user.password.clone(),
        };
        blocking(move || super::users::add(&catalog, &user)).await
    }

    async fn set_password(&self, name: &str, password: &str) -> Result<(), AppError> {
        let (catalog, name, password) =
            (self.catalog.clone(), name.to_string(), password.to_string());
        blocking(move || super::users::passwd(&catalog, &name, &password)).await
    }

    async fn remove_user(&self, name: &str) -> Result<(), AppError> {
        let (catalog, name) = (self.catalog.clone(), name.to_string());
        blocking(move || super::users::remove(&catalog, &name)).await
    }

    async fn sign_in(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<super::users::UserInfo>, AppError> {
        let (catalog, name, password) =
            (self.catalog.clone(), name.to_string(), password.to_string());
        blocking(move || super::users::sign_in(&catalog, &name, &password)).await
    }

    async fn account(&self, name: &str) -> Result<Option<super::users::UserInfo>, AppError> {
        super::users::account(&self.catalog, name)
    }
}

/// Hashing a password takes a while: off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Failed(format!("the task stopped: {e}")))?
}

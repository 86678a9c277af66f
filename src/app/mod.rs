//! The application layer: what the command line and the daemon do, written once.
//!
//! Every query and command on the catalog (`show`, `history`, `status`, `outbox`,
//! `digest`, `verify-evidence`, `ack`) is a method of one trait, [`Service`], with two
//! implementations: [`local::Local`] works on the catalog directly, [`remote::Remote`]
//! asks the daemon's HTTP API. The daemon's API handlers call [`local::Local`]; the
//! command line calls [`connect`], which picks the daemon when the lock record in
//! `data_dir` says a daemon holds the catalog (see [`crate::catalog::holder`]).
//! Runs go through the run service, [`runs::RunService`], in the command line's process or
//! in the daemon's.
//!
//! - `setup`: loading the configuration, checking folders, opening the catalog;
//! - `recover`: putting back runs the catalog lost, from their evidence files;
//! - [`runs`]: the run service: verify, queue the report, record both in one transaction;
//! - `evidence_files`: where evidence documents are written as files;
//! - `local`, `remote`: the two implementations of [`Service`];
//! - [`users`]: the accounts of the web pages (argon2id hashes in the catalog).

pub mod evidence_files;
pub(crate) mod local;
pub mod outbox_page;
mod recover;
pub(crate) mod remote;
pub mod retention;
pub mod runs;
pub(crate) mod setup;
pub mod users;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::ack::{AckError, AckRequest, Acked};
use crate::catalog::{CatalogError, HolderKind, OutboxItem, WebhookItem};
use crate::chain::ChainCheck;
use crate::config::Config;
use crate::evidence::RunEvidence;
use crate::mail::outbox::Counts;
use crate::report::digest::Digest;
use crate::status::Status;

/// Where a message of [`Service::outbox`] is, for the pages.
pub use crate::catalog::Delivery;
pub use local::Local;
pub use remote::Remote;

/// Why a query or command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such job, run or target.
    #[error("{0}")]
    NotFound(String),
    /// Not now (the job is running).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong (no reason given, a date in the past...).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Anything else: the daemon's answer, a mail setup error, a task that stopped.
    #[error("{0}")]
    Failed(String),
}

impl From<AckError> for AppError {
    fn from(e: AckError) -> AppError {
        match e {
            AckError::Catalog(e) => AppError::Catalog(e),
            e @ (AckError::UnknownJob(_) | AckError::UnknownTarget { .. }) => {
                AppError::NotFound(e.to_string())
            }
            e => AppError::Invalid(e.to_string()),
        }
    }
}

/// A job's runs, newest first, and the notes in its history.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub runs: Vec<RunEvidence>,
    pub notes: Vec<String>,
}

/// An open problem of a job now, with its acknowledgement if one is in force.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurrentProblem {
    pub target: String,
    pub key: String,
    pub kind: crate::evidence::ProblemKind,
    pub summary: String,
    pub opened_run: String,
    pub opened_at: chrono::DateTime<chrono::Utc>,
    pub files: u64,
    /// Up to a few of the files concerned, as the last run listed them.
    pub paths: Vec<String>,
    pub acknowledged: Option<crate::evidence::Acknowledgement>,
}

/// The queries and commands of backproof, local or through the daemon.
#[async_trait]
pub trait Service: Send + Sync {
    /// Every client at a glance.
    async fn status(&self) -> Result<Status, AppError>;
    /// The newest `limit` runs of `job`.
    async fn history(&self, job: &str, limit: usize) -> Result<History, AppError>;
    /// One run's evidence.
    async fn show(&self, run_id: &str) -> Result<RunEvidence, AppError>;
    /// One run's evidence document as stored (what the evidence chain hashes); through
    /// the daemon's API, the document as it sends it.
    async fn run_document(&self, run_id: &str) -> Result<Vec<u8>, AppError> {
        let ev = self.show(run_id).await?;
        serde_json::to_vec(&ev).map_err(|e| AppError::Failed(e.to_string()))
    }
    /// `job`'s open problems now, worst first, with the acknowledgements in force. By
    /// default as its last finished run left them; on the catalog (and through the
    /// daemon's API), with acknowledgements made since.
    async fn problems(&self, job: &str) -> Result<Vec<CurrentProblem>, AppError> {
        let history = self.history(job, 50).await?;
        let last = history
            .runs
            .iter()
            .find(|r| r.status == crate::evidence::RunStatus::Finished);
        Ok(last
            .map(|r| {
                r.targets
                    .iter()
                    .flat_map(|t| {
                        t.problems.iter().map(|p| CurrentProblem {
                            target: t.name.clone(),
                            key: p.key.clone(),
                            kind: p.kind,
                            summary: p.summary.clone(),
                            opened_run: p.opened_run.clone(),
                            opened_at: p.opened_at,
                            files: p.files,
                            paths: p.paths.clone(),
                            acknowledged: p.acknowledged.clone(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
    /// Checks the chain of `job`'s evidence documents and their files.
    async fn verify_evidence(&self, job: &str) -> Result<ChainCheck, AppError>;
    /// The weekly owner summary of `job` now.
    async fn digest(&self, job: &str) -> Result<Digest, AppError>;
    /// Queues the weekly owner summary of `job` for its owners; `false` if it has none.
    async fn queue_digest(&self, job: &str) -> Result<bool, AppError>;
    /// Every message of the outbox (bodies left out).
    async fn outbox(&self) -> Result<Vec<OutboxItem>, AppError>;
    /// Every webhook message (bodies left out).
    async fn webhooks(&self) -> Result<Vec<WebhookItem>, AppError>;
    /// The newest messages and webhook messages that `query` asks for, with counts over
    /// all.
    async fn outbox_page(
        &self,
        query: outbox_page::OutboxQuery,
    ) -> Result<outbox_page::OutboxPage, AppError> {
        Ok(outbox_page::page(
            self.outbox().await?,
            self.webhooks().await?,
            query,
        ))
    }
    /// Sends every queued message now.
    async fn outbox_retry(&self) -> Result<Counts, AppError>;
    /// Acknowledges open problems of `job`.
    async fn ack(&self, job: &str, req: &AckRequest) -> Result<Vec<Acked>, AppError>;
    /// The accounts of the web pages, by name.
    async fn users(&self) -> Result<Vec<users::UserInfo>, AppError>;
    /// Adds an account (its password hashed with argon2id).
    async fn add_user(&self, user: &users::NewUser) -> Result<users::UserInfo, AppError>;
    /// Gives an account a new password; its sessions end.
    async fn set_password(&self, name: &str, password: &str) -> Result<(), AppError>;
    /// Removes an account; its sessions end.
    async fn remove_user(&self, name: &str) -> Result<(), AppError>;
    /// The account, if `password` is its password (the pages' sign-in, in the daemon).
    async fn sign_in(
        &self,
        _name: &str,
        _password: &str,
    ) -> Result<Option<users::UserInfo>, AppError> {
        Err(AppError::Failed("sign-in is the daemon's".into()))
    }
    /// One account, with its stamp (the pages check their sessions with it).
    async fn account(&self, _name: &str) -> Result<Option<users::UserInfo>, AppError> {
        Err(AppError::Failed("sessions are the daemon's".into()))
    }
}

/// How this process reaches the catalog: directly, or through the daemon holding it.
pub enum Access {
    Local(Box<Local>),
    Remote(Remote),
}

impl Access {
    pub fn service(&self) -> &dyn Service {
        match self {
            Access::Local(l) => l.as_ref(),
            Access::Remote(r) => r,
        }
    }
}

/// The daemon's API address, when the lock record says a daemon holds the catalog.
pub fn daemon_api(config: &Config) -> Option<String> {
    crate::catalog::holder(&config.data_dir)
        .filter(|r| r.kind == HolderKind::Daemon)
        .and_then(|r| r.api)
}

/// Opens the catalog here, or connects to the daemon when it holds it.
pub fn connect(config: &Arc<Config>) -> anyhow::Result<Access> {
    if let Some(api) = daemon_api(config) {
        return Ok(Access::Remote(Remote::connect(config, &api)?));
    }
    match setup::open_catalog(config) {
        Ok(catalog) => Ok(Access::Local(Box::new(Local::new(config.clone(), catalog)))),
        Err(e) => match e.downcast_ref::<CatalogError>() {
            // The daemon took the lock between our look and our try.
            Some(CatalogError::Locked {
                record: Some(r), ..
            }) if r.kind == HolderKind::Daemon => {
                let api = r
                    .api
                    .clone()
                    .unwrap_or_else(|| config.daemon.listen.to_string());
                Ok(Access::Remote(Remote::connect(config, &api)?))
            }
            _ => Err(e),
        },
    }
}

/// A run's evidence, and its evidence file if it is there.
#[derive(Debug)]
pub struct Shown {
    pub evidence: RunEvidence,
    pub file: Option<PathBuf>,
}

/// One run's evidence: from the catalog (here, read only, or through the daemon); when
/// another process holds the catalog, the daemon cannot be asked, or this user may not
/// write where the catalog is, from the evidence files finished runs leave.
pub async fn show(config: &Arc<Config>, run_id: &str) -> anyhow::Result<Shown> {
    let from_daemon = |api: String| async move {
        match Remote::connect(config, &api) {
            Ok(remote) => remote.show(run_id).await.ok(),
            Err(_) => None,
        }
    };
    let writable = crate::config::check_folders(config, "").is_empty();
    let evidence = match daemon_api(config) {
        Some(api) => from_daemon(api).await,
        None if writable => match crate::catalog::Catalog::open(&config.data_dir) {
            Ok(catalog) => Some(Local::new(config.clone(), catalog).show(run_id).await?),
            Err(CatalogError::Locked {
                record: Some(r), ..
            }) if r.kind == HolderKind::Daemon => match r.api {
                Some(api) => from_daemon(api).await,
                None => None,
            },
            Err(CatalogError::Locked { .. }) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let Some(evidence) = evidence else {
        let (evidence, file) = evidence_files::find(&config.data_dir, run_id)?;
        return Ok(Shown {
            evidence,
            file: Some(file),
        });
    };
    let file = evidence_files::evidence_path(&config.data_dir, &evidence.job, run_id);
    Ok(Shown {
        evidence,
        file: file.exists().then_some(file),
    })
}

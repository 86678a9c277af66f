//! Runs inside the daemon: started by the scheduler or the API, at most
//! `max_concurrent_runs` at once, never two of the same job, all cancellable on shutdown.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, RwLock};

use futures::FutureExt;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::runs::RunService;
use crate::catalog::CatalogError;
use crate::config::Config;
use crate::evidence::Trigger;
use crate::progress::{Progress, ProgressState, RunState};
use crate::verify::{Crash, RunRequest};

/// Why a run was not started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no job named `{job}` (jobs: {known})")]
    UnknownJob { job: String, known: String },
    #[error("job `{job}` has no target named `{target}` (it has: {known})")]
    UnknownTarget {
        job: String,
        target: String,
        known: String,
    },
    #[error("job `{job}` is already running (run {run_id}); try again when it has finished")]
    AlreadyRunning { job: String, run_id: String },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// How many finished runs' progress is kept for `GET /runs/{id}/progress`.
const KEEP_RECENT: usize = 200;

pub struct RunManager {
    runs: RunService,
    config: RwLock<Arc<Config>>,
    slots: Arc<Semaphore>,
    /// job → (run id, progress) of its run going on.
    running: Mutex<HashMap<String, (String, Arc<Progress>)>>,
    /// Progress of recent runs, by run id.
    recent: Mutex<VecDeque<(String, Arc<Progress>)>>,
    /// Cancelled on shutdown: every run stops and is recorded as interrupted.
    pub cancel: CancellationToken,
    pub tasks: TaskTracker,
    /// Woken when a run queued an email.
    pub mail: Arc<Notify>,
}

impl RunManager {
    pub fn new(runs: RunService, config: Arc<Config>) -> Arc<RunManager> {
        Arc::new(RunManager {
            runs,
            slots: Arc::new(Semaphore::new(config.daemon.max_concurrent_runs)),
            config: RwLock::new(config),
            running: Mutex::new(HashMap::new()),
            recent: Mutex::new(VecDeque::new()),
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            mail: Arc::new(Notify::new()),
        })
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    /// Uses a reloaded configuration for runs started from now on.
    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().expect("config lock") = config;
    }

    pub fn catalog(&self) -> &crate::catalog::Catalog {
        &self.runs.verifier.catalog
    }

    /// Each run in flight (not waiting for its turn): its id, and a text that changes
    /// whenever it makes progress.
    pub fn run_signatures(&self) -> Vec<(String, String)> {
        let running = match self.running.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        running
            .values()
            .filter_map(|(id, p)| {
                let s = p.snapshot();
                (s.state == RunState::Running).then(|| {
                    let sig = format!(
                        "{:?}/{:?}/{}/{}/{}",
                        s.target, s.phase, s.listed, s.files_done, s.bytes_done
                    );
                    (id.clone(), sig)
                })
            })
            .collect()
    }

    /// The run of `job` going on, if any.
    pub fn running(&self, job: &str) -> Option<String> {
        self.running
            .lock()
            .expect("running lock")
            .get(job)
            .map(|(id, _)| id.clone())
    }

    pub fn progress(&self, run_id: &str) -> Option<ProgressState> {
        self.recent
            .lock()
            .expect("recent lock")
            .iter()
            .find(|(id, _)| id == run_id)
            .map(|(_, p)| p.snapshot())
    }

    /// Starts a run of `job` (or one of its targets) and returns its id at once.
    pub fn start(
        self: &Arc<Self>,
        job_name: &str,
        target: Option<String>,
        trigger: Trigger,
    ) -> Result<String, StartError> {
        let config = self.config();
        let Some(job) = config.job(job_name).cloned() else {
            return Err(StartError::UnknownJob {
                job: job_name.into(),
                known: config
                    .jobs
                    .iter()
                    .map(|j| j.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        if let Some(t) = &target
            && !job.targets.iter().any(|x| &x.name == t)
        {
            return Err(StartError::UnknownTarget {
                job: job.name.clone(),
                target: t.clone(),
                known: job
                    .targets
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let (run_id, progress) = {
            let mut running = self.running.lock().expect("running lock");
            if let Some((run_id, _)) = running.get(&job.name) {
                return Err(StartError::AlreadyRunning {
                    job: job.name.clone(),
                    run_id: run_id.clone(),
                });
            }
            let run_id = self.runs.new_run_id()?;
            let progress = Arc::new(Progress::new(&run_id, &job.name));
            running.insert(job.name.clone(), (run_id.clone(), progress.clone()));
            (run_id, progress)
        };
        {
            let mut recent = self.recent.lock().expect("recent lock");
            recent.push_back((run_id.clone(), progress.clone()));
            while recent.len() > KEEP_RECENT {
                recent.pop_front();
            }
        }
        let me = self.clone();
        let id = run_id.clone();
        self.tasks.spawn(async move {
            me.execute(job, target, trigger, id, progress).await;
        });
        Ok(run_id)
    }

    async fn execute(
        self: Arc<Self>,
        job: crate::config::Job,
        target: Option<String>,
        trigger: Trigger,
        run_id: String,
        progress: Arc<Progress>,
    ) {
        // Frees the job when this task ends, however it ends.
        let _free = FreeJob {
            manager: &self,
            job: &job.name,
        };
        let permit = tokio::select! {
            p = self.slots.clone().acquire_owned() => p.ok(),
            _ = self.cancel.cancelled() => None,
        };
        let outcome = match permit {
            None => None,
            Some(_permit) => {
                let req = RunRequest {
                    target: target.clone(),
                    seed: None,
                    trigger,
                    run_id: Some(run_id.clone()),
                    progress: Some(progress.clone()),
                };
                // A panic inside the run ends the run, not this task (see below).
                let run = AssertUnwindSafe(self.runs.run(&job, req)).catch_unwind();
                tokio::select! {
                    r = run => Some(r),
                    // Dropping the run's future removes its scratch folder.
                    _ = self.cancel.cancelled() => None,
                }
            }
        };
        match outcome {
            Some(Ok(Ok(done))) => {
                tracing::info!(
                    job = %job.name,
                    run_id = %run_id,
                    verdict = %done.evidence.effective_verdict(),
                    "run finished"
                );
                progress.finish(RunState::Finished, done.evidence.verdict);
                if done.emailed_to.is_some() {
                    self.mail.notify_one();
                }
            }
            Some(Ok(Err(e))) => {
                tracing::error!(job = %job.name, run_id = %run_id, error = %e, "run could not be carried out");
                let _ = self.catalog().interrupt_run(&run_id);
                progress.finish(RunState::Interrupted, None);
            }
            Some(Err(panic)) => {
                let message = crate::verify::panic_message(&*panic);
                tracing::error!(job = %job.name, run_id = %run_id, panic = %message, "run stopped on an internal error; recorded as not verified");
                let crashed = AssertUnwindSafe(async {
                    self.runs.record_crash(
                        &job,
                        Crash {
                            run_id: &run_id,
                            target: target.as_deref(),
                            trigger,
                            message: &message,
                        },
                    )
                })
                .catch_unwind()
                .await;
                match crashed {
                    Ok(Ok(Some(done))) => {
                        progress.finish(RunState::Finished, done.evidence.verdict);
                        if done.emailed_to.is_some() {
                            self.mail.notify_one();
                        }
                    }
                    Ok(Ok(None)) => {
                        // Recorded before the panic: its verdict stands.
                        let recorded = self.catalog().run(&run_id).ok().flatten();
                        progress.finish(RunState::Finished, recorded.and_then(|ev| ev.verdict));
                    }
                    Ok(Err(e)) => {
                        tracing::error!(job = %job.name, run_id = %run_id, error = %e, "the crashed run could not be recorded");
                        let _ = self.catalog().interrupt_run(&run_id);
                        progress.finish(RunState::Interrupted, None);
                    }
                    Err(_) => {
                        tracing::error!(job = %job.name, run_id = %run_id, "recording the crashed run panicked too");
                        let _ = self.catalog().interrupt_run(&run_id);
                        progress.finish(RunState::Interrupted, None);
                    }
                }
            }
            None => {
                tracing::warn!(job = %job.name, run_id = %run_id, "run interrupted by shutdown");
                let _ = self.catalog().interrupt_run(&run_id);
                progress.finish(RunState::Interrupted, None);
            }
        }
    }
}

/// Removes a job from the running ones when dropped: a run task that ends in any way,
/// even by a panic, never leaves its job refusing new runs.
struct FreeJob<'a> {
    manager: &'a RunManager,
    job: &'a str,
}

impl Drop for FreeJob<'_> {
    fn drop(&mut self) {
        // A poisoned lock still holds the map: take it back rather than panic in drop.
        let mut running = self
            .manager
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        running.remove(self.job);
    }
}

//! Is the daemon still doing its work? Three parts must make progress: the main loop
//! (which receives the scheduler's fires and signals), each run in flight (its files and
//! bytes move), and the delivery worker (it finishes a round). [`Health`] keeps when each
//! last moved; [`watch`] checks them on a timer, pings the systemd watchdog only while all
//! are healthy (so systemd restarts a stuck daemon), records the daemon's heartbeat in
//! the catalog for `status`, and notices jobs that missed a scheduled run.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::runs::RunManager;

/// The parts of the daemon that must keep moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Scheduler,
    Runs,
    Delivery,
}

impl Part {
    pub fn label(self) -> &'static str {
        match self {
            Part::Scheduler => "scheduler",
            Part::Runs => "runs",
            Part::Delivery => "delivery",
        }
    }
}

/// When each part last showed progress.
pub struct Health {
    beats: Mutex<HashMap<Part, Instant>>,
    /// Per run in flight: what its progress looked like, and since when.
    runs: Mutex<HashMap<String, (String, Instant)>>,
    /// Set by a round of the delivery worker while it works.
    delivering: Mutex<Option<Instant>>,
}

/// One part's state, for `/v1/health`.
#[derive(Debug, Clone, Serialize)]
pub struct PartState {
    pub part: Part,
    pub ok: bool,
    /// Seconds since it last moved.
    pub idle_seconds: u64,
}

impl Default for Health {
    fn default() -> Self {
        let now = Instant::now();
        Health {
            beats: Mutex::new(
                [Part::Scheduler, Part::Runs, Part::Delivery]
                    .into_iter()
                    .map(|p| (p, now))
                    .collect(),
            ),
            runs: Mutex::new(HashMap::new()),
            delivering: Mutex::new(None),
        }
    }
}

impl Health {
    /// `part` moved now.
    pub fn beat(&self, part: Part) {
        if let Ok(mut b) = self.beats.lock() {
            b.insert(part, Instant::now());
        }
    }

    /// The delivery worker starts (`true`) or ends (`false`) a round.
    pub fn delivering(&self, busy: bool) {
        if let Ok(mut d) = self.delivering.lock() {
            *d = busy.then(Instant::now);
        }
        self.beat(Part::Delivery);
    }

    /// Looks at the runs in flight: a run whose progress has not changed for `stall`
    /// holds the `runs` part back. `signatures` are (run id, a text that changes when the
    /// run moves).
    fn observe_runs(&self, signatures: Vec<(String, String)>, stall: Duration) -> Option<String> {
        let now = Instant::now();
        let mut runs = self.runs.lock().ok()?;
        runs.retain(|id, _| signatures.iter().any(|(s, _)| s == id));
        let mut stuck = None;
        for (id, sig) in signatures {
            let entry = runs.entry(id.clone()).or_insert((sig.clone(), now));
            if entry.0 != sig {
                *entry = (sig, now);
            } else if now.duration_since(entry.1) > stall {
                stuck = Some(id);
            }
        }
        stuck
    }

    /// The state of every part, given how long one may stay still.
    pub fn parts(&self, stall: Duration) -> Vec<PartState> {
        let now = Instant::now();
        let beats = self.beats.lock().map(|b| b.clone()).unwrap_or_default();
        let delivering = self.delivering.lock().ok().and_then(|d| *d);
        [Part::Scheduler, Part::Runs, Part::Delivery]
            .into_iter()
            .map(|part| {
                let last = beats.get(&part).copied().unwrap_or(now);
                let idle = now.duration_since(last);
                let ok = match part {
                    // A round in progress must end within the stall limit; between rounds
                    // the worker wakes at least every minute.
                    Part::Delivery => {
                        delivering.is_none_or(|d| now.duration_since(d) <= stall)
                            && idle <= stall + super::OUTBOX_INTERVAL
                    }
                    _ => idle <= stall,
                };
                PartState {
                    part,
                    ok,
                    idle_seconds: idle.as_secs(),
                }
            })
            .collect()
    }
}

/// Checks the daemon's health every `tick` until it stops: pings the systemd watchdog while
/// every part is healthy, records the heartbeat in the catalog, and warns (once per slot)
/// about jobs that missed a scheduled run.
pub async fn watch(manager: Arc<RunManager>, health: Arc<Health>, tick: Duration, watchdog: bool) {
    let mut unhealthy_since: Option<Instant> = None;
    let mut warned_missed: HashMap<String, chrono::DateTime<chrono::Utc>> = HashMap::new();
    let mut last_heartbeat = Instant::now() - Duration::from_secs(3600);
    loop {
        let config = manager.config();
        let stall = config.daemon.stall_timeout;
        // A run that does not move holds the `runs` part back; no stuck run: it moves.
        match health.observe_runs(manager.run_signatures(), stall) {
            Some(id) => tracing::debug!(run_id = %id, "run makes no progress"),
            None => health.beat(Part::Runs),
        }
        let parts = health.parts(stall);
        let stuck: Vec<&PartState> = parts.iter().filter(|p| !p.ok).collect();
        if stuck.is_empty() {
            if unhealthy_since.take().is_some() {
                tracing::info!("every part of the daemon makes progress again");
            }
            if watchdog {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
            if last_heartbeat.elapsed() >= Duration::from_secs(60).min(tick * 4) {
                last_heartbeat = Instant::now();
                if let Err(e) = manager.catalog().set_heartbeat(chrono::Utc::now()) {
                    tracing::error!(error = %e, "could not record the daemon's heartbeat");
                }
            }
        } else if unhealthy_since.is_none() {
            unhealthy_since = Some(Instant::now());
            let what: Vec<String> = stuck
                .iter()
                .map(|p| format!("{} (no progress for {} s)", p.part.label(), p.idle_seconds))
                .collect();
            tracing::error!(
                "the daemon is stuck: {}; the systemd watchdog is no longer answered, so systemd restarts it",
                what.join(", ")
            );
        }
        let now = chrono::Utc::now();
        for job in &config.jobs {
            let Some(missed) = crate::status::missed_slot(&config, manager.catalog(), job, now)
            else {
                continue;
            };
            if warned_missed.get(&job.name) != Some(&missed) {
                warned_missed.insert(job.name.clone(), missed);
                tracing::error!(job = %job.name, slot = %missed, "a scheduled run was missed: the job did not run at its scheduled time");
                super::alert_missed(&manager, &config, &job.name, missed, false);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = manager.cancel.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_that_does_not_move_is_stuck() {
        let h = Health::default();
        let stall = Duration::from_millis(50);
        assert!(h.parts(stall).iter().all(|p| p.ok));
        std::thread::sleep(Duration::from_millis(80));
        let parts = h.parts(stall);
        let scheduler = parts.iter().find(|p| p.part == Part::Scheduler).unwrap();
        assert!(!scheduler.ok);
        h.beat(Part::Scheduler);
        assert!(h.parts(stall)[0].ok);
        // A delivery round that does not end is stuck too.
        h.delivering(true);
        std::thread::sleep(Duration::from_millis(80));
        let parts = h.parts(stall);
        assert!(!parts.iter().find(|p| p.part == Part::Delivery).unwrap().ok);
    }

    #[test]
    fn a_run_whose_progress_does_not_change_is_stuck() {
        let h = Health::default();
        let stall = Duration::from_millis(30);
        let sig = |s: &str| vec![("r1".to_string(), s.to_string())];
        assert_eq!(h.observe_runs(sig("a"), stall), None);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(h.observe_runs(sig("a"), stall), Some("r1".into()));
        assert_eq!(h.observe_runs(sig("b"), stall), None, "it moved");
        assert_eq!(h.observe_runs(Vec::new(), stall), None, "it ended");
    }
}

//! The scheduler: one task per job and per weekly summary, each sleeping until its next
//! slot and then sending a [`Fire`]. Slots come from [`Schedule::next_after`], so a
//! daylight-saving change neither skips nor doubles a run, and each task computes its next
//! slot from the previous slot (not from "now"), so a late wake-up loses nothing.
//!
//! Missed runs: the catalog keeps the last slot handled per job. At start, a job whose
//! last slot is older than its latest due slot missed at least one run while the daemon
//! was down; it runs once, `catch_up_delay` after start (like systemd's `Persistent=true`),
//! however many slots were missed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Schedule};

use super::clock::Clock;

/// Something the scheduler asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fire {
    /// Run `job` for the slot `slot` (a catch-up is for the latest missed slot).
    Run {
        job: String,
        slot: DateTime<Utc>,
        catch_up: bool,
    },
    /// Send `job`'s weekly summary.
    Digest { job: String, slot: DateTime<Utc> },
}

/// What to catch up at start: jobs whose last handled slot is older than their latest due
/// slot. `last_slot` reads the catalog; a job never seen before is not caught up.
pub fn missed(
    config: &Config,
    now: DateTime<Utc>,
    last_slot: &dyn Fn(&str) -> Option<DateTime<Utc>>,
) -> Vec<(String, DateTime<Utc>)> {
    config
        .jobs
        .iter()
        .filter_map(|job| {
            let due = job.schedule.last_at_or_before(job.timezone, now)?;
            match last_slot(&job.name) {
                Some(last) if last < due => Some((job.name.clone(), due)),
                _ => None,
            }
        })
        .collect()
}

/// Starts every schedule task; they stop when `cancel` is cancelled.
pub fn start(
    config: &Config,
    clock: Arc<dyn Clock>,
    tx: mpsc::Sender<Fire>,
    catch_up: Vec<(String, DateTime<Utc>)>,
    cancel: CancellationToken,
) {
    for job in &config.jobs {
        let name = job.name.clone();
        spawn_loop(
            job.schedule.clone(),
            job.timezone,
            clock.clone(),
            tx.clone(),
            cancel.clone(),
            move |slot| Fire::Run {
                job: name.clone(),
                slot,
                catch_up: false,
            },
        );
        let name = job.name.clone();
        spawn_loop(
            job.digest_schedule.clone(),
            job.timezone,
            clock.clone(),
            tx.clone(),
            cancel.clone(),
            move |slot| Fire::Digest {
                job: name.clone(),
                slot,
            },
        );
    }
    if config.daemon.catch_up && !catch_up.is_empty() {
        let delay = config.daemon.catch_up_delay;
        tokio::spawn(async move {
            let at = clock.now() + chrono::Duration::from_std(delay).unwrap_or_default();
            tokio::select! {
                _ = clock.sleep_until(at) => {}
                _ = cancel.cancelled() => return,
            }
            for (job, slot) in catch_up {
                let _ = tx
                    .send(Fire::Run {
                        job,
                        slot,
                        catch_up: true,
                    })
                    .await;
            }
        });
    }
}

fn spawn_loop(
    schedule: Schedule,
    tz: Tz,
    clock: Arc<dyn Clock>,
    tx: mpsc::Sender<Fire>,
    cancel: CancellationToken,
    fire: impl Fn(DateTime<Utc>) -> Fire + Send + 'static,
) {
    tokio::spawn(async move {
        let mut after = clock.now();
        while let Some(slot) = schedule.next_after(tz, after) {
            tokio::select! {
                _ = clock.sleep_until(slot) => {}
                _ = cancel.cancelled() => return,
            }
            if tx.send(fire(slot)).await.is_err() {
                return;
            }
            after = slot;
        }
    });
}

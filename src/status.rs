//! The status of every client at a glance: the data behind `backproof status`, the same
//! whether read from the catalog directly or from the daemon's API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError, Delivery};
use crate::config::Config;
use crate::evidence::{RunStatus, Verdict};

/// One job's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusRow {
    pub job: String,
    pub client: String,
    pub last_run: Option<String>,
    pub last_started: Option<DateTime<Utc>>,
    /// Verdict of the last finished run.
    pub verdict: Option<Verdict>,
    /// Age of the oldest "newest backup" over the targets, when last checked.
    pub newest_backup_age_seconds: Option<u64>,
    pub next_run: Option<DateTime<Utc>>,
    /// The run going on now, if the daemon is running one.
    pub running: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub rows: Vec<StatusRow>,
    pub outbox_queued: usize,
    pub outbox_rejected: usize,
}

/// Collects the status; `running` tells which run of a job is going on, if any.
pub fn collect(
    config: &Config,
    catalog: &Catalog,
    running: &dyn Fn(&str) -> Option<String>,
) -> Result<Status, CatalogError> {
    let now = Utc::now();
    let mut rows = Vec::new();
    for job in &config.jobs {
        let last = catalog.last_finished_run(&job.name)?;
        let newest = last.as_ref().and_then(|ev| {
            let checked = ev.finished_at.unwrap_or(ev.started_at);
            ev.targets
                .iter()
                .filter_map(|t| t.inventory.as_ref()?.newest.as_ref())
                .map(|n| n.modified)
                .min()
                .and_then(|m| checked.signed_duration_since(m).to_std().ok())
                .map(|a| a.as_secs())
        });
        rows.push(StatusRow {
            job: job.name.clone(),
            client: job.client.clone(),
            last_run: last.as_ref().map(|e| e.run_id.clone()),
            last_started: last.as_ref().map(|e| e.started_at),
            verdict: last
                .as_ref()
                .filter(|e| e.status == RunStatus::Finished)
                .map(|e| e.effective_verdict()),
            newest_backup_age_seconds: newest,
            next_run: job.schedule.next_after(job.timezone, now),
            running: running(&job.name),
        });
    }
    let items = catalog.outbox()?;
    Ok(Status {
        rows,
        outbox_queued: items
            .iter()
            .filter(|i| i.delivery == Delivery::Pending)
            .count(),
        outbox_rejected: items
            .iter()
            .filter(|i| matches!(i.delivery, Delivery::Rejected { .. }))
            .count(),
    })
}

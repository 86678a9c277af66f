//! Putting a job's weekly owner summary in the outbox.

use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, CatalogError, MailKind, OutboxItem};
use crate::config::Job;
use crate::report::digest::{Digest, DigestProblem};

use super::compose::ComposeError;
use super::{Sender, compose, outbox};

/// The weekly summary could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

/// The summary of `job` for the week before `now`, from its runs in the catalog.
pub fn build(catalog: &Catalog, job: &Job, now: DateTime<Utc>) -> Result<Digest, CatalogError> {
    let mut runs = Vec::new();
    for id in catalog.newest_run_ids(&job.name) {
        if let Some(ev) = catalog.run(&id?)? {
            if ev.started_at < now - chrono::Duration::days(8) {
                break;
            }
            runs.push(ev);
        }
    }
    let problems = catalog
        .job_problems(&job.name)?
        .into_iter()
        .map(|(target, p)| DigestProblem {
            target,
            kind: p.kind,
            files: p.files,
            since: p.opened_at,
            acknowledged: p
                .ack
                .filter(|a| a.until.is_none_or(|u| u > now))
                .map(|a| (a.by, a.reason)),
        })
        .collect();
    Ok(Digest::build(&job.client, &job.name, &runs, problems, now))
}

/// Queues the summary for the owners; `None` if the job has no owners.
pub fn enqueue(
    catalog: &Catalog,
    sender: &Sender,
    job: &Job,
    now: DateTime<Utc>,
) -> Result<Option<OutboxItem>, DigestError> {
    if job.owners.is_empty() {
        return Ok(None);
    }
    let d = build(catalog, job, now)?;
    let composed = compose::digest(sender, &job.owners, &d)?;
    let item = outbox::item(
        MailKind::Digest,
        Some(&job.name),
        None,
        sender,
        composed,
        now,
    );
    catalog.put_outbox(&item)?;
    catalog.flush()?;
    Ok(Some(item))
}

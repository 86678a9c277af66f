//! Commands about email: delivering the outbox, the weekly digest, test messages, status.

use anyhow::{Result, bail};
use chrono::Utc;

use crate::catalog::{Catalog, Delivery, MailKind};
use crate::config::Config;
use crate::evidence::RunStatus;
use crate::mail::{Mailer, Sender, compose, outbox};
use crate::report::digest::{self, Digest};
use crate::report::human_age;

use super::commands::{find_job, open_catalog};

/// Delivers what is due after a run, telling the technician what happened. A failed
/// delivery does not change the run's exit code: the message stays queued.
pub async fn deliver_now(config: &Config, catalog: &Catalog, to: &str) {
    let mailer = match Mailer::new(config) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("report to {to} is queued, not sent: {e}");
            return;
        }
    };
    match outbox::deliver(catalog, &mailer, false).await {
        Ok(round) => {
            for (subject, place) in &round.sent {
                eprintln!("report emailed: \"{subject}\" -> {place}");
            }
            for (subject, error) in &round.deferred {
                eprintln!("report queued, will be retried: \"{subject}\": {error}");
            }
            for (subject, reason) in &round.rejected {
                eprintln!("report REJECTED by the mail server: \"{subject}\": {reason}");
            }
        }
        Err(e) => eprintln!("could not read the outbox: {e}"),
    }
}

pub async fn digest(config: &Config, job_name: &str, send: bool) -> Result<u8> {
    let job = find_job(config, job_name)?;
    let catalog = open_catalog(config)?;
    let mut runs = Vec::new();
    for id in catalog.run_ids_of_job(job_name)? {
        if let Some(ev) = catalog.run(&id)? {
            if ev.started_at < Utc::now() - chrono::Duration::days(8) {
                break;
            }
            runs.push(ev);
        }
    }
    let d = Digest::build(&job.client, &job.name, &runs, Utc::now());
    if !send {
        print!("{}", digest::text(&d));
        return Ok(0);
    }
    if job.owners.is_empty() {
        bail!(
            "job {job_name} has no owners to send the weekly summary to (owners = [...] in its job file)"
        );
    }
    let sender = Sender::from_config(config);
    let composed = compose::digest(&sender, &job.owners, &d);
    let item = outbox::item(
        MailKind::Digest,
        Some(job_name),
        None,
        &sender,
        composed,
        Utc::now(),
    );
    catalog.put_outbox(&item)?;
    catalog.flush()?;
    deliver_now(config, &catalog, &job.owners.join(", ")).await;
    Ok(0)
}

pub async fn send_test_email(config: &Config, address: &str) -> Result<u8> {
    if address.parse::<lettre::Address>().is_err() {
        bail!("`{address}` is not an email address");
    }
    let mailer = Mailer::new(config)?;
    let sender = Sender::from_config(config);
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let m = compose::test_message(&sender, address, &host);
    match mailer
        .send(sender.from.email.as_ref(), &m.to, m.message.as_bytes())
        .await
    {
        Ok(place) => {
            println!("test message sent to {address} via {place}");
            Ok(0)
        }
        Err(e) => {
            println!("sending to {address} via {} failed: {e}", mailer.describe());
            Ok(2)
        }
    }
}

pub async fn outbox(config: &Config, retry: bool) -> Result<u8> {
    let catalog = open_catalog(config)?;
    if retry {
        let mailer = Mailer::new(config)?;
        let round = outbox::deliver(&catalog, &mailer, true).await?;
        println!(
            "delivery via {}: {} sent, {} still queued, {} rejected",
            mailer.describe(),
            round.sent.len(),
            round.deferred.len(),
            round.rejected.len()
        );
    }
    let items = catalog.outbox()?;
    if items.is_empty() {
        println!("the outbox is empty");
        return Ok(0);
    }
    println!(
        "{:<10} {:<11} {:<9} {:<21} SUBJECT / LAST ERROR",
        "KIND", "STATE", "ATTEMPTS", "CREATED (UTC)"
    );
    let mut problems = 0;
    for i in &items {
        let state = match &i.delivery {
            Delivery::Pending => "queued",
            Delivery::Sent { .. } => "sent",
            Delivery::Rejected { .. } => "REJECTED",
        };
        if !matches!(i.delivery, Delivery::Sent { .. }) {
            problems += 1;
        }
        let kind = match i.kind {
            MailKind::RunReport => "report",
            MailKind::Digest => "digest",
            MailKind::Test => "test",
        };
        println!(
            "{kind:<10} {state:<11} {:<9} {:<21} {} -> {}",
            i.attempts,
            i.created.format("%Y-%m-%d %H:%M:%S"),
            i.subject,
            i.to.join(", ")
        );
        if let Some(e) = &i.last_error
            && !matches!(i.delivery, Delivery::Sent { .. })
        {
            println!("{:<53} {e}", "");
        }
    }
    Ok(if problems == 0 { 0 } else { 1 })
}

pub fn status(config: &Config) -> Result<u8> {
    let catalog = open_catalog(config)?;
    println!(
        "{:<20} {:<24} {:<20} {:<7} {:<14} NEXT RUN",
        "JOB", "CLIENT", "LAST RUN (UTC)", "VERDICT", "NEWEST BACKUP"
    );
    for job in &config.jobs {
        let last = catalog.last_finished_run(&job.name)?;
        let (when, verdict, newest) = match &last {
            Some(ev) => {
                let checked = ev.finished_at.unwrap_or(ev.started_at);
                let newest = ev
                    .targets
                    .iter()
                    .filter_map(|t| t.inventory.as_ref()?.newest.as_ref())
                    .map(|n| n.modified)
                    .min()
                    .and_then(|m| checked.signed_duration_since(m).to_std().ok())
                    .map(|a| format!("{} old", human_age(a)))
                    .unwrap_or_else(|| "-".into());
                (
                    ev.started_at.format("%Y-%m-%d %H:%M").to_string(),
                    ev.effective_verdict().label().to_string(),
                    newest,
                )
            }
            None => ("never".into(), "-".into(), "-".into()),
        };
        let next = job
            .schedule
            .cron()
            .find_next_occurrence(&chrono::Local::now(), false)
            .map(|t| t.format("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_else(|_| "-".into());
        let client: String = job.client.chars().take(24).collect();
        println!(
            "{:<20} {client:<24} {when:<20} {verdict:<7} {newest:<14} {next}",
            job.name
        );
        if let Some(ev) = &last
            && ev.status != RunStatus::Finished
        {
            println!("{:<20} (last run {} did not finish)", "", ev.run_id);
        }
    }
    let items = catalog.outbox()?;
    let queued = items
        .iter()
        .filter(|i| i.delivery == Delivery::Pending)
        .count();
    let rejected = items
        .iter()
        .filter(|i| matches!(i.delivery, Delivery::Rejected { .. }))
        .count();
    println!();
    println!("outbox: {queued} queued, {rejected} rejected (backproof outbox for details)");
    Ok(0)
}

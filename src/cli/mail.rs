//! Commands about email: delivering the outbox, the weekly digest, test messages, status.

use anyhow::{Result, bail};
use chrono::Utc;

use crate::catalog::{Catalog, Delivery, MailKind};
use crate::config::Config;
use crate::mail::{Mailer, Sender, compose, outbox};
use crate::report::digest;

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
    if !send {
        let d = crate::mail::digest::build(&catalog, job, Utc::now())?;
        print!("{}", digest::text(&d));
        return Ok(0);
    }
    let sender = Sender::from_config(config);
    if crate::mail::digest::enqueue(&catalog, &sender, job, Utc::now())?.is_none() {
        bail!(
            "job {job_name} has no owners to send the weekly summary to (owners = [...] in its job file)"
        );
    }
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
    let items = match super::commands::catalog_or_daemon(config)? {
        Some(catalog) => {
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
            catalog.outbox()?
        }
        None => {
            let remote = super::remote::Remote::connect(config)?;
            if retry {
                let (via, sent, deferred, rejected) = remote.outbox_retry().await?;
                println!(
                    "delivery via {via}: {sent} sent, {deferred} still queued, {rejected} rejected"
                );
            }
            remote.outbox().await?
        }
    };
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

//! Commands about email: delivering the outbox, the weekly digest, test messages, status.

use anyhow::{Result, bail};
use chrono::Utc;

use crate::catalog::{Catalog, Delivery, MailKind, OutboxItem, WebhookItem};
use crate::config::Config;
use crate::mail::{Delivered, Mailer, Sender, compose, outbox};
use crate::report::digest;

use crate::app::Access;
use crate::app::outbox_page::{Listing, OutboxQuery};
use crate::app::setup::find_job;
use crate::format::plural;

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
            for (subject, file) in &round.written {
                eprintln!(
                    "report NOT emailed (no [smtp] configured): \"{subject}\" written to {file}"
                );
            }
            for (subject, error) in &round.deferred {
                eprintln!("report queued, will be retried: \"{subject}\": {error}");
            }
            for (subject, reason) in &round.rejected {
                eprintln!("report REJECTED by the mail server: \"{subject}\": {reason}");
            }
            for subject in &round.busy {
                eprintln!("report being delivered by another delivery: \"{subject}\"");
            }
        }
        Err(e) => eprintln!("could not read the outbox: {e}"),
    }
}

/// Prints the weekly owner summary of a job, or queues it for the owners and delivers it
/// (here, or by the daemon when it holds the catalog).
pub async fn digest(config: &Config, job_name: &str, send: bool) -> Result<u8> {
    let job = find_job(config, job_name)?;
    let access = crate::app::connect(&std::sync::Arc::new(config.clone()))?;
    if !send {
        let d = access.service().digest(job_name).await?;
        print!("{}", digest::text(&d));
        return Ok(0);
    }
    if !access.service().queue_digest(job_name).await? {
        bail!(
            "job {job_name} has no owners to send the weekly summary to (owners = [...] in its job file)"
        );
    }
    match &access {
        Access::Local(local) => {
            deliver_now(config, &local.catalog, &job.owners.join(", ")).await;
        }
        Access::Remote(_) => eprintln!(
            "weekly summary to {} queued; the daemon delivers it",
            job.owners.join(", ")
        ),
    }
    Ok(0)
}

pub async fn send_test_email(config: &Config, address: &str) -> Result<u8> {
    if let Err(e) = crate::config::mailbox(address) {
        bail!("{e}");
    }
    let mailer = Mailer::new(config)?;
    let sender = Sender::from_config(config);
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let m = compose::test_message(&sender, address, &host)?;
    match mailer
        .send(sender.from.email.as_ref(), &m.to, m.message.as_bytes())
        .await
    {
        Ok(Delivered::Sent { via }) => {
            println!("test message sent to {address} via {via}");
            Ok(0)
        }
        Ok(Delivered::Written { file }) => {
            println!(
                "NOT emailed: there is no [smtp] section in {}, so the test message to {address} was only written to {file}",
                config.file.display()
            );
            Ok(2)
        }
        Err(e) => {
            println!("sending to {address} via {} failed: {e}", mailer.describe());
            Ok(2)
        }
    }
}

pub async fn outbox(config: &Config, retry: bool, query: OutboxQuery) -> Result<u8> {
    let access = crate::app::connect(&std::sync::Arc::new(config.clone()))?;
    if retry {
        println!("{}", access.service().outbox_retry().await?);
    }
    let page = access.service().outbox_page(query).await?;
    if page.mail.total == 0 && page.webhooks.total == 0 {
        println!("the outbox is empty");
        return Ok(0);
    }
    print_mail(&page.mail, query);
    if page.webhooks.total > 0 {
        println!();
        print_webhooks(&page.webhooks, query);
    }
    // The exit code is the whole outbox's: a failure is not hidden by the page.
    Ok(if page.undelivered() == 0 { 0 } else { 1 })
}

fn print_mail(page: &Listing<OutboxItem>, query: OutboxQuery) {
    let items = &page.items;
    if items.is_empty() {
        println!(
            "no email waiting to be sent; the outbox holds {}{}",
            plural(page.total as u64, "message"),
            not_delivered(page.undelivered)
        );
        return;
    }
    println!(
        "{:<10} {:<11} {:<9} {:<21} SUBJECT / LAST ERROR",
        "KIND", "STATE", "ATTEMPTS", "CREATED (UTC)"
    );
    let now = Utc::now();
    for i in items {
        let delivered = matches!(i.delivery, Delivery::Sent { .. } | Delivery::Written { .. });
        let state = state_word(&i.delivery, i.claim.as_ref(), now);
        let kind = match i.kind {
            MailKind::RunReport => "report",
            MailKind::Digest => "digest",
            MailKind::Test => "test",
            MailKind::Alert => "alert",
        };
        println!(
            "{kind:<10} {state:<11} {:<9} {:<21} {} -> {}",
            i.attempts,
            i.created.format("%Y-%m-%d %H:%M:%S"),
            i.subject,
            i.to.join(", ")
        );
        if let Delivery::Written { file, .. } = &i.delivery {
            println!("{:<53} not emailed (no [smtp]): written to {file}", "");
        }
        if let Some(e) = &i.last_error
            && !delivered
        {
            println!("{:<53} {e}", "");
        }
    }
    footer(page, query, "message");
}

/// Webhook messages: the event, to which `[[webhooks]]` entry, and how it went.
fn print_webhooks(page: &Listing<WebhookItem>, query: OutboxQuery) {
    if page.items.is_empty() {
        println!(
            "no webhook message waiting to be sent; {} in all{}",
            plural(page.total as u64, "webhook message"),
            not_delivered(page.undelivered)
        );
        return;
    }
    println!(
        "{:<22} {:<11} {:<9} {:<21} WEBHOOK: SUMMARY / LAST ERROR",
        "EVENT", "STATE", "ATTEMPTS", "CREATED (UTC)"
    );
    let now = Utc::now();
    for i in &page.items {
        let state = state_word(&i.delivery, i.claim.as_ref(), now);
        println!(
            "{:<22} {state:<11} {:<9} {:<21} {}: {}",
            i.event,
            i.attempts,
            i.created.format("%Y-%m-%d %H:%M:%S"),
            i.webhook,
            i.summary
        );
        if let Some(e) = &i.last_error
            && !matches!(i.delivery, Delivery::Sent { .. })
        {
            println!("{:<65} {e}", "");
        }
    }
    footer(page, query, "webhook message");
}

/// How a message (or webhook message) stands, in the listing's words.
fn state_word(
    delivery: &Delivery,
    claim: Option<&crate::catalog::Claim>,
    now: chrono::DateTime<Utc>,
) -> &'static str {
    match delivery {
        Delivery::Pending if claim.is_some_and(|c| c.until > now) => "sending",
        Delivery::Pending => "queued",
        Delivery::Sent { .. } => "sent",
        Delivery::Written { .. } => "file only",
        Delivery::Rejected { .. } => "REJECTED",
    }
}

fn not_delivered(n: usize) -> String {
    match n {
        0 => String::new(),
        n => format!(" ({n} not delivered)"),
    }
}

fn footer<T>(page: &Listing<T>, query: OutboxQuery, what: &str) {
    if page.matching > page.items.len() {
        println!(
            "(the newest {} of {}{}; all of them with --all)",
            page.items.len(),
            plural(page.matching as u64, what),
            if query.pending { " still to go" } else { "" }
        );
    }
    if page.undelivered > 0 && (query.pending || page.matching > page.items.len()) {
        println!(
            "{} of {} not delivered",
            page.undelivered,
            plural(page.total as u64, what)
        );
    }
}

//! Webhooks through a durable outbox (the catalog's `webhooks` tree): each event is queued
//! once per `[[webhooks]]` entry that wants it, with its body fixed and a stable
//! `webhook-id`, then delivered by its own worker with the email outbox's rules: one
//! deliverer per message (a claim with a lease), a deadline per request, backoff on
//! failure (1 minute doubling to an hour), rejected for good on a permanent refusal (a
//! 4xx other than 408 and 429). A receiver that stalls delays only the webhooks of that
//! round, never email: mail and webhooks have separate workers.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;

use crate::catalog::{Catalog, CatalogError, Delivery, RECORD_SCHEMA, WebhookItem};
use crate::config::{Job, Webhook};

use super::event::Event;
use super::http;

/// Wakes the daemon's webhook worker when an event was queued.
pub static WAKE: Notify = Notify::const_new();

/// How often the worker looks at the queue when nothing wakes it.
pub const INTERVAL: Duration = Duration::from_secs(60);
/// Delivered messages are kept this long (for `webhook-id` deduplication), then pruned.
const KEEP_DAYS: i64 = 7;

/// Queues `events` of `job` for each of its webhooks that wants them. A failure is
/// logged: the run (or acknowledgement) it reports stands.
pub fn queue(catalog: &Catalog, job: &Job, events: &[Event]) {
    let mut queued = false;
    for e in events {
        for w in job.webhooks.iter().filter(|w| w.wants(e.kind)) {
            let rendered = super::render::render(e, w.kind);
            let msg_id = format!(
                "msg_{}",
                &blake3::hash(format!("{}\0{}", w.name, e.dedupe).as_bytes()).to_hex()[..24]
            );
            let now = Utc::now();
            let item = WebhookItem {
                v: RECORD_SCHEMA,
                id: format!("{:020}-{msg_id}", now.timestamp_micros().max(0)),
                msg_id,
                webhook: w.name.clone(),
                event: e.kind.to_string(),
                job: e.job.clone(),
                summary: e.title.clone(),
                content_type: rendered.content_type,
                headers: rendered.headers,
                body: rendered.body,
                created: now,
                delivery: Delivery::Pending,
                attempts: 0,
                next_attempt: now,
                last_error: None,
                claim: None,
            };
            match catalog.queue_webhook(&item) {
                Ok(q) => queued |= q,
                Err(e) => {
                    tracing::error!(webhook = %w.name, error = %e, "webhook event not queued")
                }
            }
        }
    }
    if queued {
        let _ = catalog.flush();
        WAKE.notify_one();
    }
}

/// What a delivery round did: (event summary, webhook) per outcome.
#[derive(Debug, Default)]
pub struct Round {
    pub sent: usize,
    pub deferred: usize,
    pub rejected: usize,
}

/// Delivers every due webhook message once (with `force`, every queued one, due or not:
/// `backproof outbox --retry`). A receiver that does not answer is not tried again in the
/// same round.
pub async fn deliver(
    catalog: &Catalog,
    webhooks: &[Webhook],
    force: bool,
) -> Result<Round, CatalogError> {
    let mut round = Round::default();
    let by = format!(
        "pid {} round {:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let lease = chrono::Duration::from_std(http::DEADLINE).unwrap_or(chrono::Duration::hours(1))
        + chrono::Duration::minutes(1);
    let client = http::client(http::DEADLINE);
    let mut down: Vec<String> = Vec::new();
    for listed in catalog.webhooks()? {
        let now = Utc::now();
        if listed.delivery != Delivery::Pending || (!force && listed.next_attempt > now) {
            continue;
        }
        if down.contains(&listed.webhook) {
            round.deferred += 1;
            continue;
        }
        let claim_at = if force {
            listed.next_attempt.max(now)
        } else {
            now
        };
        let Some(mut item) = catalog.claim_webhook(&listed.id, &by, claim_at, lease)? else {
            continue;
        };
        item.attempts += 1;
        let result = match webhooks.iter().find(|w| w.name == item.webhook) {
            None => Err(http::HookError {
                message: format!("no webhook named `{}` is configured any more", item.webhook),
                permanent: true,
            }),
            Some(w) => http::send(request(&client, w, &item)).await,
        };
        let at = Utc::now();
        match result {
            Ok(code) => {
                item.delivery = Delivery::Sent { at };
                item.last_error = None;
                tracing::info!(webhook = %item.webhook, event = %item.event, status = code, summary = %item.summary, "webhook delivered");
                round.sent += 1;
            }
            Err(e) if e.permanent => {
                item.delivery = Delivery::Rejected {
                    at,
                    reason: e.message.clone(),
                };
                item.last_error = Some(e.message.clone());
                tracing::error!(webhook = %item.webhook, event = %item.event, error = %e, "webhook rejected for good");
                round.rejected += 1;
            }
            Err(e) => {
                item.next_attempt = at + crate::mail::outbox::backoff(item.attempts);
                item.last_error = Some(e.message.clone());
                tracing::warn!(webhook = %item.webhook, event = %item.event, error = %e, attempts = item.attempts, "webhook deferred");
                down.push(item.webhook.clone());
                round.deferred += 1;
            }
        }
        if !catalog.settle_webhook(&item, &by)? {
            tracing::warn!(webhook = %item.webhook, "another delivery took this webhook message over");
        }
        catalog.flush()?;
    }
    catalog.prune_webhooks(chrono::Duration::days(KEEP_DAYS))?;
    Ok(round)
}

/// The request of one attempt: the stored body, signed now when the webhook has a secret.
fn request(client: &reqwest::Client, w: &Webhook, item: &WebhookItem) -> reqwest::RequestBuilder {
    let mut req = client
        .post(w.url.expose().clone())
        .header(reqwest::header::CONTENT_TYPE, &item.content_type);
    for (k, v) in &item.headers {
        req = req.header(k, v);
    }
    if let Some(secret) = &w.secret {
        for (k, v) in super::sign::headers(secret, &item.msg_id, Utc::now().timestamp(), &item.body)
        {
            req = req.header(k, v);
        }
    }
    req.body(item.body.clone())
}

/// How long a delivery round of `webhooks` may take: one request deadline per webhook
/// (a receiver that stalls is not tried again in the round), and one more.
pub fn round_limit(webhooks: &[Webhook]) -> Duration {
    http::DEADLINE * (webhooks.len() as u32 + 1)
}

/// Delivers what is due now, for the command line (no daemon): bounded, so a receiver
/// that stalls delays the command by at most one request deadline per webhook.
pub async fn deliver_now(catalog: &Catalog, webhooks: &[Webhook]) {
    if webhooks.is_empty() {
        return;
    }
    let limit = round_limit(webhooks);
    match tokio::time::timeout(limit, deliver(catalog, webhooks, false)).await {
        Ok(Ok(r)) if r.deferred > 0 || r.rejected > 0 => eprintln!(
            "webhooks: {} delivered, {} still queued, {} rejected (see the log)",
            r.sent, r.deferred, r.rejected
        ),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => eprintln!("webhooks not delivered: {e}"),
        Err(_) => eprintln!("webhooks: delivery did not finish in {limit:?}; they stay queued"),
    }
}

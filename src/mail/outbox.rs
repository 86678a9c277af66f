//! The durable outbox: every report enters it in the transaction that records its run,
//! and stays until the server accepts it (or refuses it for good).
//!
//! Delivery is at least once with a stable Message-ID: a message is marked sent right
//! after the server accepted it; if the process dies between the two, the next attempt
//! sends the same bytes with the same Message-ID, which mail systems deduplicate.

use chrono::{DateTime, Duration, Utc};

use crate::catalog::{Catalog, CatalogError, Delivery, MailKind, OutboxItem, RECORD_SCHEMA};

use super::compose::{Composed, Sender};
use super::transport::Mailer;

/// A new pending outbox item for `composed`.
pub fn item(
    kind: MailKind,
    job: Option<&str>,
    run_id: Option<&str>,
    sender: &Sender,
    composed: Composed,
    now: DateTime<Utc>,
) -> OutboxItem {
    let id = format!(
        "{:020}-{}",
        now.timestamp_micros().max(0),
        composed.message_id.trim_matches(['<', '>'])
    );
    OutboxItem {
        v: RECORD_SCHEMA,
        id,
        kind,
        job: job.map(str::to_string),
        run_id: run_id.map(str::to_string),
        subject: composed.subject,
        message_id: composed.message_id,
        from: sender.from.email.to_string(),
        to: composed.to,
        message: composed.message,
        created: now,
        delivery: Delivery::Pending,
        attempts: 0,
        next_attempt: now,
        last_error: None,
    }
}

/// Wait before attempt `n + 1`: 1 minute, doubling, at most an hour.
pub fn backoff(attempts: u32) -> Duration {
    let minutes = 1i64 << attempts.saturating_sub(1).min(6);
    Duration::minutes(minutes.min(60))
}

/// What one delivery round did.
#[derive(Debug, Default)]
pub struct Round {
    /// (subject, where it went)
    pub sent: Vec<(String, String)>,
    /// (subject, error) of messages that stay queued.
    pub deferred: Vec<(String, String)>,
    /// (subject, reason) of messages refused for good.
    pub rejected: Vec<(String, String)>,
}

/// Tries every pending message that is due (or all pending ones with `force`).
pub async fn deliver(
    catalog: &Catalog,
    mailer: &Mailer,
    force: bool,
) -> Result<Round, CatalogError> {
    let mut round = Round::default();
    let now = Utc::now();
    for mut item in catalog.outbox()? {
        if item.delivery != Delivery::Pending || (!force && item.next_attempt > now) {
            continue;
        }
        item.attempts += 1;
        let result = mailer
            .send(&item.from, &item.to, item.message.as_bytes())
            .await;
        let at = Utc::now();
        match result {
            Ok(place) => {
                item.delivery = Delivery::Sent { at };
                item.last_error = None;
                tracing::info!(subject = %item.subject, to = %item.to.join(", "), "email sent");
                round.sent.push((item.subject.clone(), place));
            }
            Err(e) if e.permanent => {
                item.delivery = Delivery::Rejected {
                    at,
                    reason: e.message.clone(),
                };
                item.last_error = Some(e.message.clone());
                tracing::error!(subject = %item.subject, error = %e, "email rejected for good");
                round.rejected.push((item.subject.clone(), e.message));
            }
            Err(e) => {
                item.next_attempt = at + backoff(item.attempts);
                item.last_error = Some(e.message.clone());
                tracing::warn!(subject = %item.subject, error = %e, attempts = item.attempts, "email deferred");
                round.deferred.push((item.subject.clone(), e.message));
            }
        }
        catalog.put_outbox(&item)?;
        catalog.flush()?;
    }
    Ok(round)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(2), Duration::minutes(2));
        assert_eq!(backoff(4), Duration::minutes(8));
        assert_eq!(backoff(30), Duration::minutes(60));
    }
}

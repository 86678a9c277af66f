//! The durable outbox: every report enters it in the transaction that records its run,
//! and stays until the server accepts it (or refuses it for good).
//!
//! Delivery is at least once with a stable Message-ID: a message is marked sent right
//! after the server accepted it; if the process dies between the two, the next attempt
//! sends the same bytes with the same Message-ID, which mail systems deduplicate.
//!
//! One deliverer at a time per message: the daemon's worker, a run that just finished and
//! `backproof outbox --retry` may all try at once, so each first claims the message in the
//! catalog (a compare-and-swap on its record, see [`Catalog::claim_outbox`]) and sends it
//! only if it got the claim. The claim lapses after the longest a send can take plus a
//! margin, so a deliverer that died mid-send does not hold the message for ever.

use chrono::{DateTime, Duration, Utc};

use crate::catalog::{Catalog, CatalogError, Delivery, MailKind, OutboxItem, RECORD_SCHEMA};

use super::compose::{Composed, Sender};
use super::transport::{Delivered, Mailer};

/// How much longer than the send deadline a claim lasts.
const LEASE_MARGIN: Duration = Duration::minutes(1);

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
        claim: None,
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
    /// (subject, where it went) of messages accepted by the relay.
    pub sent: Vec<(String, String)>,
    /// (subject, file) of messages written to files (no `[smtp]`): nobody was emailed.
    pub written: Vec<(String, String)>,
    /// (subject, error) of messages that stay queued.
    pub deferred: Vec<(String, String)>,
    /// (subject, reason) of messages refused for good.
    pub rejected: Vec<(String, String)>,
    /// Subjects of messages another deliverer is sending right now.
    pub busy: Vec<String>,
}

/// The counts of a round, as `backproof outbox --retry` prints them (and the API sends).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// Where messages went ([`Mailer::describe`]).
    pub via: String,
    /// Whether that is email (not: files).
    pub emails: bool,
    pub sent: usize,
    pub written: usize,
    pub deferred: usize,
    pub rejected: usize,
    #[serde(default)]
    pub busy: usize,
    /// Webhook messages of the same round (`backproof outbox --retry` sends both).
    #[serde(default)]
    pub webhooks_sent: usize,
    #[serde(default)]
    pub webhooks_deferred: usize,
    #[serde(default)]
    pub webhooks_rejected: usize,
}

impl Round {
    pub fn counts(&self, mailer: &Mailer) -> Counts {
        Counts {
            via: mailer.describe(),
            emails: mailer.emails(),
            sent: self.sent.len(),
            written: self.written.len(),
            deferred: self.deferred.len(),
            rejected: self.rejected.len(),
            busy: self.busy.len(),
            webhooks_sent: 0,
            webhooks_deferred: 0,
            webhooks_rejected: 0,
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.emails {
            write!(f, "delivery via {}: {} sent", self.via, self.sent)?;
        } else {
            write!(
                f,
                "no [smtp] configured: {} written to {}",
                self.written, self.via
            )?;
        }
        write!(
            f,
            ", {} still queued, {} rejected",
            self.deferred, self.rejected
        )?;
        if self.busy > 0 {
            write!(
                f,
                ", {} being delivered by another delivery right now",
                self.busy
            )?;
        }
        if self.webhooks_sent + self.webhooks_deferred + self.webhooks_rejected > 0 {
            write!(
                f,
                "; webhooks: {} sent, {} still queued, {} rejected",
                self.webhooks_sent, self.webhooks_deferred, self.webhooks_rejected
            )?;
        }
        Ok(())
    }
}

/// A tag naming one delivery round in claims: process id and a random number.
fn deliverer() -> String {
    format!(
        "pid {} round {:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Tries every pending message that is due (or all pending ones with `force`), each
/// after claiming it. When the relay cannot be reached or stops answering, the round ends
/// there: the other messages stay queued untouched instead of each waiting for its own
/// deadline.
pub async fn deliver(
    catalog: &Catalog,
    mailer: &Mailer,
    force: bool,
) -> Result<Round, CatalogError> {
    let mut round = Round::default();
    let by = deliverer();
    let lease = Duration::from_std(mailer.deadline()).unwrap_or(Duration::hours(1)) + LEASE_MARGIN;
    let mut relay_down: Option<String> = None;
    // Only the messages waiting: delivered ones are not read (the outbox keeps them).
    for listed in catalog.pending_outbox()? {
        let now = Utc::now();
        if listed.delivery != Delivery::Pending || (!force && listed.next_attempt > now) {
            continue;
        }
        if let Some(why) = &relay_down {
            round
                .deferred
                .push((listed.subject, format!("not tried this round: {why}")));
            continue;
        }
        let Some(mut item) = catalog.claim_outbox(&listed.id, &by, now, lease, force)? else {
            if held_elsewhere(catalog, &listed.id, now)? {
                round.busy.push(listed.subject);
            }
            continue;
        };
        item.attempts += 1;
        let result = mailer
            .send(&item.from, &item.to, item.message.as_bytes())
            .await;
        let at = Utc::now();
        match result {
            Ok(Delivered::Sent { via }) => {
                item.delivery = Delivery::Sent { at };
                item.last_error = None;
                tracing::info!(subject = %item.subject, to = %item.to.join(", "), via = %via, "email sent");
                round.sent.push((item.subject.clone(), via));
            }
            Ok(Delivered::Written { file }) => {
                item.delivery = Delivery::Written {
                    at,
                    file: file.clone(),
                };
                item.last_error = None;
                tracing::info!(subject = %item.subject, file = %file, "message written to a file, not emailed (no [smtp] configured)");
                round.written.push((item.subject.clone(), file));
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
                if e.unreachable {
                    relay_down = Some(e.message.clone());
                }
                round.deferred.push((item.subject.clone(), e.message));
            }
        }
        if !catalog.settle_outbox(&item, &by)? {
            tracing::warn!(subject = %item.subject, "another delivery took this message over; its outcome is kept");
        }
        catalog.flush()?;
    }
    Ok(round)
}

/// Whether message `id` is still pending and held by another deliverer's live claim.
fn held_elsewhere(catalog: &Catalog, id: &str, now: DateTime<Utc>) -> Result<bool, CatalogError> {
    Ok(catalog
        .outbox_item(id)?
        .is_some_and(|i| i.delivery == Delivery::Pending && i.claim.is_some_and(|c| c.until > now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(catalog: &Catalog) -> OutboxItem {
        let sender = Sender {
            from: "backproof@msp.example".parse().unwrap(),
            reply_to: None,
        };
        let composed = Composed {
            subject: "s".into(),
            message_id: "<m@msp.example>".into(),
            to: vec!["noc@msp.example".into()],
            message: "Subject: s\r\n\r\nbody\r\n".into(),
        };
        let item = item(MailKind::Test, None, None, &sender, composed, Utc::now());
        catalog.put_outbox(&item).unwrap();
        item
    }

    #[test]
    fn one_claim_at_a_time_until_it_lapses() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let id = queued(&catalog).id;
        let now = Utc::now();
        let lease = Duration::minutes(2);
        let mine = catalog.claim_outbox(&id, "a", now, lease, false).unwrap();
        assert!(mine.is_some());
        assert!(
            catalog
                .claim_outbox(&id, "b", now, lease, true)
                .unwrap()
                .is_none(),
            "a live claim is not taken, even with force"
        );
        // After the lease (its holder died), another deliverer takes the message over...
        let later = now + lease + Duration::seconds(1);
        let theirs = catalog.claim_outbox(&id, "b", later, lease, false).unwrap();
        assert!(theirs.is_some());
        // ... and the first holder's late outcome is not written over it.
        let mut late = mine.unwrap();
        late.delivery = Delivery::Sent { at: later };
        assert!(!catalog.settle_outbox(&late, "a").unwrap());
        let mut done = theirs.unwrap();
        done.delivery = Delivery::Sent { at: later };
        assert!(catalog.settle_outbox(&done, "b").unwrap());
        let stored = catalog.outbox_item(&id).unwrap().unwrap();
        assert_eq!(stored.delivery, Delivery::Sent { at: later });
        assert!(stored.claim.is_none());
        assert!(
            catalog
                .claim_outbox(&id, "c", later, lease, true)
                .unwrap()
                .is_none(),
            "a sent message is never claimed again"
        );
    }

    #[test]
    fn claims_of_concurrent_tasks_go_to_exactly_one() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let id = queued(&catalog).id;
        let now = Utc::now();
        let winners: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|n| {
                    let (catalog, id) = (&catalog, &id);
                    s.spawn(move || {
                        catalog
                            .claim_outbox(id, &format!("t{n}"), now, Duration::minutes(1), true)
                            .unwrap()
                            .is_some() as usize
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(winners, 1);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(2), Duration::minutes(2));
        assert_eq!(backoff(4), Duration::minutes(8));
        assert_eq!(backoff(30), Duration::minutes(60));
    }
}

//! A page of the outbox for `backproof outbox`: the newest messages first (email, then
//! webhook messages), at most `limit` of each, optionally only those still to go, with
//! counts over the whole outbox so that an undelivered message is never hidden by the
//! page's limit.

use serde::{Deserialize, Serialize};

use crate::catalog::{Delivery, OutboxItem, WebhookItem};

/// Which messages to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxQuery {
    /// At most this many (the newest); `None`: all.
    pub limit: Option<usize>,
    /// Only messages still to go (queued or being sent).
    pub pending: bool,
}

/// Listed messages of one kind, newest first, and counts over all of that kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// Messages matching the query (the page shows `items.len()` of them).
    pub matching: usize,
    /// Messages of this kind.
    pub total: usize,
    /// Messages not delivered (queued, being sent or rejected), listed or not.
    pub undelivered: usize,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing {
            items: Vec::new(),
            matching: 0,
            total: 0,
            undelivered: 0,
        }
    }
}

/// The page: email messages and webhook messages, each listed as the query asks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutboxPage {
    pub mail: Listing<OutboxItem>,
    pub webhooks: Listing<WebhookItem>,
}

impl OutboxPage {
    /// Messages of either kind not delivered.
    pub fn undelivered(&self) -> usize {
        self.mail.undelivered + self.webhooks.undelivered
    }
}

/// Whether `item` reached its recipients (or its file, without SMTP).
pub fn delivered(item: &OutboxItem) -> bool {
    matches!(
        item.delivery,
        Delivery::Sent { .. } | Delivery::Written { .. }
    )
}

/// The page of `mail` and `webhooks` (oldest first, as the catalog keeps them) that
/// `query` asks for.
pub fn page(mail: Vec<OutboxItem>, webhooks: Vec<WebhookItem>, query: OutboxQuery) -> OutboxPage {
    OutboxPage {
        mail: listing(mail, query, delivered, |i| &i.delivery),
        webhooks: listing(
            webhooks,
            query,
            |i| matches!(i.delivery, Delivery::Sent { .. }),
            |i| &i.delivery,
        ),
    }
}

fn listing<T>(
    items: Vec<T>,
    query: OutboxQuery,
    delivered: impl Fn(&T) -> bool,
    delivery: impl Fn(&T) -> &Delivery,
) -> Listing<T> {
    let total = items.len();
    let undelivered = items.iter().filter(|i| !delivered(i)).count();
    let mut matching = 0;
    let mut shown = Vec::new();
    for item in items.into_iter().rev() {
        if query.pending && *delivery(&item) != Delivery::Pending {
            continue;
        }
        matching += 1;
        if query.limit.is_none_or(|l| shown.len() < l) {
            shown.push(item);
        }
    }
    Listing {
        items: shown,
        matching,
        total,
        undelivered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn item(n: usize, delivery: Delivery) -> OutboxItem {
        let sender = crate::mail::Sender {
            from: "backproof@msp.example".parse().unwrap(),
            reply_to: None,
        };
        let composed = crate::mail::compose::Composed {
            subject: format!("message {n}"),
            message_id: format!("<m{n}@msp.example>"),
            to: vec!["noc@msp.example".into()],
            message: String::new(),
        };
        let mut i = crate::mail::outbox::item(
            crate::catalog::MailKind::Test,
            None,
            None,
            &sender,
            composed,
            Utc::now(),
        );
        i.delivery = delivery;
        i
    }

    #[test]
    fn newest_first_limited_and_an_old_failure_still_counts() {
        let sent = || Delivery::Sent { at: Utc::now() };
        // Oldest first, as the catalog keeps them: an old rejection, 29 sent, 1 queued.
        let mut items = vec![item(
            0,
            Delivery::Rejected {
                at: Utc::now(),
                reason: "no such user".into(),
            },
        )];
        items.extend((1..30).map(|n| item(n, sent())));
        items.push(item(30, Delivery::Pending));

        let p = page(
            items.clone(),
            Vec::new(),
            OutboxQuery {
                limit: Some(20),
                pending: false,
            },
        )
        .mail;
        assert_eq!(p.items.len(), 20);
        assert_eq!(p.items[0].subject, "message 30", "newest first");
        assert_eq!((p.matching, p.total, p.undelivered), (31, 31, 2));

        let p = page(
            items.clone(),
            Vec::new(),
            OutboxQuery {
                limit: Some(20),
                pending: true,
            },
        )
        .mail;
        let subjects: Vec<&str> = p.items.iter().map(|i| i.subject.as_str()).collect();
        assert_eq!(subjects, ["message 30"]);
        assert_eq!(p.matching, 1);

        let p = page(
            items,
            Vec::new(),
            OutboxQuery {
                limit: None,
                pending: false,
            },
        )
        .mail;
        assert_eq!(p.items.len(), 31);
    }
}

//! A page of the outbox for `backproof outbox`: the newest messages first, at most
//! `limit`, optionally only those still to go, with counts over the whole outbox so that
//! an undelivered message is never hidden by the page's limit.

use serde::{Deserialize, Serialize};

use crate::catalog::{Delivery, OutboxItem};

/// Which messages to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxQuery {
    /// At most this many (the newest); `None`: all.
    pub limit: Option<usize>,
    /// Only messages still to go (queued or being sent).
    pub pending: bool,
}

/// The listed messages, newest first, and counts over the whole outbox.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutboxPage {
    pub items: Vec<OutboxItem>,
    /// Messages matching the query (the page shows `items.len()` of them).
    pub matching: usize,
    /// Messages in the outbox.
    pub total: usize,
    /// Messages not delivered (queued, being sent or rejected), listed or not.
    pub undelivered: usize,
}

/// Whether `item` reached its recipients (or its file, without SMTP).
pub fn delivered(item: &OutboxItem) -> bool {
    matches!(
        item.delivery,
        Delivery::Sent { .. } | Delivery::Written { .. }
    )
}

/// The page of `items` (oldest first, as the catalog keeps them) that `query` asks for.
pub fn page(items: Vec<OutboxItem>, query: OutboxQuery) -> OutboxPage {
    let total = items.len();
    let undelivered = items.iter().filter(|i| !delivered(i)).count();
    let mut matching = 0;
    let mut shown = Vec::new();
    for item in items.into_iter().rev() {
        if query.pending && item.delivery != Delivery::Pending {
            continue;
        }
        matching += 1;
        if query.limit.is_none_or(|l| shown.len() < l) {
            shown.push(item);
        }
    }
    OutboxPage {
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
            OutboxQuery {
                limit: Some(20),
                pending: false,
            },
        );
        assert_eq!(p.items.len(), 20);
        assert_eq!(p.items[0].subject, "message 30", "newest first");
        assert_eq!((p.matching, p.total, p.undelivered), (31, 31, 2));

        let p = page(
            items.clone(),
            OutboxQuery {
                limit: Some(20),
                pending: true,
            },
        );
        let subjects: Vec<&str> = p.items.iter().map(|i| i.subject.as_str()).collect();
        assert_eq!(subjects, ["message 30"]);
        assert_eq!(p.matching, 1);

        let p = page(
            items,
            OutboxQuery {
                limit: None,
                pending: false,
            },
        );
        assert_eq!(p.items.len(), 31);
    }
}

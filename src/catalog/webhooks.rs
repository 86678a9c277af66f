//! The webhook outbox: tree `webhooks`, id → [`WebhookItem`]. The same delivery rules as
//! the email outbox (one claim at a time with a lease, backoff, rejected after a
//! permanent failure), in its own tree so that webhooks and email never wait for each
//! other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Catalog, Claim, Delivery, Result, decode};

/// One event for one webhook, with the request body fixed when it was queued: every
/// attempt sends the same body with the same `webhook-id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookItem {
    pub v: u32,
    /// Key in the tree: sorts by creation time.
    pub id: String,
    /// The Standard Webhooks message id (`webhook-id`), stable across attempts.
    pub msg_id: String,
    /// The `[[webhooks]]` entry it goes to, by name.
    pub webhook: String,
    /// `problem.opened`...
    pub event: String,
    pub job: Option<String>,
    /// A line for logs and listings.
    pub summary: String,
    pub content_type: String,
    /// Extra request headers (ntfy's `Title`, `Priority`, `Tags`).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub created: DateTime<Utc>,
    pub delivery: Delivery,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub last_error: Option<String>,
    #[serde(default)]
    pub claim: Option<Claim>,
}

impl WebhookItem {
    fn claimable(&self, now: DateTime<Utc>) -> bool {
        self.delivery == Delivery::Pending
            && self.next_attempt <= now
            && self.claim.as_ref().is_none_or(|c| c.until <= now)
    }
}

impl Catalog {
    fn webhook_tree(&self) -> Result<sled::Tree> {
        self.db.open_tree("webhooks").map_err(|e| self.db_err(e))
    }

    /// Queues `item` unless a message with its `msg_id` is already queued or sent (the
    /// same event is queued once). Returns whether it was queued.
    pub fn queue_webhook(&self, item: &WebhookItem) -> Result<bool> {
        if self.webhooks()?.iter().any(|i| i.msg_id == item.msg_id) {
            return Ok(false);
        }
        let tree = self.webhook_tree()?;
        self.put(&tree, item.id.as_bytes().to_vec(), item)?;
        Ok(true)
    }

    /// Every webhook message, oldest first.
    pub fn webhooks(&self) -> Result<Vec<WebhookItem>> {
        let tree = self.webhook_tree()?;
        let mut items = Vec::new();
        for item in tree.iter() {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            items.push(decode(&k, &v)?);
        }
        Ok(items)
    }

    /// Takes message `id` for one attempt if it is pending, due and not held by a live
    /// claim (a compare-and-swap: of several deliverers exactly one gets it).
    pub fn claim_webhook(
        &self,
        id: &str,
        by: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<WebhookItem>> {
        let tree = self.webhook_tree()?;
        loop {
            let Some(current) = tree.get(id).map_err(|e| self.db_err(e))? else {
                return Ok(None);
            };
            let mut item: WebhookItem = decode(id.as_bytes(), &current)?;
            if !item.claimable(now) {
                return Ok(None);
            }
            item.claim = Some(Claim {
                by: by.to_string(),
                until: now + lease,
            });
            let new = super::encode(&item);
            let swapped = tree
                .compare_and_swap(id, Some(current), Some(new))
                .map_err(|e| self.db_err(e))?;
            if swapped.is_ok() {
                return Ok(Some(item));
            }
        }
    }

    /// Records the outcome of an attempt claimed by `by`; `false` (nothing written) if
    /// the claim lapsed and another deliverer took the message over.
    pub fn settle_webhook(&self, item: &WebhookItem, by: &str) -> Result<bool> {
        let tree = self.webhook_tree()?;
        let mut settled = item.clone();
        settled.claim = None;
        loop {
            let Some(current) = tree.get(&item.id).map_err(|e| self.db_err(e))? else {
                return Ok(false);
            };
            let stored: WebhookItem = decode(item.id.as_bytes(), &current)?;
            if stored.claim.as_ref().map(|c| c.by.as_str()) != Some(by) {
                return Ok(false);
            }
            let swapped = tree
                .compare_and_swap(&item.id, Some(current), Some(super::encode(&settled)))
                .map_err(|e| self.db_err(e))?;
            if swapped.is_ok() {
                return Ok(true);
            }
        }
    }

    /// Forgets delivered messages older than `keep` (rejected ones stay).
    pub fn prune_webhooks(&self, keep: chrono::Duration) -> Result<usize> {
        let cutoff = Utc::now() - keep;
        let tree = self.webhook_tree()?;
        let mut removed = 0;
        for item in self.webhooks()? {
            if matches!(item.delivery, Delivery::Sent { at } if at < cutoff) {
                tree.remove(item.id.as_bytes())
                    .map_err(|e| self.db_err(e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

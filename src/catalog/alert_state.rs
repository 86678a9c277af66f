//! Tree `alert_state`: `job \0 target \0 kind` → [`AlertState`], how far the follow-up of
//! an open problem went (reminders sent, escalation). A problem that closes and opens
//! again starts a new episode (its `opened_at` differs).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Catalog, Result, decode, key};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    pub v: u32,
    /// The `opened_at` of the problem episode this state is about.
    pub opened_at: DateTime<Utc>,
    pub reminders: u32,
    pub last_reminder_at: Option<DateTime<Utc>>,
    pub escalated_at: Option<DateTime<Utc>>,
    /// For a problem opened in a maintenance window: its alert went out at the window's end.
    #[serde(default)]
    pub released: bool,
}

impl Catalog {
    fn alert_tree(&self) -> Result<sled::Tree> {
        self.db.open_tree("alert_state").map_err(|e| self.db_err(e))
    }

    pub fn alert_state(&self, job: &str, target: &str, kind: &str) -> Result<Option<AlertState>> {
        let tree = self.alert_tree()?;
        self.get(&tree, &key(&[job, target, kind]))
    }

    pub fn put_alert_state(
        &self,
        job: &str,
        target: &str,
        kind: &str,
        s: &AlertState,
    ) -> Result<()> {
        let tree = self.alert_tree()?;
        self.put(&tree, key(&[job, target, kind]), s)
    }

    /// Forgets the states whose problem is no longer open (`open` says which are).
    pub fn sweep_alert_states(&self, open: &dyn Fn(&str, &str, &str) -> bool) -> Result<usize> {
        let tree = self.alert_tree()?;
        let mut removed = 0;
        for item in tree.iter() {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            let _: AlertState = decode(&k, &v)?;
            let parts: Vec<String> = k
                .split(|b| *b == super::SEP)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            if let [job, target, kind] = parts.as_slice()
                && !open(job, target, kind)
            {
                tree.remove(&k).map_err(|e| self.db_err(e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

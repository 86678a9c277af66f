//! Tree `problem_episodes`: `job \0 target \0 kind` → [`Episodes`], when a problem of that
//! kind last closed, to notice one that opens and closes again and again (flapping).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Catalog, Result, key};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Episodes {
    pub v: u32,
    /// When the problem closed, recent ones only.
    pub closed: Vec<DateTime<Utc>>,
    /// Since when it counts as flapping (reported once then).
    pub flapping_since: Option<DateTime<Utc>>,
}

impl Catalog {
    fn episode_tree(&self) -> Result<sled::Tree> {
        self.db
            .open_tree("problem_episodes")
            .map_err(|e| self.db_err(e))
    }

    pub fn episodes(&self, job: &str, target: &str, kind: &str) -> Result<Episodes> {
        let tree = self.episode_tree()?;
        Ok(self
            .get(&tree, &key(&[job, target, kind]))?
            .unwrap_or_default())
    }

    pub fn put_episodes(&self, job: &str, target: &str, kind: &str, e: &Episodes) -> Result<()> {
        let tree = self.episode_tree()?;
        self.put(&tree, key(&[job, target, kind]), e)
    }
}

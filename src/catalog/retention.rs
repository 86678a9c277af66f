//! Forgetting a job's oldest runs (retention) without breaking its evidence chain: the
//! runs go with their place in the job's history, and the job's [`ChainAnchor`] records
//! the last finished one pruned, the document the oldest remaining one seals.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Catalog, RECORD_SCHEMA, Result, encode, job_run_key, prefix};
use crate::evidence::{RunEvidence, RunStatus};

/// Where a job's evidence chain starts after retention pruned its oldest runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainAnchor {
    pub v: u32,
    /// The newest finished run pruned, and the BLAKE3 of its document as it was stored:
    /// the oldest remaining finished run seals it.
    pub run_id: Option<String>,
    pub hash: Option<String>,
    /// The newest run pruned (of any status): runs up to it are gone.
    pub through_run: String,
    pub through_started_at: DateTime<Utc>,
    /// Runs pruned so far.
    pub pruned_runs: u64,
    pub at: DateTime<Utc>,
}

impl Catalog {
    /// Where `job`'s evidence chain starts, if retention pruned any of its runs.
    pub fn chain_anchor(&self, job: &str) -> Result<Option<ChainAnchor>> {
        self.get(&self.anchors, job.as_bytes())
    }

    /// Up to `limit` of `job`'s oldest runs, oldest first.
    pub fn oldest_run_ids(&self, job: &str, limit: usize) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for item in self.job_runs.scan_prefix(prefix(&[job])).take(limit) {
            let (_, id) = item.map_err(|e| self.db_err(e))?;
            ids.push(String::from_utf8_lossy(&id).into_owned());
        }
        Ok(ids)
    }

    /// Forgets `runs` (`job`'s oldest, oldest first, with their documents as stored) in
    /// one transaction, and moves the job's chain anchor past them. Returns `false`, and
    /// changes nothing, if another pruning took some of them meanwhile (its anchor
    /// stands; the rest go next time).
    pub fn prune_runs(&self, job: &str, runs: &[(RunEvidence, Vec<u8>)]) -> Result<bool> {
        use sled::Transactional;
        use sled::transaction::ConflictableTransactionError;
        let Some((newest, _)) = runs.last() else {
            return Ok(true);
        };
        let last_finished = runs
            .iter()
            .rev()
            .find(|(ev, _)| ev.status == RunStatus::Finished)
            .map(|(ev, doc)| (ev.run_id.clone(), blake3::hash(doc).to_hex().to_string()));
        const TAKEN: &str = "pruned meanwhile";
        let done = (&self.runs, &self.job_runs, &self.running, &self.anchors).transaction(
            |(stored, job_runs, running, anchors)| {
                for (ev, _) in runs {
                    if stored.remove(ev.run_id.as_bytes())?.is_none() {
                        return Err(ConflictableTransactionError::Abort(TAKEN.to_string()));
                    }
                    job_runs.remove(job_run_key(ev))?;
                    running.remove(ev.run_id.as_bytes())?;
                }
                let before: Option<ChainAnchor> = anchors
                    .get(job.as_bytes())?
                    .and_then(|v| serde_json::from_slice(&v).ok());
                let (run_id, hash) = match (&last_finished, &before) {
                    (Some((id, hash)), _) => (Some(id.clone()), Some(hash.clone())),
                    (None, Some(a)) => (a.run_id.clone(), a.hash.clone()),
                    (None, None) => (None, None),
                };
                let anchor = ChainAnchor {
                    v: RECORD_SCHEMA,
                    run_id,
                    hash,
                    through_run: newest.run_id.clone(),
                    through_started_at: newest.started_at,
                    pruned_runs: before.map_or(0, |a| a.pruned_runs) + runs.len() as u64,
                    at: Utc::now(),
                };
                anchors.insert(job.as_bytes(), encode(&anchor))?;
                Ok(())
            },
        );
        match done {
            Ok(()) => Ok(true),
            Err(sled::transaction::TransactionError::Abort(m)) if m == TAKEN => Ok(false),
            Err(e) => Err(self.tx_err(e)),
        }
    }
}

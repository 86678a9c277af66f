//! The tamper-evident chain of a job's evidence documents.
//!
//! Every finished run's document names the job's previous finished run and carries the
//! BLAKE3 of that run's document as stored. Changing a stored document breaks the link
//! from its successor; removing one leaves its successor pointing at nothing. Every
//! document must also equal its evidence file (`<evidence_dir>/<job>/<run>.json`, the
//! bytes that were hashed and emailed), and every evidence file must belong to a
//! finished run: a changed, missing or unknown file is reported too, the newest one
//! included (it has no successor to seal it).
//!
//! The walk holds one document at a time, whatever the length of the history.
//!
//! Retention prunes a job's oldest runs (`crate::app::retention`) and records the hash of
//! the last finished document it pruned (the [`ChainAnchor`]): the oldest remaining
//! document must seal it, and the check says how many runs were pruned before it.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError, ChainAnchor};
use crate::evidence::RunStatus;

/// The outcome of checking a job's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    /// Finished runs' documents in the chain.
    pub documents: usize,
    /// The newest of them.
    pub head: Option<String>,
    /// Every link or file that does not hold, oldest run first; empty when intact.
    pub problems: Vec<ChainProblem>,
    /// The runs retention pruned before the chain's first document, if any.
    #[serde(default)]
    pub pruned: Option<Pruned>,
}

/// Runs retention pruned from the start of a job's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pruned {
    pub runs: u64,
    /// The newest run pruned: every run up to it is gone.
    pub through_run: String,
    /// The newest finished run pruned, and the BLAKE3 of its document: the chain's anchor.
    pub anchor_run: Option<String>,
    pub anchor_hash: Option<String>,
}

/// One link or file that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainProblem {
    /// The run whose document or file is wrong (for an unknown file, its name).
    pub run_id: String,
    pub reason: String,
}

impl ChainCheck {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The fields of an evidence document the chain needs.
#[derive(Deserialize)]
struct Link {
    status: RunStatus,
    #[serde(default)]
    previous_run: Option<String>,
    #[serde(default)]
    previous_hash: Option<String>,
}

/// Checks the chain of `job`; `evidence_dir` holds the evidence files. When retention
/// pruned runs during the walk, the walk starts again.
pub fn verify(
    catalog: &Catalog,
    job: &str,
    evidence_dir: &Path,
) -> Result<ChainCheck, CatalogError> {
    let mut tries = 0;
    loop {
        let anchor = catalog.chain_anchor(job)?;
        let check = walk(catalog, job, evidence_dir, anchor.as_ref())?;
        tries += 1;
        if tries >= 3 || catalog.chain_anchor(job)? == anchor {
            return Ok(check);
        }
    }
}

fn walk(
    catalog: &Catalog,
    job: &str,
    evidence_dir: &Path,
    anchor: Option<&ChainAnchor>,
) -> Result<ChainCheck, CatalogError> {
    let folder = evidence_dir.join(job);
    let mut problems = Vec::new();
    let mut problem = |run_id: &str, reason: String| {
        problems.push(ChainProblem {
            run_id: run_id.to_string(),
            reason,
        })
    };
    // Runs with an evidence file of their own (finished, or unreadable in the catalog).
    let mut with_file = HashSet::new();
    // The run before, and the BLAKE3 of its document as stored.
    let mut previous: Option<(String, String)> =
        anchor.and_then(|a| Some((a.run_id.clone()?, a.hash.clone()?)));
    let mut documents = 0;
    for id in catalog.run_ids_of_job(job)?.into_iter().rev() {
        let doc = match catalog.run_document(&id) {
            Ok(Some(doc)) => doc,
            Ok(None) => {
                problem(
                    &id,
                    "listed in the job's history but its document is missing".into(),
                );
                continue;
            }
            // A stored document that cannot be unpacked is a finding of its run: the runs
            // after it are still checked (the next one's seal cannot match it).
            Err(CatalogError::Corrupt { message, .. }) => {
                problem(
                    &id,
                    format!("the stored document cannot be read: {message}"),
                );
                documents += 1;
                with_file.insert(id.clone());
                previous = Some((id, "unreadable".into()));
                continue;
            }
            Err(e) => return Err(e),
        };
        let hash = blake3::hash(&doc).to_hex().to_string();
        let link = match serde_json::from_slice::<Link>(&doc) {
            Ok(link) if link.status != RunStatus::Finished => continue,
            Ok(link) => Some(link),
            Err(e) => {
                problem(
                    &id,
                    format!("the stored document is not valid evidence: {e}"),
                );
                None
            }
        };
        documents += 1;
        with_file.insert(id.clone());
        if let Some(link) = link
            && let Some(reason) = broken_seal(&link, previous.as_ref(), &id)
        {
            let (at, reason) = reason;
            problem(&at, reason);
        }
        if let Some(reason) = file_differs(&folder, &id, &doc, &hash) {
            problem(&id, reason);
        }
        previous = Some((id, hash));
    }
    // Files of runs pruned by retention that a stop left behind are not unknown.
    let pruned_through = anchor.map(|a| a.through_run.as_str());
    let (unknown, count) = unknown_files(&folder, &with_file, pruned_through);
    for name in &unknown {
        problem(
            name.trim_end_matches(".json"),
            format!(
                "the evidence file {} is not a finished run of the job in the catalog (a run removed from the catalog, or a file put there)",
                folder.join(name).display()
            ),
        );
    }
    if count > unknown.len() {
        problem(
            "...",
            format!(
                "{} more evidence files in {} are not in the catalog",
                count - unknown.len(),
                folder.display()
            ),
        );
    }
    let head = previous
        .map(|(id, _)| id)
        .filter(|id| anchor.is_none_or(|a| a.run_id.as_ref() != Some(id)));
    Ok(ChainCheck {
        documents,
        head,
        problems,
        pruned: anchor.map(|a| Pruned {
            runs: a.pruned_runs,
            through_run: a.through_run.clone(),
            anchor_run: a.run_id.clone(),
            anchor_hash: a.hash.clone(),
        }),
    })
}

/// Why `link` (run `id`) does not seal the run before it, and at which run the chain is
/// broken.
fn broken_seal(
    link: &Link,
    previous: Option<&(String, String)>,
    id: &str,
) -> Option<(String, String)> {
    let here = |reason: String| Some((id.to_string(), reason));
    match (previous, &link.previous_run, &link.previous_hash) {
        (None, None, None) => None,
        (_, None, Some(_)) => here("it has a hash but names no run".into()),
        (None, Some(named), _) => here(format!(
            "it seals run {named}, which is no longer in the catalog (removed?)"
        )),
        (Some((prev, _)), None, _) => here(format!("it does not seal the run before it, {prev}")),
        (Some((prev, _)), Some(named), _) if named != prev => here(format!(
            "it seals run {named}, but the run before it is {prev} (a run was removed or inserted)"
        )),
        (Some((prev, actual)), Some(_), sealed) if sealed.as_deref() != Some(actual.as_str()) => {
            Some((
                prev.clone(),
                format!(
                    "its document was changed after run {id} sealed it (sealed BLAKE3 {}, now {actual})",
                    sealed.as_deref().unwrap_or("none")
                ),
            ))
        }
        (Some(_), Some(_), _) => None,
    }
}

/// Why the evidence file of run `id` does not hold the catalog's document `doc`.
fn file_differs(folder: &Path, id: &str, doc: &[u8], hash: &str) -> Option<String> {
    let file = folder.join(format!("{id}.json"));
    match std::fs::read(&file) {
        Ok(bytes) if bytes == doc => None,
        Ok(bytes) => Some(format!(
            "its evidence file {} differs from the document in the catalog (BLAKE3 of the file {}, of the document {hash})",
            file.display(),
            blake3::hash(&bytes).to_hex()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("its evidence file {} is missing", file.display()))
        }
        Err(e) => Some(format!(
            "its evidence file {} cannot be read: {e}",
            file.display()
        )),
    }
}

/// How many evidence files unknown to the catalog are named one by one.
const SHOWN_UNKNOWN: usize = 20;

/// The first names (in order) of the `*.json` files in `folder` whose run is not in
/// `known` (nor pruned: run ids sort by time, up to `pruned_through`), and how many such
/// files there are in all.
fn unknown_files(
    folder: &Path,
    known: &HashSet<String>,
    pruned_through: Option<&str>,
) -> (Vec<String>, usize) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return (Vec::new(), 0);
    };
    let mut first = std::collections::BTreeSet::new();
    let mut count = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name
            .strip_suffix(".json")
            .is_some_and(|id| !known.contains(id) && pruned_through.is_none_or(|p| id > p))
        {
            count += 1;
            first.insert(name);
            if first.len() > SHOWN_UNKNOWN {
                first.pop_last();
            }
        }
    }
    (first.into_iter().collect(), count)
}

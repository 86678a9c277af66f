//! The tamper-evident chain of a job's evidence documents.
//!
//! Every finished run's document names the job's previous finished run and carries the
//! BLAKE3 of that run's document as stored. Changing a stored document breaks the link
//! from its successor; removing one leaves its successor pointing at nothing. The newest
//! document has no successor yet: it is compared with its evidence file instead.

use std::path::Path;

use crate::catalog::{Catalog, CatalogError};
use crate::evidence::{RunEvidence, RunStatus};

/// The outcome of checking a job's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainCheck {
    /// Every link holds; the number of documents in the chain.
    Intact {
        documents: usize,
        head: Option<String>,
    },
    /// The first link (oldest first) that does not hold.
    Broken { run_id: String, reason: String },
}

/// Checks the chain of `job`; `evidence_dir` holds the evidence files.
pub fn verify(
    catalog: &Catalog,
    job: &str,
    evidence_dir: &Path,
) -> Result<ChainCheck, CatalogError> {
    let mut finished: Vec<(RunEvidence, Vec<u8>)> = Vec::new();
    for id in catalog.run_ids_of_job(job)?.into_iter().rev() {
        let Some(doc) = catalog.run_document(&id)? else {
            return Ok(ChainCheck::Broken {
                run_id: id,
                reason: "listed in the job's history but its document is missing".into(),
            });
        };
        let ev: RunEvidence = match serde_json::from_slice(&doc) {
            Ok(ev) => ev,
            Err(e) => {
                return Ok(ChainCheck::Broken {
                    run_id: id,
                    reason: format!("the stored document is not valid evidence: {e}"),
                });
            }
        };
        if ev.status == RunStatus::Finished {
            finished.push((ev, doc));
        }
    }
    for (i, (ev, _)) in finished.iter().enumerate() {
        let expected = i.checked_sub(1).map(|p| &finished[p]);
        let broken = |reason: String| ChainCheck::Broken {
            run_id: ev.run_id.clone(),
            reason,
        };
        match (expected, &ev.previous_run, &ev.previous_hash) {
            (None, None, None) => {}
            (None, Some(prev), _) => {
                return Ok(broken(format!(
                    "it seals run {prev}, which is no longer in the catalog (removed?)"
                )));
            }
            (Some((prev, _)), None, _) => {
                return Ok(broken(format!(
                    "it does not seal the run before it, {}",
                    prev.run_id
                )));
            }
            (Some((prev, prev_doc)), Some(named), hash) => {
                if *named != prev.run_id {
                    return Ok(broken(format!(
                        "it seals run {named}, but the run before it is {} (a run was removed or inserted)",
                        prev.run_id
                    )));
                }
                let actual = blake3::hash(prev_doc).to_hex().to_string();
                if hash.as_deref() != Some(actual.as_str()) {
                    return Ok(ChainCheck::Broken {
                        run_id: prev.run_id.clone(),
                        reason: format!(
                            "its document was changed after run {} sealed it (sealed BLAKE3 {}, now {actual})",
                            ev.run_id,
                            hash.as_deref().unwrap_or("none")
                        ),
                    });
                }
            }
            (_, None, Some(_)) => return Ok(broken("it has a hash but names no run".into())),
        }
    }
    // The head has no successor: compare it with its evidence file.
    if let Some((head, doc)) = finished.last() {
        let file = evidence_dir.join(job).join(format!("{}.json", head.run_id));
        match std::fs::read(&file) {
            Ok(bytes) if bytes == *doc => {}
            Ok(_) => {
                return Ok(ChainCheck::Broken {
                    run_id: head.run_id.clone(),
                    reason: format!(
                        "the catalog's document differs from the evidence file {}",
                        file.display()
                    ),
                });
            }
            Err(e) => {
                return Ok(ChainCheck::Broken {
                    run_id: head.run_id.clone(),
                    reason: format!("its evidence file {} cannot be read: {e}", file.display()),
                });
            }
        }
    }
    Ok(ChainCheck::Intact {
        documents: finished.len(),
        head: finished.last().map(|(ev, _)| ev.run_id.clone()),
    })
}

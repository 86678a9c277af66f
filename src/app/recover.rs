//! Putting back finished runs the catalog lost, from their evidence files.

use anyhow::{Context, Result};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::evidence::RunEvidence;

/// Puts back finished runs the catalog lost (damage: a torn end of its log, a damaged
/// segment), from their evidence files, and notes the loss in the job's history. A loss
/// shows as the job's newest finished run (named beside its evidence files) missing or
/// unfinished in the catalog, or as a run left "running" whose evidence file is finished.
/// The newest run is looked up only when the job's summary names another: the summary is
/// written in the same transaction as the finished run, so it names it only if it is there.
pub(super) fn recover_lost_runs(config: &Config, catalog: &Catalog) -> Result<()> {
    use crate::evidence::RunStatus;
    let evidence = super::evidence_files::evidence_dir(&config.data_dir);
    let unfinished = catalog.unfinished()?;
    for job in &config.jobs {
        let dir = evidence.join(&job.name);
        let last = std::fs::read_to_string(dir.join(super::evidence_files::LAST_RUN_MARK)).ok();
        let lost_last = match last.as_deref().map(str::trim) {
            // The newest finished run the job's summary names is there, finished: no
            // document is read (every command starts here, for every job).
            Some(id) if newest_finished(catalog, &job.name)?.as_deref() == Some(id) => false,
            Some(id) => catalog
                .run(id)?
                .is_none_or(|ev| ev.status != RunStatus::Finished),
            None => false,
        };
        let stuck = unfinished
            .iter()
            .any(|ev| ev.job == job.name && dir.join(format!("{}.json", ev.run_id)).exists());
        if !lost_last && !stuck {
            continue;
        }
        let mut restored = Vec::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(doc) = serde_json::from_slice::<RunEvidence>(&bytes) else {
                continue;
            };
            let known = catalog.run(&doc.run_id)?;
            if doc.status == RunStatus::Finished
                && doc.job == job.name
                && known.is_none_or(|k| k.status != RunStatus::Finished)
            {
                restored.push((doc, bytes));
            }
        }
        if restored.is_empty() {
            continue;
        }
        restored.sort_by(|a, b| (a.0.started_at, &a.0.run_id).cmp(&(b.0.started_at, &b.0.run_id)));
        let ids: Vec<&str> = restored.iter().map(|(d, _)| d.run_id.as_str()).collect();
        let note = format!(
            "the catalog had lost the finished record of {} ({}), probably through damage to its database; they were put back from their evidence files in {}. What those runs changed in the catalog (the listing later runs compare with, baselines, open problems) may be lost",
            crate::format::plural(ids.len() as u64, "run"),
            ids.join(", "),
            dir.display()
        );
        tracing::error!(job = %job.name, "{note}");
        for (doc, bytes) in &restored {
            catalog.restore_run(doc, bytes)?;
        }
        // The problems the newest restored run left open stay open.
        if let Some((newest, _)) = restored.last()
            && catalog
                .last_finished_run(&job.name)?
                .is_some_and(|l| l.run_id == newest.run_id)
        {
            for t in &newest.targets {
                for p in &t.problems {
                    catalog.reopen_problem(&job.name, &t.name, p)?;
                }
            }
        }
        catalog.note(&job.name, &note)?;
        catalog.flush()?;
    }
    Ok(())
}

/// The id of `job`'s newest finished run, as its summary (written in the same transaction
/// as the run) names it.
fn newest_finished(catalog: &Catalog, job: &str) -> Result<Option<String>> {
    Ok(catalog.summary(job)?.and_then(|s| s.last).map(|l| l.run_id))
}

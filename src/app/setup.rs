//! Getting ready to work: loading the configuration, checking the folders, opening the
//! catalog (and cleaning up after processes that died), finding a job.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::catalog::{Catalog, LockRecord};
use crate::config::{self, Config, Job};
use crate::scratch::ScratchDir;

/// Loads the configuration; all its errors become one error listing each of them.
pub fn load(path: &Path) -> Result<Config> {
    config::load(path).map_err(|errors| anyhow!("{}", errors.to_string().trim_end()))
}

/// The job named `name`, or an error listing the jobs there are.
pub fn find_job<'a>(config: &'a Config, name: &str) -> Result<&'a Job> {
    config.job(name).ok_or_else(|| {
        let known: Vec<&str> = config.jobs.iter().map(|j| j.name.as_str()).collect();
        anyhow!(
            "no job named `{name}` in {} (jobs: {})",
            config.jobs_dir.display(),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )
    })
}

/// The file holding the daemon's API token, beside the catalog.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("api.token")
}

/// The command line as the user typed it, for "run it as that user" hints.
pub fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Refuses to write in `data_dir` or `scratch_dir` when this user cannot, or should not
/// (root in another user's folder): the error says what to do instead.
pub fn ensure_folders(config: &Config) -> Result<()> {
    let problems = config::check_folders(config, &command_line());
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    bail!(
        "refusing to write in the data folders:\n  {}",
        list.join("\n  ")
    )
}

/// How long automatic compaction waits after a copy that failed. Each try reads the
/// whole catalog, and one that failed (for want of disk space, say) would fail again at
/// every run's end and daemon start. `backproof compact` still compacts at once.
const AFTER_FAILED_COMPACTION: chrono::Duration = chrono::Duration::hours(24);

/// Removes inventory chunk files no index names, and compacts the catalog when its file
/// has grown well past what it holds (see `catalog::compact`), if this is its only
/// handle in the process. A copy that fails leaves the catalog as it was (logged), and
/// the next try waits [`AFTER_FAILED_COMPACTION`] from `now`; a failure after the swap is
/// an error. `starting` is called first when it compacts (the daemon tells systemd to
/// wait).
pub fn compact_if_needed(
    catalog: Catalog,
    now: chrono::DateTime<chrono::Utc>,
    starting: impl FnOnce(),
) -> Result<Catalog> {
    if !catalog.is_sole_handle() {
        return Ok(catalog);
    }
    // Inventory chunk files no index names (a crash while a listing wrote them) go at
    // the same quiet moment.
    match catalog.sweep_inventory() {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, "removed inventory chunk files no index named"),
        Err(e) => tracing::warn!(error = %e, "could not sweep the inventory's chunk files"),
    }
    if let Ok(Some(failed)) = catalog.compaction_failed()
        && now < failed + AFTER_FAILED_COMPACTION
    {
        return Ok(catalog);
    }
    match catalog.compaction_due() {
        Ok(true) => {}
        Ok(false) => return Ok(catalog),
        Err(e) => {
            tracing::warn!(error = %e, "could not size the catalog; not compacted");
            return Ok(catalog);
        }
    }
    tracing::info!("compacting the catalog (its file has grown well past what it holds)");
    starting();
    let copy = match catalog.prepare_compaction() {
        Ok(copy) => copy,
        Err(e) => {
            let next = match catalog.set_compaction_failed(Some(now)) {
                Ok(()) => "the next automatic try waits a day",
                Err(_) => "it is tried again next time",
            };
            tracing::warn!(
                error = %e,
                "catalog compaction failed; the catalog is unchanged and {next} (or run backproof compact)"
            );
            return Ok(catalog);
        }
    };
    let done = copy.stats;
    let catalog = catalog
        .swap_in(copy)
        .context("opening the catalog after compacting it")?;
    if let Err(e) = catalog.set_compaction_failed(None) {
        tracing::warn!(error = %e, "could not clear the note of an earlier failed compaction");
    }
    tracing::info!(
        bytes_before = done.bytes_before,
        bytes_after = done.bytes_after,
        records = done.records,
        took_ms = done.took.as_millis() as u64,
        "catalog compacted"
    );
    Ok(catalog)
}

/// Opens the catalog and cleans up after runs that died (crash, `kill -9`): we hold the
/// lock, so any run still marked running is an orphan, and so is any scratch folder of
/// this installation. A run whose finished record the catalog lost (damage at the end of
/// its log) is put back from its evidence file, and the loss is noted in its history.
pub fn open_catalog(config: &Config) -> Result<Catalog> {
    open_catalog_as(config, &LockRecord::command())
}

/// [`open_catalog`] with `me` in the lock record (the daemon names its API there).
pub fn open_catalog_as(config: &Config, me: &LockRecord) -> Result<Catalog> {
    ensure_folders(config)?;
    let catalog = Catalog::open_as(&config.data_dir, me)?;
    super::recover::recover_lost_runs(config, &catalog)?;
    for id in catalog.interrupt_unfinished()? {
        tracing::warn!(run_id = %id, "run did not finish (process stopped); recorded as interrupted");
    }
    super::runs::queue_pending_alerts(config, &catalog)?;
    let swept =
        ScratchDir::sweep_orphans(&config.scratch_dir, catalog.installation(), |_| false)
            .with_context(|| format!("cleaning scratch folder {}", config.scratch_dir.display()))?;
    if swept > 0 {
        tracing::warn!(count = swept, "removed scratch folders of interrupted runs");
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy that fails is not made again at the next run's end or daemon start, but a
    /// day later: each try reads the whole catalog, and one that failed for want of space
    /// fails again.
    #[test]
    fn a_failed_compaction_is_tried_again_a_day_later() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let db = dir.path().join("catalog/db");
        let grow_to = |bytes: u64| {
            let f = std::fs::File::options().write(true).open(&db).unwrap();
            f.set_len(bytes).unwrap();
        };
        grow_to(100 << 20);
        assert!(
            !catalog.compaction_due().unwrap(),
            "the first size is the base"
        );
        grow_to(201 << 20);
        // What stands where the copy goes cannot be cleared: the copy fails.
        std::fs::write(dir.path().join("catalog.compact"), b"in the way").unwrap();
        let now = chrono::Utc::now();
        let tries = std::cell::Cell::new(0);
        let mut catalog = compact_if_needed(catalog, now, || tries.set(tries.get() + 1)).unwrap();
        assert_eq!(tries.get(), 1);
        for later in [chrono::Duration::minutes(1), chrono::Duration::hours(23)] {
            catalog =
                compact_if_needed(catalog, now + later, || tries.set(tries.get() + 1)).unwrap();
            assert_eq!(tries.get(), 1, "tried again {later} later");
        }
        std::fs::remove_file(dir.path().join("catalog.compact")).unwrap();
        let next_day = now + chrono::Duration::hours(25);
        let catalog = compact_if_needed(catalog, next_day, || tries.set(tries.get() + 1)).unwrap();
        assert_eq!(tries.get(), 2, "tried again the next day");
        assert_eq!(catalog.compaction_failed().unwrap(), None, "it worked");
    }
}

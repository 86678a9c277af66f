//! Where evidence documents are written as files, beside the catalog:
//! `<data_dir>/evidence/<job>/<run id>.json`, and in each job's folder a mark naming its
//! newest finished run.

use std::path::{Path, PathBuf};

/// The file in a job's evidence folder naming its newest finished run.
pub const LAST_RUN_MARK: &str = ".last-finished";

/// The folder holding every job's evidence files.
pub fn evidence_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("evidence")
}

/// Where the evidence file of a run is written.
pub fn evidence_path(data_dir: &Path, job: &str, run_id: &str) -> PathBuf {
    evidence_dir(data_dir)
        .join(job)
        .join(format!("{run_id}.json"))
}

/// Writes `bytes` to `path` through a temporary file and a rename, creating folders.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

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

/// Finds the evidence file of run `run_id` in any job's folder, and reads it.
pub fn find(
    data_dir: &Path,
    run_id: &str,
) -> anyhow::Result<(crate::evidence::RunEvidence, PathBuf)> {
    use anyhow::{Context, bail};
    if !run_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        bail!("`{run_id}` is not a run id");
    }
    let dir = evidence_dir(data_dir);
    for job in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = job?.path().join(format!("{run_id}.json"));
        if path.is_file() {
            let bytes = std::fs::read(&path)?;
            let ev = serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            return Ok((ev, path));
        }
    }
    bail!(
        "no evidence file for run `{run_id}` under {}",
        dir.display()
    )
}

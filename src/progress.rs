//! Live progress of a run, for `backproof run` progress bars and the API.
//!
//! The verifier updates a shared [`Progress`]; readers take [`ProgressState`] snapshots.
//! Bytes restored are counted with an atomic as chunks stream by.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::evidence::Verdict;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Waiting for a free slot (`max_concurrent_runs`).
    Queued,
    Running,
    Finished,
    Interrupted,
}

/// A snapshot of a run's progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProgressState {
    pub run_id: String,
    pub job: String,
    pub state: RunState,
    /// The target being verified.
    pub target: Option<String>,
    /// `listing`, `restoring`, or `done` for the current target.
    pub phase: Option<String>,
    /// Files listed so far on the current target.
    pub listed: u64,
    pub files_total: u64,
    pub files_done: u64,
    pub bytes_total: u64,
    pub bytes_done: u64,
    pub current_file: Option<String>,
    pub verdict: Option<Verdict>,
    pub exit_code: Option<u8>,
}

/// Shared, updatable progress of one run.
#[derive(Debug)]
pub struct Progress {
    state: Mutex<ProgressState>,
    bytes: AtomicU64,
}

impl Progress {
    pub fn new(run_id: &str, job: &str) -> Progress {
        Progress {
            state: Mutex::new(ProgressState {
                run_id: run_id.into(),
                job: job.into(),
                state: RunState::Queued,
                target: None,
                phase: None,
                listed: 0,
                files_total: 0,
                files_done: 0,
                bytes_total: 0,
                bytes_done: 0,
                current_file: None,
                verdict: None,
                exit_code: None,
            }),
            bytes: AtomicU64::new(0),
        }
    }

    pub fn snapshot(&self) -> ProgressState {
        let mut s = self.state.lock().expect("progress lock").clone();
        s.bytes_done = self.bytes.load(Ordering::Relaxed);
        s
    }

    pub fn update(&self, f: impl FnOnce(&mut ProgressState)) {
        f(&mut self.state.lock().expect("progress lock"));
    }

    /// Counts restored bytes as they stream.
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub fn finish(&self, state: RunState, verdict: Option<Verdict>) {
        self.update(|s| {
            s.state = state;
            s.phase = Some("done".into());
            s.current_file = None;
            s.verdict = verdict;
            s.exit_code = Some(match (state, verdict) {
                (RunState::Finished, Some(v)) => v.exit_code(),
                _ => 2,
            });
        });
    }
}

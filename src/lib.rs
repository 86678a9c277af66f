//! backproof: proves that backups can be restored.
//!
//! A map of the components, in the order data flows through them:
//!
//! - [`config`]: the global `backproof.toml` and one job file per client in `jobs.d/`.
//!   Raw serde structs are parsed strictly (unknown keys are errors) and turned into
//!   validated types; every error names the file, line and key, and never shows a
//!   secret. It also checks that this user may write in `data_dir` and `scratch_dir`.
//! - [`target`]: the one small [`target::Target`] trait (list, stat, streaming read) and
//!   one module per backend. The checks never know which backend they talk to.
//! - [`catalog`]: the sled database under `data_dir`: runs, per-file records (baseline
//!   hash and coverage ledger), the last inventory of each target, and the process lock.
//! - [`verify`]: one run of one job. Per target: inventory, freshness, drift, sampling,
//!   test restore into a scratch folder with BLAKE3, comparison against the baseline,
//!   and the deeper checks a target asks for (canaries, manifests, restic repositories,
//!   validation of restored files, ransomware signs, the source spot check, the egress
//!   budget). A finding (a corrupt file) is data in the evidence; an `Err` means "could
//!   not verify". Findings are ranked by severity, and a proven problem stays open
//!   across runs until the evidence shows it fixed or a technician acknowledges it.
//! - [`progress`]: live progress of a run (progress bars, the API).
//! - [`evidence`]: the JSON evidence document a run produces, and the [`evidence::Verdict`].
//! - [`report`]: printers that turn evidence into words: terminal text, the run report
//!   email (text and HTML) and the weekly owner summary.
//! - [`mail`]: who is emailed, composing messages, the durable outbox in the catalog and
//!   delivery over SMTP (or to `.eml` files).
//! - [`hooks`]: dead-man's switch pings of runs and the daemon's heartbeat.
//! - [`chain`]: the tamper-evident chain of a job's evidence documents.
//! - [`ack`]: acknowledging open problems (who, when, why, until when).
//! - [`alerts`]: reminders and escalation of open problems (on the daemon's clock).
//! - [`status`]: every client at a glance (`backproof status`).
//! - [`scratch`]: per-run scratch folders and the mapping of untrusted object names to
//!   safe file names inside them.
//! - [`daemon`]: `backproof daemon`: scheduler, run manager, local HTTP API, outbox worker.
//! - [`cli`]: the command line (`run`, `show`, `history`, `status`, `check-config`,
//!   `digest`, `outbox`, `verify-evidence`, `daemon`, `demo`, `check`); talks to the daemon's API
//!   when the daemon holds the catalog.
//!
//! `main.rs` only calls [`cli::main`].

pub mod ack;
pub mod alerts;
pub mod catalog;
pub mod chain;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod evidence;
pub mod hooks;
pub mod mail;
pub mod progress;
pub mod report;
pub mod scratch;
pub mod status;
pub mod target;
pub mod verify;

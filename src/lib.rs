//! backproof: proves that backups can be restored.
//!
//! A map of the components, in the order data flows through them. Each layer imports only
//! the layers before it (`tests/architecture.rs` checks it):
//!
//! ```text
//! config → storage → verify (checks) → evidence → catalog/outbox → report → mail
//!                          app: the run service, every query and command
//!                          cli, daemon: the edges
//! ```
//!
//! - [`config`]: the global `backproof.toml` and one job file per client in `jobs.d/`.
//!   Raw serde structs are parsed strictly (unknown keys are errors) and turned into
//!   validated types; every error names the file, line and key, and never shows a
//!   secret. It also checks that this user may write in `data_dir` and `scratch_dir`.
//!   It imports nothing of the crate.
//! - [`storage`]: the storage backends: the one small [`storage::Target`] trait (list,
//!   stat, streaming read) and one module per backend. The checks never know which
//!   backend they talk to. Imports only config.
//! - [`verify`]: one run of one job. Per target: inventory, freshness, drift, sampling,
//!   test restore into a scratch folder with BLAKE3, comparison against the baseline,
//!   and the deeper checks a target asks for (canaries, manifests, restic repositories,
//!   validation of restored files, ransomware signs, the source spot check, the egress
//!   budget), one file each in `verify::checks`. A finding (a corrupt file) is data in
//!   the evidence; an `Err` means "could not verify". Findings are ranked by severity,
//!   and a proven problem stays open across runs until the evidence shows it fixed or a
//!   technician acknowledges it. A run returns sealed evidence; it knows nothing of
//!   mail or printers.
//! - [`evidence`]: the complete JSON evidence document a run produces, and the
//!   [`evidence::Verdict`]: plain data, the facts every printer reads. With [`format`]
//!   (sizes, durations, percentages, short hashes) and [`config`] it is the ground floor.
//! - [`catalog`]: the sled database under `data_dir`: runs, per-file records (baseline
//!   hash and coverage ledger), the last inventory of each target, the outbox, and the
//!   process lock with its holder's record (a daemon names its API there).
//! - [`progress`]: live progress of a run (progress bars, the API).
//! - [`scratch`]: per-run scratch folders and the mapping of untrusted object names to
//!   safe file names inside them.
//! - [`chain`]: the tamper-evident chain of a job's evidence documents.
//! - [`ack`]: acknowledging open problems (who, when, why, until when).
//! - [`status`]: every client at a glance (`backproof status`).
//! - [`report`]: printers that turn evidence into words: terminal text, the run report
//!   email (text and HTML) and the weekly owner summary.
//! - [`mail`]: who is emailed, composing messages, the durable outbox in the catalog and
//!   delivery over SMTP (or to `.eml` files).
//! - [`hooks`]: dead-man's switch pings of runs and the daemon's heartbeat, and signed
//!   webhooks (generic, Slack, Teams, ntfy) through their own durable outbox.
//! - [`alerts`]: the life of an alerted problem: reminders, escalation, closing notices,
//!   flapping, maintenance windows, PSA threading (reminders run on the daemon's clock).
//! - [`app`]: the application layer, written once for the command line and the daemon:
//!   loading the configuration, opening the catalog, evidence files, the run service
//!   (verify, queue the report, record both in one transaction), and every query and
//!   command behind one trait, [`app::Service`], local (the catalog) or remote (the
//!   daemon's API).
//! - [`daemon`]: `backproof daemon`: scheduler, run manager, local HTTP API (its handlers
//!   call [`app::Local`]), outbox worker.
//! - [`web`]: the pages technicians open in a browser (fleet, client, run) and
//!   `/metrics` for Prometheus, served by the daemon; they call [`app::Service`] only.
//! - [`cli`]: the command line (`run`, `show`, `history`, `status`, `check-config`,
//!   `digest`, `outbox`, `verify-evidence`, `ack`, `check`, `daemon`, `demo`, `user`); goes through the
//!   daemon's API when the lock record says a daemon holds the catalog.
//!
//! `main.rs` only calls [`cli::main`].

pub mod ack;
pub mod alerts;
pub mod app;
pub mod catalog;
pub mod chain;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod evidence;
pub(crate) mod format;
pub mod hooks;
pub mod mail;
pub mod progress;
pub mod report;
pub mod scratch;
pub mod status;
pub mod storage;
pub mod verify;
pub mod web;

//! The evidence document of a run: what was checked, how, and what was found.
//!
//! Evidence is the ground floor: plain data that imports nothing of the crate. The checks
//! in [`crate::verify`] fill it in, the printers in [`crate::report`] turn it into words,
//! the catalog stores it as JSON. Every type a report shows is here. Its `schema` number
//! changes whenever a field changes meaning.
//!
//! - [`verdict`]: [`Verdict`], [`RunStatus`], [`Trigger`];
//! - [`run`]: the document of one run ([`RunEvidence`]) and its egress;
//! - [`target`]: what one target showed (checks, listing, drift, coverage, restores);
//! - `file`: one sampled file and its proofs (manifest, validation, source);
//! - [`problem`]: findings, open and closed problems, acknowledgements;
//! - [`keyed`]: a restic repository checked with its password.

pub mod file;
pub mod keyed;
pub mod problem;
pub mod run;
pub mod target;
pub mod verdict;

pub use file::{
    Algorithm, Expectation, ManifestMatch, PickReason, ReadBack, SampledFile, SourceComparison,
    Validation,
};
pub use keyed::{KeyedRepository, PackSize, RestoredFile, SnapshotRef};
pub use problem::{Acknowledgement, ClosedProblem, Finding, OpenProblem, ProblemKind};
pub use run::{Egress, MaintenanceWindow, RunEvidence};
pub use target::{
    Changed, CheckKind, CheckResult, Coverage, Drift, FileRef, Inventory, Resized, RestoreSummary,
    SkippedEntry, TargetEvidence,
};
pub use verdict::{RunStatus, Trigger, Verdict};

/// Version of the evidence document layout.
/// 2: findings ranked by severity, open and closed problems, retention-aware drift.
pub const EVIDENCE_SCHEMA: u32 = 2;

/// Serde: leave a zero count out of the document.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

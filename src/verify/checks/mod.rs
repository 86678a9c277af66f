//! The checks of one target, one file each, all of one shape: facts in (the listing, the
//! restored files, the policy), a [`CheckResult`] out: a kind, a verdict and a short
//! reason built from the facts. The evidence keeps the facts themselves as fields; the
//! printers in [`crate::report`] turn them into sentences. Which file decides what:
//!
//! - [`access`]: the target could be opened and listed;
//! - [`inventory`]: what the listing found, and what it left out;
//! - [`freshness`]: the newest backup is recent enough;
//! - [`drift`]: what changed since the last finished listing;
//! - [`coverage`]: how much of the target has been verified, ever and in 30 days;
//! - [`restore`]: the sampled files restored and verified;
//! - [`canary`]: the configured canaries are present and intact;
//! - [`manifest`]: the target's checksum manifests against the restored files;
//! - [`repository`]: a restic repository's structure, without its password;
//! - [`ransomware`]: signs of encryption in place;
//! - [`source`]: the restored files against the live data;
//! - [`budget`]: the egress budget: what a run may still read, and what it left out.

pub mod access;
pub mod budget;
pub mod canary;
pub mod coverage;
pub mod drift;
pub mod freshness;
pub mod inventory;
pub mod manifest;
pub mod ransomware;
pub mod repository;
pub mod restore;
pub mod source;

use crate::evidence::{CheckKind, CheckResult, Verdict};

/// The one shape of a check's result.
pub fn check(check: CheckKind, verdict: Verdict, reason: impl Into<String>) -> CheckResult {
    CheckResult {
        check,
        verdict,
        reason: reason.into(),
    }
}

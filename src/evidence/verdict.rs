//! Verdicts, and where a run is in its life.

use serde::{Deserialize, Serialize};

/// Outcome of a check, a target or a whole run, from best to worst.
///
/// `Error` means "could not verify" (the target could not be reached or read). `Fail`
/// means "verified, and found a problem" (corruption, stale backups, files gone). A proven
/// problem ranks above a missing proof, so a run with both reports `fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Error,
    Fail,
}

impl Verdict {
    /// Exit code of `backproof run` for this verdict: 0 verified, 1 failed, 2 not verified.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass | Verdict::Warn => 0,
            Verdict::Fail => 1,
            Verdict::Error => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Error => "ERROR",
            Verdict::Fail => "FAIL",
        }
    }

    /// The worst of a set of verdicts, or `None` if there are none.
    pub fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Option<Verdict> {
        verdicts.into_iter().max()
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Where a run is in its life. Only `finished` runs carry a verdict that counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Finished,
    /// Stopped before it finished (Ctrl-C, shutdown, crash). Never a pass.
    Interrupted,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Manual,
    Schedule,
    Demo,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Demo => "demo",
        })
    }
}

//! Signs of ransomware in one run: many sampled files changed at once, or files whose
//! content turned to near-random bytes while their names stayed (what encryption in
//! place looks like). Judged against each file's baseline, so formats that are random
//! anyway (compressed, encrypted backups) do not raise it.

use crate::config::{OnRansomware, Policy};
use crate::evidence::{CheckKind, CheckResult, Expectation, SampledFile, Verdict};
use crate::format::shown;

/// Entropy (bits per byte) above which content looks encrypted or random.
const RANDOM: f32 = 7.5;
/// Entropy below which a baseline was plainly compressible.
const COMPRESSIBLE: f32 = 6.0;
/// Fewer files with a baseline than this say nothing about a share.
const MIN_FILES: usize = 4;

pub fn check(files: &[SampledFile], policy: &Policy) -> Option<CheckResult> {
    let on_signs = match policy.ransomware? {
        OnRansomware::Warn => Verdict::Warn,
        OnRansomware::Fail => Verdict::Fail,
    };
    let known: Vec<&SampledFile> = files
        .iter()
        .filter(|f| {
            matches!(
                f.expected,
                Expectation::Baseline { .. } | Expectation::NewVersion { .. }
            )
        })
        .collect();
    let turned_random: Vec<&&SampledFile> = known
        .iter()
        .filter(|f| {
            matches!((f.previous_entropy, f.entropy), (Some(before), Some(now)) if before < COMPRESSIBLE && now >= RANDOM)
        })
        .collect();
    let changed = known
        .iter()
        .filter(|f| {
            matches!(f.expected, Expectation::NewVersion { .. }) || f.verdict == Verdict::Fail
        })
        .count();
    let mut signs = Vec::new();
    if !turned_random.is_empty() {
        let names: Vec<String> = turned_random
            .iter()
            .take(10)
            .map(|f| {
                format!(
                    "{} ({:.1} -> {:.1} bits/byte)",
                    shown(&f.path),
                    f.previous_entropy.unwrap_or_default(),
                    f.entropy.unwrap_or_default()
                )
            })
            .collect();
        signs.push(format!(
            "{} turned to near-random bytes under the old names: {}",
            crate::format::plural(turned_random.len() as u64, "file"),
            names.join(", ")
        ));
    }
    let share = if known.len() >= MIN_FILES {
        changed as f64 * 100.0 / known.len() as f64
    } else {
        0.0
    };
    if share > policy.ransomware_changed_percent {
        signs.push(format!(
            "{changed} of {} sampled files seen before changed since ({share:.0}%, more than {}%)",
            known.len(),
            policy.ransomware_changed_percent
        ));
    }
    Some(CheckResult {
        check: CheckKind::Ransomware,
        verdict: if signs.is_empty() {
            Verdict::Pass
        } else {
            on_signs
        },
        reason: if signs.is_empty() {
            format!(
                "no sign: {changed} of {} sampled files seen before changed, none turned random",
                known.len()
            )
        } else {
            signs.join("; ")
        },
    })
}

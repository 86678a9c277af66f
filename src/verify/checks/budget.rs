//! The egress budget: how many bytes a job's runs may read from its targets, per run and
//! per week. A run starts with what the week left ([`week_used`]), each target samples
//! within what the run has left ([`sampler`], [`keyed_bytes`]), and a restore check that
//! the budget cut short says so ([`note`]).

use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, CatalogError};
use crate::format::{human_bytes, shown};
use crate::storage::Entry;
use crate::verify::sample::Sampler;

/// Bytes read by the job's runs started since `since`.
pub fn week_used(catalog: &Catalog, job: &str, since: DateTime<Utc>) -> Result<u64, CatalogError> {
    let mut total = 0;
    for id in catalog.newest_run_ids(job) {
        let Some(ev) = catalog.run(&id?)? else {
            continue;
        };
        if ev.started_at < since {
            break;
        }
        total += ev.egress.read_bytes;
    }
    Ok(total)
}

/// The sample of a target: the policy's limits, within the egress `allowance` left.
pub fn sampler(seed: u64, files: u64, bytes: u64, allowance: Option<u64>) -> Sampler {
    let s = Sampler::new(seed, files, bytes);
    match allowance {
        Some(a) => s.with_cap(a),
        None => s,
    }
}

/// What keyed mode may read after the target's restores read `read_so_far`.
pub fn keyed_bytes(sample_bytes: u64, allowance: Option<u64>, read_so_far: u64) -> u64 {
    match allowance {
        Some(left) => sample_bytes.min(left.saturating_sub(read_so_far)),
        None => sample_bytes,
    }
}

/// Why the restore check is not a full pass because of the budget: the newest file did
/// not fit in what was left, or nothing was left.
pub fn note(
    allowance: Option<u64>,
    newest_over_cap: Option<&Entry>,
    nothing_restored: bool,
) -> Option<String> {
    match (allowance, newest_over_cap) {
        (Some(left), Some(n)) => Some(format!(
            "the egress budget left ({}) is smaller than the newest file {} ({}), which was not restored",
            human_bytes(left),
            shown(&n.path),
            human_bytes(n.size)
        )),
        (Some(0), None) if nothing_restored => Some("the egress budget is used up".into()),
        _ => None,
    }
}

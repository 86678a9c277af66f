//! Reading a target's checksum manifests: every entry must name a file that exists, and
//! the sampled files they list get an expected checksum (checked during their restore).

use std::collections::{HashMap, HashSet};

use futures::StreamExt;

use crate::catalog::{Catalog, CatalogError};
use crate::evidence::{CheckKind, CheckResult, ManifestMatch, SampledFile, Verdict};
use crate::format::shown;
use crate::storage::Target;

use crate::evidence::Algorithm;
use crate::verify::inventory::Listed;
use crate::verify::manifest;

/// A manifest is read into memory: larger ones are refused.
const MAX_MANIFEST_BYTES: usize = 64 << 20;

/// What the manifests say before the restores.
#[derive(Debug, Default)]
pub struct Plan {
    /// Expected checksums of sampled files, by path.
    pub expected: HashMap<String, ManifestMatch>,
    manifests: usize,
    entries: u64,
    /// (verdict, problem) found while reading.
    problems: Vec<(Verdict, String)>,
    missing: u64,
}

/// Reads every manifest of the listing. `sampled` are the paths about to be restored.
pub async fn read(
    target: &dyn Target,
    catalog: &Catalog,
    (job, tname): (&str, &str),
    listed: &Listed,
    sampled: &HashSet<String>,
) -> Result<Plan, CatalogError> {
    let mut plan = Plan {
        manifests: listed.manifests.len(),
        ..Plan::default()
    };
    if listed.manifests_left_out > 0 {
        plan.problems.push((
            Verdict::Warn,
            format!(
                "{} more manifests were not read (at most {} per run)",
                listed.manifests_left_out,
                listed.manifests.len()
            ),
        ));
    }
    let mut inventory = catalog.inventory_lookup(job, tname)?;
    for m in &listed.manifests {
        let Some(alg) = manifest::algorithm_of(&m.path) else {
            plan.problems.push((
                Verdict::Error,
                format!(
                    "cannot tell the algorithm of manifest {} from its name (name it SHA256SUMS, MD5SUMS, B3SUMS or *.sha256, *.md5, *.b3)",
                    shown(&m.path)
                ),
            ));
            continue;
        };
        let text = match fetch(target, &m.path).await {
            Ok(t) => t,
            Err(e) => {
                plan.problems
                    .push((Verdict::Error, format!("manifest {}: {e}", shown(&m.path))));
                continue;
            }
        };
        for (i, line) in text.split('\n').enumerate() {
            let number = i + 1;
            let entry = match manifest::parse_line(line, alg) {
                Ok(Some(e)) => e,
                Ok(None) => continue,
                Err(e) => {
                    plan.problems.push((
                        Verdict::Error,
                        format!(
                            "manifest {} line {number} is malformed: {e}",
                            shown(&m.path)
                        ),
                    ));
                    break;
                }
            };
            plan.entries += 1;
            let Some(path) = manifest::resolve(&m.path, &entry.name) else {
                plan.problems.push((
                    Verdict::Fail,
                    format!(
                        "manifest {} line {number} names a file outside the target: {}",
                        shown(&m.path),
                        shown(&entry.name)
                    ),
                ));
                continue;
            };
            let present = inventory
                .get(&path)?
                .is_some_and(|r| r.at(Some(listed.generation)).is_some());
            if !present {
                plan.missing += 1;
                if plan.missing <= 10 {
                    plan.problems.push((
                        Verdict::Fail,
                        format!(
                            "manifest {} line {number} lists {}, which is not in the backup",
                            shown(&m.path),
                            shown(&path)
                        ),
                    ));
                }
                continue;
            }
            if sampled.contains(&path) {
                plan.expected.insert(
                    path,
                    ManifestMatch {
                        manifest: m.path.clone(),
                        line: number,
                        algorithm: alg,
                        expected: entry.hex,
                        actual: None,
                    },
                );
            }
        }
    }
    Ok(plan)
}

async fn fetch(target: &dyn Target, path: &str) -> Result<String, String> {
    let mut stream = target.read(path).await.map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if bytes.len() + chunk.len() > MAX_MANIFEST_BYTES {
            return Err(format!(
                "larger than {} MiB, not read",
                MAX_MANIFEST_BYTES >> 20
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| "not text (UTF-8)".to_string())
}

/// Compares a restored file's digest with what its manifest says; returns the problem.
pub fn compare(m: &mut ManifestMatch, blake3: &str, extra: Option<&str>) -> Option<String> {
    let actual = match m.algorithm {
        Algorithm::Blake3 => Some(blake3.to_string()),
        _ => extra.map(str::to_string),
    };
    m.actual = actual.clone();
    (actual.as_deref() != Some(m.expected.as_str())).then(|| {
        format!(
            "does not match {} line {}: {} there is {}, the restore gave {}",
            shown(&m.manifest),
            m.line,
            m.algorithm.label(),
            m.expected,
            actual.as_deref().unwrap_or("nothing")
        )
    })
}

/// The manifest check, once the sampled files are restored.
pub fn check(plan: Plan, files: &[SampledFile]) -> CheckResult {
    let mut problems = plan.problems;
    if plan.missing > 10 {
        problems.push((
            Verdict::Fail,
            format!(
                "{} files listed in manifests are missing in all",
                plan.missing
            ),
        ));
    }
    let checked: Vec<&SampledFile> = files.iter().filter(|f| f.manifest.is_some()).collect();
    for f in &checked {
        let m = f.manifest.as_ref().expect("filtered");
        if m.actual.as_deref() != Some(m.expected.as_str()) {
            problems.push((
                Verdict::Fail,
                format!(
                    "{} does not match {} line {}",
                    shown(&f.path),
                    shown(&m.manifest),
                    m.line
                ),
            ));
        }
    }
    let verdict = Verdict::worst(problems.iter().map(|(v, _)| *v)).unwrap_or(Verdict::Pass);
    let reason = if problems.is_empty() {
        format!(
            "{}, {}, every listed file present; {} matched the checksum",
            crate::format::plural(plan.manifests as u64, "manifest"),
            crate::format::plural_as(plan.entries, "entry", "entries"),
            crate::format::plural(checked.len() as u64, "sampled file")
        )
    } else {
        problems
            .into_iter()
            .map(|(_, p)| p)
            .collect::<Vec<_>>()
            .join("; ")
    };
    CheckResult {
        check: CheckKind::Manifest,
        verdict,
        reason,
    }
}

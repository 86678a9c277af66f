//! The source spot check: sampled files that also exist in the live data, and have not
//! changed there since the backup, must be identical to what was restored (within a
//! tolerance, like borgmatic's spot check).

use crate::config::{Format, Location, TargetSpec};
use crate::evidence::{CheckKind, CheckResult, PickReason, SampledFile, SourceComparison, Verdict};
use crate::format::shown;
use crate::scratch::ScratchDir;
use crate::storage::ErrorKind;

use crate::verify::Verifier;
use crate::verify::restore::{self, Options};

pub async fn compare(
    verifier: &Verifier,
    spec: &TargetSpec,
    location: &Location,
    scratch: &ScratchDir,
    files: &mut [SampledFile],
) -> CheckResult {
    let result = |verdict, reason| CheckResult {
        check: CheckKind::Source,
        verdict,
        reason,
    };
    let source_spec = TargetSpec {
        name: format!("{}-source", spec.name),
        location: location.clone(),
        policy: spec.policy.clone(),
        canaries: Vec::new(),
        format: Format::Files,
        validators: Vec::new(),
        source: None,
        restic_password: None,
    };
    let source = match (verifier.opener)(&source_spec).await {
        Ok(s) => s,
        Err(e) => {
            return result(
                Verdict::Error,
                format!("the source {location} could not be opened: {e}"),
            );
        }
    };
    let (mut identical, mut differ, mut changed, mut missing) = (0u64, Vec::new(), 0u64, 0u64);
    for (i, f) in files.iter_mut().enumerate() {
        let comparable = f.verified()
            && !matches!(
                f.picked,
                PickReason::Canary | PickReason::RepositoryMetadata
            );
        let Some(backup) = f.streamed_blake3.clone().filter(|_| comparable) else {
            continue;
        };
        let outcome = match source.stat(&f.path).await {
            Err(e) if e.kind == ErrorKind::NotFound => SourceComparison::MissingAtSource,
            Err(e) => SourceComparison::Error { reason: e.message },
            Ok(s) if s.modified > f.modified => SourceComparison::ChangedAtSource,
            Ok(_) => {
                let dest = scratch.file_for(i, &format!("{}.source", f.path));
                match restore::restore_with(&*source, &f.path, dest, Options::default()).await {
                    Ok(r) if r.streamed.to_hex().as_str() == backup => SourceComparison::Identical,
                    Ok(r) => SourceComparison::Differs {
                        source_blake3: r.streamed.to_hex().to_string(),
                    },
                    Err(e) => SourceComparison::Error {
                        reason: e.to_string(),
                    },
                }
            }
        };
        match &outcome {
            SourceComparison::Identical => identical += 1,
            SourceComparison::Differs { .. } => differ.push(f.path.clone()),
            SourceComparison::ChangedAtSource => changed += 1,
            SourceComparison::MissingAtSource => missing += 1,
            SourceComparison::Error { .. } => {}
        }
        f.source = Some(outcome);
    }
    let compared = identical + differ.len() as u64;
    let errors = files
        .iter()
        .filter(|f| matches!(f.source, Some(SourceComparison::Error { .. })))
        .count();
    let counts = format!(
        "{compared} compared with the source: {identical} identical, {} differ; {changed} changed at the source since the backup, {missing} not at the source",
        differ.len()
    );
    let share = if compared == 0 {
        0.0
    } else {
        differ.len() as f64 * 100.0 / compared as f64
    };
    let names = differ
        .iter()
        .take(10)
        .map(|p| shown(p))
        .collect::<Vec<_>>()
        .join(", ");
    if share > spec.policy.source_differ_percent {
        result(
            Verdict::Fail,
            format!(
                "{share:.0}% of the files compared differ from the live data (allowed {}%): {names}; {counts}",
                spec.policy.source_differ_percent
            ),
        )
    } else if !differ.is_empty() {
        result(
            Verdict::Warn,
            format!("within the tolerance, these differ: {names}; {counts}"),
        )
    } else if errors > 0 {
        result(
            Verdict::Error,
            format!(
                "{} could not be read at the source; {counts}",
                crate::format::plural(errors as u64, "file")
            ),
        )
    } else {
        result(Verdict::Pass, counts)
    }
}

//! Acknowledging open problems: a technician says "we know, here is why", recorded with
//! who, when, why and until when. An acknowledged problem stays open and is shown in
//! every report and in `status`; it no longer fails runs that do not observe it again,
//! and it lapses at its `until` or when the problem grows (more files concerned).
//! The same function serves `backproof ack` and the daemon's API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError};
use crate::config::Config;
use crate::evidence::{Acknowledgement, ProblemKind};

/// What to acknowledge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AckRequest {
    /// Only this target's problems.
    #[serde(default)]
    pub target: Option<String>,
    /// Only the problem with this key (`3f9a2c1d` or `BP-3f9a2c1d`).
    #[serde(default)]
    pub problem: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Who acknowledges (the user name on the command line).
    pub by: String,
}

/// One acknowledged problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acked {
    pub target: String,
    pub key: String,
    pub kind: ProblemKind,
    pub summary: String,
    pub files: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("no job named `{0}`")]
    UnknownJob(String),
    #[error("job `{job}` has no target named `{target}`")]
    UnknownTarget { job: String, target: String },
    #[error("say why (--reason): the reason is shown in every report until the problem is fixed")]
    NoReason,
    #[error("--until {0} is in the past")]
    UntilInPast(DateTime<Utc>),
    #[error("job `{job}` has no open problem with key {key}")]
    NoSuchProblem { job: String, key: String },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// Acknowledges the matching open problems of `job`; an empty list if none is open.
pub fn acknowledge(
    config: &Config,
    catalog: &Catalog,
    job: &str,
    req: &AckRequest,
    now: DateTime<Utc>,
) -> Result<Vec<Acked>, AckError> {
    let j = config
        .job(job)
        .ok_or_else(|| AckError::UnknownJob(job.to_string()))?;
    if let Some(t) = &req.target
        && !j.targets.iter().any(|x| &x.name == t)
    {
        return Err(AckError::UnknownTarget {
            job: job.to_string(),
            target: t.clone(),
        });
    }
    if req.reason.trim().is_empty() {
        return Err(AckError::NoReason);
    }
    if let Some(u) = req.until
        && u <= now
    {
        return Err(AckError::UntilInPast(u));
    }
    let key = req.problem.as_deref().map(|k| {
        k.trim()
            .trim_start_matches("BP-")
            .trim_start_matches("bp-")
            .to_ascii_lowercase()
    });
    let ack = acknowledgement(req, now);
    let done = catalog.acknowledge(job, req.target.as_deref(), key.as_deref(), &ack)?;
    if done.is_empty()
        && let Some(key) = key
    {
        return Err(AckError::NoSuchProblem {
            job: job.to_string(),
            key,
        });
    }
    for (target, p) in &done {
        tracing::info!(job, target = %target, kind = p.kind.label(), by = %ack.by, "problem acknowledged");
    }
    Ok(done
        .into_iter()
        .map(|(target, p)| Acked {
            key: p.kind.key(job, &target),
            target,
            kind: p.kind,
            summary: p.summary,
            files: p.files,
        })
        .collect())
}

/// The acknowledgement `req` records at `now`.
pub fn acknowledgement(req: &AckRequest, now: DateTime<Utc>) -> Acknowledgement {
    Acknowledgement {
        by: req.by.clone(),
        at: now,
        reason: req.reason.trim().to_string(),
        until: req.until,
    }
}

/// Parses `--until`: a date (`2026-12-01`: the end of that day in `tz`), a date and time
/// (`2026-12-01 18:00`, in `tz`), RFC 3339, or a duration from now (`3d`, `12h`).
pub fn parse_until(
    text: &str,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    let local = |naive: NaiveDateTime| {
        tz.from_local_datetime(&naive)
            .earliest()
            .map(|d| d.with_timezone(&Utc))
            .ok_or_else(|| format!("{t} does not exist in {tz} (a daylight saving gap)"))
    };
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
            return local(naive);
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let next = day.succ_opt().ok_or("date out of range")?;
        return local(next.and_hms_opt(0, 0, 0).ok_or("date out of range")?);
    }
    match humantime::parse_duration(t) {
        Ok(d) => chrono::Duration::from_std(d)
            .map(|d| now + d)
            .map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "`{t}` is not a date (2026-12-01, 2026-12-01 18:00) or a duration (3d, 12h)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_accepts_dates_times_and_durations() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let tz = chrono_tz::Europe::Berlin;
        // The end of 1 December in Berlin is 23:00 UTC.
        assert_eq!(
            parse_until("2026-12-01", tz, now).unwrap().to_rfc3339(),
            "2026-12-01T23:00:00+00:00"
        );
        assert_eq!(
            parse_until("2026-12-01 18:00", tz, now)
                .unwrap()
                .to_rfc3339(),
            "2026-12-01T17:00:00+00:00"
        );
        assert_eq!(
            parse_until("3d", tz, now).unwrap().to_rfc3339(),
            "2026-12-01T10:00:00+00:00"
        );
        assert!(parse_until("next week", tz, now).is_err());
    }
}

//! The events webhooks are told of, built from evidence and catalog records only: each
//! carries its data (the JSON of `schemas/webhook-v1.json`), a title and a short text for
//! people, and a severity for the chat presets.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::config::Job;
use crate::evidence::{RunEvidence, Verdict};

/// The version of the webhook payload (`schemas/webhook-v<N>.json`).
pub const PAYLOAD_VERSION: u32 = 1;

/// How urgent an event is, for the chat presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Critical,
    Warning,
    Info,
    Resolved,
}

#[derive(Debug, Clone)]
pub struct Event {
    /// `problem.opened`...
    pub kind: &'static str,
    /// The same event gets the same id: queued once per webhook, however often built.
    pub dedupe: String,
    pub job: Option<String>,
    pub at: DateTime<Utc>,
    pub title: String,
    pub text: String,
    pub severity: Severity,
    /// Event-specific fields (besides `title` and `text`, added on rendering).
    pub data: Value,
}

impl Event {
    /// The generic payload: `{"type", "timestamp", "version", "data"}` as the Standard
    /// Webhooks specification recommends.
    pub fn payload(&self) -> Value {
        let mut data = self.data.clone();
        if let Some(d) = data.as_object_mut() {
            d.insert("title".into(), json!(self.title));
            d.insert("text".into(), json!(self.text));
        }
        json!({
            "type": self.kind,
            "timestamp": self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "version": PAYLOAD_VERSION,
            "data": data,
        })
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn shown_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The events of a recorded run: `run.finished`, then `problem.opened` for each problem
/// it opened and `problem.closed` for each it showed fixed.
pub fn of_run(job: &Job, ev: &RunEvidence) -> Vec<Event> {
    let at = ev.finished_at.unwrap_or(ev.started_at);
    let verdict = ev.effective_verdict();
    let mut out = vec![Event {
        kind: "run.finished",
        dedupe: format!("run.finished/{}", ev.run_id),
        job: Some(ev.job.clone()),
        at,
        title: crate::report::email::subject(ev, false),
        text: format!(
            "Run {} of {} on {}: {}",
            ev.run_id,
            ev.client,
            ev.host,
            crate::report::email::headline(ev, false)
        ),
        severity: match verdict {
            Verdict::Pass => Severity::Info,
            Verdict::Warn => Severity::Warning,
            Verdict::Fail | Verdict::Error => Severity::Critical,
        },
        data: json!({
            "job": ev.job,
            "client": ev.client,
            "host": ev.host,
            "run_id": ev.run_id,
            "trigger": ev.trigger.to_string(),
            "started_at": time(ev.started_at),
            "finished_at": ev.finished_at.map(time),
            "verdict": verdict.label().to_ascii_lowercase(),
            "headline": crate::report::email::headline(ev, false),
            "targets": ev.targets.iter().map(|t| json!({
                "name": t.name,
                "verdict": t.verdict.label().to_ascii_lowercase(),
                "summary": t.summary,
            })).collect::<Vec<_>>(),
        }),
    }];
    for t in &ev.targets {
        for p in t.problems.iter().filter(|p| p.new) {
            let key = format!("BP-{}", p.key);
            out.push(Event {
                kind: "problem.opened",
                dedupe: format!("problem.opened/{}/{}", ev.run_id, p.key),
                job: Some(ev.job.clone()),
                at,
                title: format!(
                    "[{key}] [FAIL] {}: {} on {}",
                    job.client,
                    p.kind.label(),
                    t.name
                ),
                text: format!(
                    "{}. Open since {} (run {}).",
                    crate::format::shown(&p.summary),
                    shown_time(p.opened_at),
                    p.opened_run
                ),
                severity: Severity::Critical,
                data: json!({
                    "job": ev.job,
                    "client": ev.client,
                    "target": t.name,
                    "key": key,
                    "kind": p.kind.label(),
                    "summary": p.summary,
                    "files": p.files,
                    "opened_at": time(p.opened_at),
                    "run_id": ev.run_id,
                }),
            });
        }
        for c in &t.closed_problems {
            let key = format!("BP-{}", c.key);
            out.push(Event {
                kind: "problem.closed",
                dedupe: format!("problem.closed/{}/{}", ev.run_id, c.key),
                job: Some(ev.job.clone()),
                at,
                title: format!(
                    "[{key}] [FIXED] {}: {} on {}",
                    job.client,
                    c.kind.label(),
                    t.name
                ),
                text: format!(
                    "What was wrong: {}. Open since {} (run {}). Fixed: {} (run {}).",
                    crate::format::shown(&c.summary),
                    shown_time(c.opened_at),
                    c.opened_run,
                    crate::format::shown(&c.fixed_by),
                    ev.run_id
                ),
                severity: Severity::Resolved,
                data: json!({
                    "job": ev.job,
                    "client": ev.client,
                    "target": t.name,
                    "key": key,
                    "kind": c.kind.label(),
                    "summary": c.summary,
                    "opened_at": time(c.opened_at),
                    "closed_at": time(at),
                    "fixed_by": c.fixed_by,
                    "run_id": ev.run_id,
                }),
            });
        }
    }
    out
}

/// A technician acknowledged a problem.
pub fn acknowledged(
    job: &Job,
    a: &crate::ack::Acked,
    ack: &crate::evidence::Acknowledgement,
) -> Event {
    let key = format!("BP-{}", a.key);
    let until = ack
        .until
        .map(|u| format!("until {}", shown_time(u)))
        .unwrap_or_else(|| "until it is fixed".into());
    Event {
        kind: "problem.acknowledged",
        dedupe: format!(
            "problem.acknowledged/{}/{}",
            a.key,
            ack.at.timestamp_micros()
        ),
        job: Some(job.name.clone()),
        at: ack.at,
        title: format!(
            "[{key}] [ACK] {}: {} on {}",
            job.client,
            a.kind.label(),
            a.target
        ),
        text: format!(
            "Acknowledged by {} {until}: {}",
            ack.by,
            crate::format::shown(&ack.reason)
        ),
        severity: Severity::Info,
        data: json!({
            "job": job.name,
            "client": job.client,
            "target": a.target,
            "key": key,
            "kind": a.kind.label(),
            "summary": a.summary,
            "by": ack.by,
            "at": time(ack.at),
            "reason": ack.reason,
            "until": ack.until.map(time),
        }),
    }
}

/// A scheduled run of `job` did not happen.
pub fn missed(job: &Job, slot: DateTime<Utc>, host: &str, catching_up: bool) -> Event {
    Event {
        kind: "daemon.missed_schedule",
        dedupe: format!("daemon.missed_schedule/{}/{}", job.name, slot.timestamp()),
        job: Some(job.name.clone()),
        at: Utc::now(),
        title: format!(
            "[MISSED] {}: the scheduled backup check did not run",
            job.client
        ),
        text: format!(
            "The backup check of {} scheduled for {} did not run on {host}{}.",
            job.client,
            shown_time(slot),
            if catching_up {
                " (the daemon was not running; it runs now, once)"
            } else {
                ""
            }
        ),
        severity: Severity::Critical,
        data: json!({
            "job": job.name,
            "client": job.client,
            "host": host,
            "slot": time(slot),
            "catching_up": catching_up,
        }),
    }
}

/// A problem is still open and unacknowledged: reminder number `n`.
pub fn reminder(
    job: &Job,
    target: &str,
    p: &crate::catalog::ProblemRecord,
    n: u32,
    now: DateTime<Utc>,
) -> Event {
    let key = format!("BP-{}", p.kind.key(&job.name, target));
    Event {
        kind: "problem.reminder",
        dedupe: format!("problem.reminder/{key}/{}/{n}", p.opened_at.timestamp()),
        job: Some(job.name.clone()),
        at: now,
        title: format!(
            "[{key}] [REMINDER] {}: {} on {target}",
            job.client,
            p.kind.label()
        ),
        text: format!(
            "Still open and not acknowledged: {}. Open since {} (reminder {n}).",
            crate::format::shown(&p.summary),
            shown_time(p.opened_at)
        ),
        severity: Severity::Warning,
        data: json!({
            "job": job.name,
            "client": job.client,
            "target": target,
            "key": key,
            "kind": p.kind.label(),
            "summary": p.summary,
            "opened_at": time(p.opened_at),
            "reminder": n,
        }),
    }
}

/// A problem opened during a maintenance window is still open when the window ends: its
/// `problem.opened`, released now.
pub fn released(
    job: &Job,
    target: &str,
    p: &crate::catalog::ProblemRecord,
    now: DateTime<Utc>,
) -> Event {
    let short = p.kind.key(&job.name, target);
    let key = format!("BP-{short}");
    Event {
        kind: "problem.opened",
        dedupe: format!("problem.opened/{}/{short}", p.opened_run),
        job: Some(job.name.clone()),
        at: now,
        title: format!(
            "[{key}] [FAIL] {}: {} on {target}",
            job.client,
            p.kind.label()
        ),
        text: format!(
            "{}. Open since {} (run {}), during a maintenance window.",
            crate::format::shown(&p.summary),
            shown_time(p.opened_at),
            p.opened_run
        ),
        severity: Severity::Critical,
        data: json!({
            "job": job.name,
            "client": job.client,
            "target": target,
            "key": key,
            "kind": p.kind.label(),
            "summary": p.summary,
            "files": p.files,
            "opened_at": time(p.opened_at),
            "run_id": p.opened_run,
        }),
    }
}

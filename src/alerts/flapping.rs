//! A problem that opens and closes again and again (flapping) is reported as flapping
//! once, not at every opening and closing: from its third opening within
//! [`WINDOW`], one `[BP-...] [FLAPPING]` email and one `problem.opened` webhook with
//! `"flapping": true`; its later openings and closings send no webhook and no closing
//! notice until it has stayed closed for [`WINDOW`]. Run reports still go out as usual.

use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, MailKind, RECORD_SCHEMA};
use crate::config::Job;
use crate::evidence::RunEvidence;
use crate::hooks::event::Event;
use crate::mail::{Sender, compose, outbox};

/// How far back openings and closings count.
pub const WINDOW: chrono::Duration = chrono::Duration::days(7);
/// Closings within [`WINDOW`] before an opening that make a problem flapping.
const CLOSINGS: usize = 2;

/// Whether the problem `kind` of `target` counts as flapping at `now`.
pub fn is_flapping(
    catalog: &Catalog,
    job: &str,
    target: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> bool {
    catalog.episodes(job, target, kind).is_ok_and(|e| {
        e.flapping_since.is_some() && e.closed.last().is_none_or(|c| now - *c < WINDOW)
    })
}

/// Records the run's openings and closings, reports a problem that starts flapping, and
/// takes the events of flapping problems out of `events`.
pub fn observe(
    catalog: &Catalog,
    sender: &Sender,
    job: &Job,
    ev: &RunEvidence,
    events: &mut Vec<Event>,
) {
    let now = ev.finished_at.unwrap_or(ev.started_at);
    let mut quiet: Vec<String> = Vec::new();
    for t in &ev.targets {
        for c in &t.closed_problems {
            let kind = c.kind.label();
            let mut e = catalog
                .episodes(&job.name, &t.name, kind)
                .unwrap_or_default();
            if e.flapping_since.is_some() {
                quiet.push(format!("BP-{}", c.key));
            }
            e.v = RECORD_SCHEMA;
            e.closed.retain(|at| now - *at < WINDOW);
            if !e.closed.contains(&now) {
                // (contained: this run's alerts are queued again after a crash)
                e.closed.push(now);
            }
            if let Err(err) = catalog.put_episodes(&job.name, &t.name, kind, &e) {
                tracing::error!(job = %job.name, error = %err, "problem history not recorded");
            }
        }
        for p in t.problems.iter().filter(|p| p.new) {
            let kind = p.kind.label();
            let key = format!("BP-{}", p.key);
            let mut e = catalog
                .episodes(&job.name, &t.name, kind)
                .unwrap_or_default();
            e.closed.retain(|at| now - *at < WINDOW);
            if e.flapping_since.is_some() && e.closed.is_empty() {
                // Closed for a whole window: no longer flapping.
                e.flapping_since = None;
            }
            // This run made it flapping: its alerts are queued again after a crash.
            let starts_here = e.flapping_since == Some(now);
            if e.flapping_since.is_some() && !starts_here {
                quiet.push(key);
            } else if starts_here || e.closed.len() >= CLOSINGS {
                e.flapping_since = Some(now);
                quiet.push(key.clone());
                report(catalog, sender, job, &t.name, p, e.closed.len(), &ev.run_id);
                if let Some(mut opened) = events
                    .iter()
                    .find(|x| x.kind == "problem.opened" && x.data["key"] == key.as_str())
                    .cloned()
                {
                    opened.title = opened.title.replace("[FAIL]", "[FLAPPING]");
                    opened.dedupe = format!("{}/flapping", opened.dedupe);
                    opened.text = format!(
                        "{} It opened and closed {} times in the last 7 days: reported once as flapping; its next openings and closings are not sent until it stays closed for 7 days.",
                        opened.text,
                        e.closed.len()
                    );
                    if let Some(d) = opened.data.as_object_mut() {
                        d.insert("flapping".into(), serde_json::Value::Bool(true));
                    }
                    events.push(opened);
                }
            }
            e.v = RECORD_SCHEMA;
            if let Err(err) = catalog.put_episodes(&job.name, &t.name, kind, &e) {
                tracing::error!(job = %job.name, error = %err, "problem history not recorded");
            }
        }
    }
    events.retain(|x| {
        let key = x.data["key"].as_str().unwrap_or_default();
        let flapping = x.data["flapping"].as_bool().unwrap_or(false);
        flapping
            || !(matches!(x.kind, "problem.opened" | "problem.closed")
                && quiet.iter().any(|q| q == key))
    });
}

fn report(
    catalog: &Catalog,
    sender: &Sender,
    job: &Job,
    target: &str,
    p: &crate::evidence::OpenProblem,
    closings: usize,
    run_id: &str,
) {
    let to: Vec<String> = job
        .alert_recipients()
        .iter()
        .map(|s| s.to_string())
        .collect();
    if to.is_empty() {
        return;
    }
    let key = format!("BP-{}", p.key);
    let subject = format!(
        "[{key}] [FLAPPING] {}: {} on {target} keeps opening and closing",
        job.client,
        p.kind.label()
    );
    let text = format!(
        "{} on {target} of {} opened again (run {run_id}) after closing {closings} times in the last 7 days: {}. It is reported once as flapping: until it stays closed for 7 days, its openings and closings send no webhook and no closing notice (run reports still go out). Look for an intermittent cause (a flaky disk or network path, a backup job that sometimes fails).",
        p.kind.label(),
        job.client,
        crate::format::shown(&p.summary),
    );
    let id = compose::notice_id(
        sender,
        &format!("{}-flapping-{run_id}", key.to_ascii_lowercase()),
    );
    if catalog
        .outbox()
        .is_ok_and(|items| items.iter().any(|i| i.message_id == id))
    {
        return; // queued before a crash: queued once
    }
    match compose::threaded_notice(sender, &to, &subject, &text, &id, None) {
        Ok(c) => {
            let item = outbox::item(
                MailKind::Alert,
                Some(&job.name),
                Some(run_id),
                sender,
                c,
                Utc::now(),
            );
            if let Err(e) = catalog.put_outbox(&item) {
                tracing::error!(job = %job.name, error = %e, "flapping notice not queued");
            }
        }
        Err(e) => tracing::error!(job = %job.name, error = %e, "flapping notice not composed"),
    }
}

//! The closing message of a problem: when a run shows a problem fixed, one email to the
//! alert recipients, threaded under the report that opened it, saying what had been
//! wrong, since when, and what fixed it. The run's own report is that message when it
//! leads with the problem (a recovery); the others get a `[BP-...] [FIXED]` notice.

use chrono::Utc;

use crate::catalog::{Catalog, MailKind};
use crate::config::Job;
use crate::evidence::RunEvidence;
use crate::mail::{Sender, compose, outbox};

/// Queues the closing notices of the problems `ev` closed; returns how many.
pub fn queue(catalog: &Catalog, sender: &Sender, job: &Job, ev: &RunEvidence) -> usize {
    let to: Vec<String> = job
        .alert_recipients()
        .iter()
        .map(|s| s.to_string())
        .collect();
    if to.is_empty() {
        return 0;
    }
    let lead = crate::mail::thread::of_run(ev);
    let items = match catalog.outbox() {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(job = %job.name, error = %e, "closing notices not queued");
            return 0;
        }
    };
    let mut queued = 0;
    for t in &ev.targets {
        for c in &t.closed_problems {
            let key = format!("BP-{}", c.key);
            let parent = compose::run_report_id(sender, &job.name, &c.opened_run);
            // Only a problem that was alerted is closed by email, and only once.
            let alerted = items.iter().any(|i| i.message_id == parent);
            let in_report = lead.as_ref().is_some_and(|l| l.key == key)
                && items
                    .iter()
                    .any(|i| i.run_id.as_deref() == Some(&ev.run_id));
            let flapping = super::flapping::is_flapping(
                catalog,
                &job.name,
                &t.name,
                c.kind.label(),
                Utc::now(),
            );
            if !alerted || in_report || flapping {
                continue;
            }
            let subject = format!(
                "[{key}] [FIXED] {}: {} on {}",
                job.client,
                c.kind.label(),
                t.name
            );
            let text = format!(
                "Fixed: {} on {} of {}.\n\nWhat was wrong: {}.\nOpen since: {} (run {}).\nWhat fixed it: {} (run {}, {}).",
                c.kind.label(),
                t.name,
                job.client,
                crate::format::shown(&c.summary),
                c.opened_at.format("%Y-%m-%d %H:%M UTC"),
                c.opened_run,
                crate::format::shown(&c.fixed_by),
                ev.run_id,
                ev.finished_at
                    .unwrap_or(ev.started_at)
                    .format("%Y-%m-%d %H:%M UTC"),
            );
            let id = format!("{}-fixed-{}", key.to_ascii_lowercase(), ev.run_id);
            let message_id = compose::notice_id(sender, &id);
            if items.iter().any(|i| i.message_id == message_id) {
                continue; // queued before a crash: queued once
            }
            let composed = match compose::threaded_notice(
                sender,
                &to,
                &subject,
                &text,
                &message_id,
                Some(&parent),
            ) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(job = %job.name, error = %e, "closing notice not composed");
                    continue;
                }
            };
            let item = outbox::item(
                MailKind::Alert,
                Some(&job.name),
                Some(&ev.run_id),
                sender,
                composed,
                Utc::now(),
            );
            match catalog.put_outbox(&item) {
                Ok(()) => queued += 1,
                Err(e) => tracing::error!(job = %job.name, error = %e, "closing notice not queued"),
            }
        }
    }
    if queued > 0 {
        let _ = catalog.flush();
    }
    queued
}

//! Reminders and escalation of open problems.
//!
//! [`tick`] looks at every open problem at one instant and queues what is due: a reminder
//! (email to the alert recipients, `problem.reminder` webhook) when the problem has been
//! open and unacknowledged for `remind_every` since it opened or was last reminded of, and
//! one escalation (email to `escalate_to`) once it has been open and unacknowledged for
//! `escalate_after`. An acknowledgement stops both until its `until`. [`run`] calls it on
//! the daemon's clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::catalog::{AlertState, Catalog, CatalogError, MailKind, ProblemRecord, RECORD_SCHEMA};
use crate::config::{Config, Job};
use crate::daemon::clock::Clock;
use crate::mail::{Sender, compose, outbox};

/// What one tick queued.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Due {
    pub reminders: usize,
    pub escalations: usize,
    /// Alerts held by a maintenance window, sent at its end.
    pub released: usize,
}

fn acknowledged(p: &ProblemRecord, now: DateTime<Utc>) -> bool {
    p.ack
        .as_ref()
        .is_some_and(|a| a.until.is_none_or(|u| u > now))
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Queues the reminders and escalations due at `now`.
pub fn tick(config: &Config, catalog: &Catalog, now: DateTime<Utc>) -> Result<Due, CatalogError> {
    let sender = Sender::from_config(config);
    let mut due = Due::default();
    let mut queued = false;
    for job in &config.jobs {
        for (target, p) in catalog.job_problems(&job.name)? {
            let kind = p.kind.label();
            let mut state = match catalog.alert_state(&job.name, &target, kind)? {
                Some(s) if s.opened_at == p.opened_at => s,
                _ => AlertState {
                    v: RECORD_SCHEMA,
                    opened_at: p.opened_at,
                    reminders: 0,
                    last_reminder_at: None,
                    escalated_at: None,
                    released: false,
                },
            };
            // Opened in a maintenance window: held until it ends, then alerted once.
            let held_until = job.window_at(p.opened_at).map(|(_, end)| end);
            if held_until.is_some_and(|end| now < end) || job.window_at(now).is_some() {
                continue;
            }
            let mut changed = false;
            if held_until.is_some() && !state.released {
                state.released = true;
                changed = true;
                // Acknowledged meanwhile: a technician knows; nothing to release.
                if !acknowledged(&p, now) && release(catalog, &sender, job, &target, &p, now) {
                    queued = true;
                }
                due.released += 1;
            }
            if acknowledged(&p, now) {
                if changed {
                    catalog.put_alert_state(&job.name, &target, kind, &state)?;
                }
                continue;
            }
            // An acknowledgement that lapsed counts as the last word about the problem.
            let lapsed = p.ack.as_ref().and_then(|a| a.until);
            let last = [
                Some(p.opened_at),
                state.last_reminder_at,
                lapsed,
                held_until,
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(p.opened_at);
            if now - last >= chrono(job.alerts.remind_every) {
                state.reminders += 1;
                state.last_reminder_at = Some(now);
                changed = true;
                if queue_mail(catalog, &sender, job, &target, &p, &state, now, false) {
                    queued = true;
                }
                let event = crate::hooks::event::reminder(job, &target, &p, state.reminders, now);
                crate::hooks::webhook::queue(catalog, job, &[event]);
                due.reminders += 1;
            }
            if let Some(after) = job.alerts.escalate_after
                && state.escalated_at.is_none()
                && now - held_until.unwrap_or(p.opened_at) >= chrono(after)
            {
                state.escalated_at = Some(now);
                changed = true;
                if queue_mail(catalog, &sender, job, &target, &p, &state, now, true) {
                    queued = true;
                }
                due.escalations += 1;
            }
            if changed {
                catalog.put_alert_state(&job.name, &target, kind, &state)?;
            }
        }
    }
    let swept = catalog.sweep_alert_states(&|job, target, kind| {
        catalog
            .open_problems(job, target)
            .is_ok_and(|ps| ps.iter().any(|p| p.kind.label() == kind))
    })?;
    if due != Due::default() || swept > 0 {
        catalog.flush()?;
    }
    if queued {
        tracing::debug!(?due, "follow-ups of open problems queued");
    }
    Ok(due)
}

/// Queues a reminder (or the escalation) email about one problem; `true` if queued.
#[allow(clippy::too_many_arguments)]
fn queue_mail(
    catalog: &Catalog,
    sender: &Sender,
    job: &Job,
    target: &str,
    p: &ProblemRecord,
    state: &AlertState,
    now: DateTime<Utc>,
    escalation: bool,
) -> bool {
    let to: Vec<String> = if escalation {
        job.alerts.escalate_to.clone()
    } else {
        job.alert_recipients()
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    if to.is_empty() {
        return false;
    }
    let key = format!("BP-{}", p.kind.key(&job.name, target));
    let open_for = crate::format::human_age((now - p.opened_at).to_std().unwrap_or_default());
    let tag = if escalation { "ESCALATED" } else { "REMINDER" };
    let subject = format!(
        "[{key}] [{tag}] {}: {} on {target}, open for {open_for}",
        job.client,
        p.kind.label()
    );
    let text = format!(
        "{}Still open and not acknowledged: {}. Open since {} (run {}), last seen {} (run {}). {}To stop the reminders while you work on it: backproof ack {} --problem {key} --reason \"...\" [--until DATE].",
        if escalation {
            format!(
                "Escalated: this problem of {} has been open for {open_for} without an acknowledgement.\n\n",
                job.client
            )
        } else {
            String::new()
        },
        crate::format::shown(&p.summary),
        p.opened_at.format("%Y-%m-%d %H:%M UTC"),
        p.opened_run,
        p.last_seen_at.format("%Y-%m-%d %H:%M UTC"),
        p.last_seen_run,
        if escalation {
            String::new()
        } else {
            format!(
                "Reminder {}; the next in {} unless it is fixed or acknowledged. ",
                state.reminders,
                humantime::format_duration(job.alerts.remind_every)
            )
        },
        job.name,
    );
    let parent = compose::run_report_id(sender, &job.name, &p.opened_run);
    let sent_parent = catalog
        .outbox()
        .map(|items| items.iter().any(|i| i.message_id == parent))
        .unwrap_or(false);
    let id = format!(
        "{}-{}-{}",
        key.to_ascii_lowercase(),
        if escalation {
            "escalation".to_string()
        } else {
            format!("reminder{}", state.reminders)
        },
        p.opened_at.timestamp()
    );
    let composed = match compose::threaded_notice(
        sender,
        &to,
        &subject,
        &text,
        &compose::notice_id(sender, &id),
        sent_parent.then_some(parent.as_str()),
    ) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(job = %job.name, error = %e, "follow-up not composed");
            return false;
        }
    };
    let item = outbox::item(
        MailKind::Alert,
        Some(&job.name),
        None,
        sender,
        composed,
        Utc::now(),
    );
    match catalog.put_outbox(&item) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(job = %job.name, error = %e, "follow-up not queued");
            false
        }
    }
}

/// How often [`run`] looks: at most every minute, more often for short intervals.
fn period(config: &Config) -> Duration {
    config
        .jobs
        .iter()
        .flat_map(|j| [Some(j.alerts.remind_every), j.alerts.escalate_after])
        .flatten()
        .map(|d| d / 4)
        .min()
        .unwrap_or(Duration::from_secs(60))
        .clamp(Duration::from_millis(250), Duration::from_secs(60))
}

/// Follows up open problems on `clock` until `cancel`: a [`tick`] now and every period;
/// `queued` is called when a tick queued email (to wake the delivery worker).
pub async fn run(
    config: impl Fn() -> Arc<Config> + Send + 'static,
    catalog: Catalog,
    clock: Arc<dyn Clock>,
    cancel: tokio_util::sync::CancellationToken,
    queued: impl Fn() + Send + 'static,
) {
    loop {
        let c = config();
        let now = clock.now();
        match tick(&c, &catalog, now) {
            Ok(d) if d != Due::default() => {
                tracing::info!(
                    reminders = d.reminders,
                    escalations = d.escalations,
                    "open problems followed up"
                );
                queued();
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "open problems could not be followed up"),
        }
        let next = now + chrono(period(&c));
        tokio::select! {
            _ = clock.sleep_until(next) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

/// The alert of a problem opened in a maintenance window that ended with it still open:
/// sent now as the problem's opening message (its Message-ID is the one the opening
/// report would have had, so later messages thread under it), and `problem.opened`.
fn release(
    catalog: &Catalog,
    sender: &Sender,
    job: &Job,
    target: &str,
    p: &ProblemRecord,
    now: DateTime<Utc>,
) -> bool {
    let event = crate::hooks::event::released(job, target, p, now);
    crate::hooks::webhook::queue(catalog, job, std::slice::from_ref(&event));
    let to: Vec<String> = job
        .alert_recipients()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let message_id = compose::run_report_id(sender, &job.name, &p.opened_run);
    let known = catalog
        .outbox()
        .map(|items| items.iter().any(|i| i.message_id == message_id))
        .unwrap_or(false);
    if to.is_empty() || known {
        return false;
    }
    let text = format!(
        "{}\n\nThis alert was held: the problem was opened during a maintenance window, which has ended with the problem still open.",
        event.text
    );
    match compose::threaded_notice(sender, &to, &event.title, &text, &message_id, None) {
        Ok(c) => {
            let item = outbox::item(
                MailKind::Alert,
                Some(&job.name),
                Some(&p.opened_run),
                sender,
                c,
                now,
            );
            catalog.put_outbox(&item).is_ok()
        }
        Err(e) => {
            tracing::error!(job = %job.name, error = %e, "held alert not composed");
            false
        }
    }
}

//! Plain-text rendering of evidence for a terminal.

use std::fmt::Write;
use std::path::Path;

use crate::evidence::{RunEvidence, RunStatus};

use crate::format::{human_age, human_duration, shown};

/// The summary of a run a technician reads after `backproof run` or `backproof show`.
pub fn run_summary(ev: &RunEvidence, evidence_file: Option<&Path>) -> String {
    let mut out = String::new();
    let w = &mut out;
    let took = ev
        .finished_at
        .map(|f| human_duration((f - ev.started_at).num_milliseconds() as f64 / 1000.0))
        .unwrap_or_else(|| "-".into());
    let _ = writeln!(
        w,
        "Run {} of job {} ({}), {} run on {}",
        ev.run_id, ev.job, ev.client, ev.trigger, ev.host
    );
    let _ = writeln!(
        w,
        "Started {}, took {took}, sampling seed {}",
        ev.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        ev.seed
    );
    let headline = super::email::headline(ev, false);
    let _ = writeln!(w, "{}: {headline}", ev.effective_verdict().label());
    if let Some(m) = &ev.maintenance {
        let _ = writeln!(w, "{}", m.sentence());
    }
    for t in &ev.targets {
        let _ = writeln!(w);
        super::email::target_text(w, t, ev.finished_at.unwrap_or(ev.started_at));
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "{}", super::email::egress_line(&ev.egress));
    let verdict = ev.effective_verdict();
    let status = match ev.status {
        RunStatus::Finished => verdict.label().to_string(),
        RunStatus::Running => "RUNNING (not finished: not verified)".into(),
        RunStatus::Interrupted => "INTERRUPTED (not verified)".into(),
    };
    let _ = writeln!(
        w,
        "Verdict: {status}: {headline} (exit code {})",
        verdict.exit_code()
    );
    if let Some(p) = evidence_file {
        let _ = writeln!(w, "Evidence: {}", p.display());
    }
    out
}

/// One line per run, newest first.
pub fn history_table(runs: &[RunEvidence]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:<20} {:<9} {:<12} targets",
        "RUN", "STARTED (UTC)", "TRIGGER", "VERDICT"
    );
    for r in runs {
        let verdict = match r.status {
            RunStatus::Finished => r.effective_verdict().label().to_string(),
            RunStatus::Running => "running".into(),
            RunStatus::Interrupted => "interrupted".into(),
        };
        let targets = r
            .targets
            .iter()
            .map(|t| format!("{}={}", t.name, t.verdict.label()))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            out,
            "{:<22} {:<20} {:<9} {:<12} {targets}",
            r.run_id,
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.trigger.to_string(),
            verdict
        );
    }
    out
}

/// The `backproof status` table: clients with problems first, ages relative to now.
pub fn status_table(status: &crate::status::Status) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<13} {:<20} {:<24} {:<17} {:<15} {:<17} WORST OPEN PROBLEM",
        "STATE", "JOB", "CLIENT", "LAST RUN (UTC)", "NEWEST BACKUP", "NEXT RUN (UTC)"
    );
    for r in &status.rows {
        let state = match &r.running {
            Some(_) => format!("{} (running)", r.state.label()),
            None => r.state.label().to_string(),
        };
        let newest = r
            .newest_backup_age_seconds
            .map(|s| format!("{} old", human_age(std::time::Duration::from_secs(s))))
            .unwrap_or_else(|| "-".into());
        let client: String = r.client.chars().take(24).collect();
        let next = match (&r.next_run, status.daemon_running) {
            (Some(t), _) => t.format("%Y-%m-%d %H:%M").to_string(),
            (None, true) => "-".into(),
            (None, false) => "no daemon".into(),
        };
        let problem = match (&r.worst_problem, &r.not_verified_reason) {
            (None, _) if r.missed_slot.is_some() => format!(
                "missed its scheduled run of {}",
                r.missed_slot
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default()
            ),
            (Some(p), _) => format!(
                "{}{} on {}: {}{}",
                p.kind.label(),
                if p.acknowledged {
                    " (acknowledged)"
                } else {
                    ""
                },
                p.target,
                shown(&p.summary),
                match r.open_problems {
                    0 | 1 => String::new(),
                    n => format!(" (+{} more)", n - 1),
                }
            ),
            (None, Some(reason)) => format!("could not verify: {}", shown(reason)),
            (None, None) if r.last_run.is_none() => "never verified".into(),
            (None, None) => "-".into(),
        };
        let problem = if r.nobody_notified {
            format!("{problem} [nobody is alerted: no technicians]")
        } else {
            problem
        };
        let _ = writeln!(
            out,
            "{state:<13} {:<20} {client:<24} {:<17} {newest:<15} {next:<17} {problem}",
            r.job,
            r.last_started
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "never".into()),
        );
    }
    let _ = writeln!(out);
    let alive = status
        .daemon_last_alive
        .and_then(|t| status.at.signed_duration_since(t).to_std().ok())
        .map(|a| format!("; last alive {} ago", human_age(a)))
        .unwrap_or_else(|| "; never ran".into());
    let _ = writeln!(
        out,
        "daemon: {}",
        if status.daemon_running {
            format!("running (scheduled runs happen){alive}")
        } else {
            format!("NOT running: nothing runs on schedule (systemctl start backproof){alive}")
        }
    );
    let webhooks = if status.webhooks_queued + status.webhooks_rejected > 0 {
        format!(
            "; webhooks: {} queued, {} rejected",
            status.webhooks_queued, status.webhooks_rejected
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "outbox: {} queued, {} rejected{webhooks} (backproof outbox for details)",
        status.outbox_queued, status.outbox_rejected
    );
    out
}

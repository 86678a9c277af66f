//! `backproof check JOB|--all`: the state of one client (or all) for an RMM agent or
//! Nagios, Icinga, Zabbix: one status line and the Nagios exit code, read from the catalog
//! (or the daemon's API when the daemon holds it) without running anything.
//!
//! The state is `backproof status`'s ([`crate::status::collect`]); this only maps it:
//!
//! | status | Nagios |
//! | --- | --- |
//! | OK | 0 OK |
//! | WARN (verified with warnings), ACKED (open problems, all acknowledged) | 1 WARNING |
//! | PROBLEM, MISSED, NOT VERIFIED after a run | 2 CRITICAL |
//! | never verified, or the check itself cannot read the state | 3 UNKNOWN |

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::ValueEnum;
use serde::Serialize;

use crate::status::{ClientState, Status, StatusRow};

/// How long the check may take before it answers UNKNOWN.
const DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// One status line (and one line per client with --all), perfdata, Nagios exit code.
    Nagios,
    /// A JSON document with the same fields.
    Json,
}

/// A Nagios service state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Nagios {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Nagios {
    fn label(self) -> &'static str {
        match self {
            Nagios::Ok => "OK",
            Nagios::Warning => "WARNING",
            Nagios::Critical => "CRITICAL",
            Nagios::Unknown => "UNKNOWN",
        }
    }

    /// How bad, for picking the worst: CRITICAL above UNKNOWN above WARNING above OK.
    fn severity(self) -> u8 {
        match self {
            Nagios::Ok => 0,
            Nagios::Warning => 1,
            Nagios::Unknown => 2,
            Nagios::Critical => 3,
        }
    }
}

/// One client's answer.
#[derive(Debug, Clone, Serialize)]
pub struct ClientCheck {
    pub job: String,
    pub client: String,
    pub state: Nagios,
    pub exit_code: u8,
    /// The status line without the state.
    pub message: String,
}

/// The Nagios state of one status row.
pub fn nagios_state(row: &StatusRow) -> Nagios {
    match row.state {
        ClientState::Ok => Nagios::Ok,
        ClientState::Warn | ClientState::Acknowledged => Nagios::Warning,
        ClientState::Problem | ClientState::Missed => Nagios::Critical,
        ClientState::NotVerified if row.last_run.is_none() => Nagios::Unknown,
        ClientState::NotVerified => Nagios::Critical,
    }
}

/// What the status line says about a row, derived from its fields only.
fn message(row: &StatusRow, now: chrono::DateTime<chrono::Utc>) -> String {
    let last = row
        .last_started
        .and_then(|t| now.signed_duration_since(t).to_std().ok())
        .map(|a| format!("last run {} ago", crate::format::human_age(a)))
        .unwrap_or_else(|| "never run".into());
    let what = match (
        &row.worst_problem,
        &row.not_verified_reason,
        row.missed_slot,
    ) {
        (Some(p), _, _) => format!(
            "[BP-{}] {} on {}{}: {}{}",
            p.key,
            p.kind.label(),
            p.target,
            if p.acknowledged {
                " (acknowledged)"
            } else {
                ""
            },
            crate::format::shown(&p.summary),
            match row.open_problems {
                0 | 1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            }
        ),
        (None, _, Some(slot)) => format!(
            "missed its scheduled run of {}",
            slot.format("%Y-%m-%d %H:%M UTC")
        ),
        (None, Some(reason), None) => {
            format!("could not verify: {}", crate::format::shown(reason))
        }
        (None, None, None) if row.last_run.is_none() => "never verified".into(),
        (None, None, None) => match row.verdict {
            Some(v) => format!("last run {}", v.label()),
            None => "not verified".into(),
        },
    };
    format!("{}: {what} ({last})", row.client)
}

/// The answer for each row of `status`.
pub fn checks(status: &Status) -> Vec<ClientCheck> {
    status
        .rows
        .iter()
        .map(|r| {
            let state = nagios_state(r);
            ClientCheck {
                job: r.job.clone(),
                client: r.client.clone(),
                state,
                exit_code: state as u8,
                message: message(r, status.at),
            }
        })
        .collect()
}

/// Runs the check and prints its answer; returns the Nagios exit code. Any failure to
/// read the state is UNKNOWN (3), never OK.
pub async fn check(config_path: &Path, job: Option<&str>, format: CheckFormat) -> u8 {
    let answer = tokio::time::timeout(DEADLINE, collect(config_path, job)).await;
    let result = match answer {
        Ok(r) => r,
        Err(_) => Err(anyhow!("no answer within {DEADLINE:?}")),
    };
    match result {
        Ok(checks) => print(&checks, job.is_none(), format),
        Err(e) => {
            let message = format!("backproof check failed: {e:#}");
            match format {
                CheckFormat::Nagios => println!("UNKNOWN - {}", message.replace('\n', " ")),
                CheckFormat::Json => println!(
                    "{}",
                    serde_json::json!({"state": "UNKNOWN", "exit_code": 3, "message": message})
                ),
            }
            Nagios::Unknown as u8
        }
    }
}

async fn collect(config_path: &Path, job: Option<&str>) -> Result<Vec<ClientCheck>> {
    let config = crate::app::setup::load(config_path)?;
    if let Some(j) = job {
        crate::app::setup::find_job(&config, j)?;
    }
    // The same query as `backproof status`, from the catalog or the daemon's API.
    let access = crate::app::connect(&std::sync::Arc::new(config))?;
    let status = access.service().status().await?;
    let mut all = checks(&status);
    if let Some(j) = job {
        all.retain(|c| c.job == j);
    }
    if all.is_empty() {
        return Err(anyhow!("no job to check"));
    }
    Ok(all)
}

fn print(checks: &[ClientCheck], all: bool, format: CheckFormat) -> u8 {
    let worst = checks
        .iter()
        .map(|c| c.state)
        .max_by_key(|s| s.severity())
        .unwrap_or(Nagios::Unknown);
    let count = |s: Nagios| checks.iter().filter(|c| c.state == s).count();
    match format {
        CheckFormat::Json => {
            let doc = if all {
                serde_json::json!({
                    "state": worst,
                    "exit_code": worst as u8,
                    "clients": checks,
                })
            } else {
                serde_json::to_value(&checks[0]).unwrap_or_default()
            };
            println!("{doc}");
        }
        CheckFormat::Nagios if !all => {
            let c = &checks[0];
            println!("{} - {}", c.state.label(), c.message);
        }
        CheckFormat::Nagios => {
            let first = checks
                .iter()
                .filter(|c| c.state == worst)
                .map(|c| c.message.as_str())
                .next()
                .unwrap_or("");
            let summary = if worst == Nagios::Ok {
                format!("all {} clients verified", checks.len())
            } else {
                format!(
                    "{} of {} clients {}: {first}",
                    count(worst),
                    checks.len(),
                    worst.label()
                )
            };
            println!(
                "{} - {summary} | ok={} warning={} critical={} unknown={}",
                worst.label(),
                count(Nagios::Ok),
                count(Nagios::Warning),
                count(Nagios::Critical),
                count(Nagios::Unknown)
            );
            // Nagios long output: one line per client, worst first.
            let mut sorted: Vec<&ClientCheck> = checks.iter().collect();
            sorted.sort_by_key(|c| std::cmp::Reverse(c.state.severity()));
            for c in sorted {
                println!("{} - {}", c.state.label(), c.message);
            }
        }
    }
    worst as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: ClientState, last_run: Option<&str>) -> StatusRow {
        StatusRow {
            job: "acme".into(),
            client: "Acme Dental".into(),
            state,
            last_run: last_run.map(str::to_string),
            last_started: None,
            verdict: None,
            newest_backup: None,
            newest_backup_age_seconds: None,
            worst_problem: None,
            open_problems: 0,
            acknowledged_problems: 0,
            not_verified_reason: None,
            next_run: None,
            running: None,
            missed_slot: None,
            nobody_notified: false,
            coverage_30d: None,
            targets: Vec::new(),
            unacknowledged: Vec::new(),
            run_durations: Default::default(),
        }
    }

    #[test]
    fn every_client_state_has_its_nagios_state() {
        let r = Some("r1");
        assert_eq!(nagios_state(&row(ClientState::Ok, r)), Nagios::Ok);
        assert_eq!(nagios_state(&row(ClientState::Warn, r)), Nagios::Warning);
        assert_eq!(
            nagios_state(&row(ClientState::Acknowledged, r)),
            Nagios::Warning
        );
        assert_eq!(
            nagios_state(&row(ClientState::Problem, r)),
            Nagios::Critical
        );
        assert_eq!(nagios_state(&row(ClientState::Missed, r)), Nagios::Critical);
        assert_eq!(
            nagios_state(&row(ClientState::NotVerified, r)),
            Nagios::Critical
        );
        assert_eq!(
            nagios_state(&row(ClientState::NotVerified, None)),
            Nagios::Unknown
        );
        assert!(Nagios::Critical.severity() > Nagios::Unknown.severity());
        assert!(Nagios::Unknown.severity() > Nagios::Warning.severity());
    }
}

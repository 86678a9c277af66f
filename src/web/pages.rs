//! The pages: fleet, client and run, rendered on the server from the application
//! layer's queries (the fleet page reads the very [`crate::status::Status`] that
//! `backproof status --json` prints).

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::app::AppError;
use crate::evidence::{RunEvidence, RunStatus, Verdict};
use crate::format::{human_age, human_bytes, short_hash};
use crate::status::{ClientState, StatusRow};

use super::WebState;
use super::auth::Csrf;

/// Days of history the client page charts.
const CHART_DAYS: i64 = 90;
/// Runs the client page reads.
const CLIENT_RUNS: usize = 400;

fn failed(e: AppError) -> Response {
    let code = match e {
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Invalid(_) => StatusCode::BAD_REQUEST,
        AppError::Catalog(_) | AppError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (
        code,
        Html(format!(
            "<!doctype html><title>backproof</title><p>{}</p>",
            escape(&e.to_string())
        )),
    )
        .into_response()
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `3 h 12 min ago`, or `in 2 h` for the future.
fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match (now - t).to_std() {
        Ok(d) => format!("{} ago", human_age(d)),
        Err(_) => match (t - now).to_std() {
            Ok(d) => format!("in {}", human_age(d)),
            Err(_) => "now".into(),
        },
    }
}

/// The name of a state in URLs and CSS classes (`problem`, `not_verified`...).
fn state_key(s: ClientState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn verdict_key(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Pass) => "ok",
        Some(Verdict::Warn) => "warn",
        Some(Verdict::Fail) => "problem",
        Some(Verdict::Error) | None => "not_verified",
    }
}

/// One line of the fleet table.
struct FleetRow {
    job: String,
    client: String,
    state: String,
    state_label: &'static str,
    kind: String,
    problem: String,
    acknowledged: bool,
    more: usize,
    last_run: Option<String>,
    last_verdict: String,
    last_when: String,
    newest_age: String,
    coverage: String,
    next_run: String,
    running: bool,
}

impl FleetRow {
    fn of(r: &StatusRow, now: DateTime<Utc>, daemon: bool) -> FleetRow {
        let (kind, problem, acknowledged) = match (&r.worst_problem, &r.not_verified_reason) {
            (Some(p), _) => (
                p.kind.label().to_string(),
                format!("{}: {}", p.target, p.summary),
                p.acknowledged,
            ),
            (None, _) if r.missed_slot.is_some() => (
                "missed run".into(),
                format!(
                    "the run scheduled for {} did not happen",
                    r.missed_slot
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default()
                ),
                false,
            ),
            (None, Some(reason)) => ("could not verify".into(), reason.clone(), false),
            (None, None) if r.last_run.is_none() => {
                ("could not verify".into(), "never run".into(), false)
            }
            (None, None) => (String::new(), String::new(), false),
        };
        FleetRow {
            job: r.job.clone(),
            client: r.client.clone(),
            state: state_key(r.state),
            state_label: r.state.label(),
            kind,
            problem,
            acknowledged,
            more: r.open_problems.saturating_sub(1),
            last_run: r.last_run.clone(),
            last_verdict: r.verdict.map(|v| v.label()).unwrap_or("-").to_string(),
            last_when: r
                .last_started
                .map(|t| relative(t, now))
                .unwrap_or_else(|| "never".into()),
            newest_age: r
                .newest_backup_age_seconds
                .map(|s| format!("{} old", human_age(std::time::Duration::from_secs(s))))
                .unwrap_or_else(|| "-".into()),
            coverage: r
                .coverage_30d
                .map(|c| format!("{:.0} %", c * 100.0))
                .unwrap_or_else(|| "-".into()),
            next_run: match (r.next_run, daemon) {
                (Some(t), _) => relative(t, now),
                (None, true) => "-".into(),
                (None, false) => "no daemon".into(),
            },
            running: r.running.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage {
    /// The session's CSRF token, for the Sign out form (empty with the bearer token).
    session: String,
    rows: Vec<FleetRow>,
    total: usize,
    filter: String,
    noc: bool,
    states: Vec<(String, &'static str)>,
    at: String,
    outbox_queued: usize,
    outbox_rejected: usize,
    webhooks_queued: usize,
    webhooks_rejected: usize,
}

#[derive(Deserialize, Default)]
pub struct FleetQuery {
    state: Option<String>,
    noc: Option<String>,
}

pub async fn fleet(
    State(state): State<Arc<WebState>>,
    Query(q): Query<FleetQuery>,
    csrf: Option<Extension<Csrf>>,
) -> Response {
    let status = match (state.services)().status().await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let noc = q.noc.as_deref().is_some_and(|v| v != "0" && !v.is_empty());
    let filter = q.state.unwrap_or_default();
    let rows = status
        .rows
        .iter()
        .filter(|r| filter.is_empty() || state_key(r.state) == filter)
        .filter(|r| {
            !noc || matches!(
                r.state,
                ClientState::Problem | ClientState::Missed | ClientState::NotVerified
            )
        })
        .map(|r| FleetRow::of(r, status.at, status.daemon_running))
        .collect();
    let states = [
        ClientState::Problem,
        ClientState::Missed,
        ClientState::NotVerified,
        ClientState::Acknowledged,
        ClientState::Warn,
        ClientState::Ok,
    ]
    .into_iter()
    .map(|s| (state_key(s), s.label()))
    .collect();
    page(FleetPage {
        session: session_csrf(&csrf),
        rows,
        total: status.rows.len(),
        filter,
        noc,
        states,
        at: status.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        outbox_queued: status.outbox_queued,
        outbox_rejected: status.outbox_rejected,
        webhooks_queued: status.webhooks_queued,
        webhooks_rejected: status.webhooks_rejected,
    })
}

struct TargetView {
    name: String,
    location: String,
    verdict: String,
    verdict_key: &'static str,
    summary: String,
    checks: Vec<(String, String)>,
}

struct ProblemView {
    target: String,
    key: String,
    kind: &'static str,
    summary: String,
    since: String,
    opened_run: String,
    files: u64,
    paths: Vec<String>,
    acknowledged: Option<String>,
}

struct RunDot {
    id: String,
    key: &'static str,
    label: String,
}

#[derive(Template)]
#[template(path = "client.html")]
struct ClientPage {
    /// The session's CSRF token, for the Sign out form (empty with the bearer token).
    session: String,
    job: String,
    client: String,
    last_run: Option<String>,
    targets: Vec<TargetView>,
    problems: Vec<ProblemView>,
    timeline: Vec<RunDot>,
    chart: String,
    coverage_chart: String,
    age_chart: String,
    notes: Vec<String>,
    /// The "Test now" and "Acknowledge" forms' token: only for a signed-in browser
    /// that may use them (not a viewer).
    csrf: Option<String>,
    /// The account signed in (it acknowledges as itself); `None` with the API token.
    user: Option<String>,
}

pub async fn client(
    State(state): State<Arc<WebState>>,
    Path(job): Path<String>,
    csrf: Option<Extension<Csrf>>,
    who: Option<Extension<super::Who>>,
) -> Response {
    let may_act = who.as_ref().is_some_and(|w| w.0.may_act());
    let user = who.filter(|w| w.0.is_account()).map(|w| w.0.name);
    let history = match (state.services)().history(&job, CLIENT_RUNS).await {
        Ok(h) => h,
        Err(e) => return failed(e),
    };
    let now = Utc::now();
    let last = history
        .runs
        .iter()
        .find(|r| r.status == RunStatus::Finished);
    let targets = last
        .map(|r| {
            r.targets
                .iter()
                .map(|t| TargetView {
                    name: t.name.clone(),
                    location: t.location.clone(),
                    verdict: t.verdict.label().to_string(),
                    verdict_key: verdict_key(Some(t.verdict)),
                    summary: t.summary.clone(),
                    checks: t
                        .checks
                        .iter()
                        .map(|c| {
                            (
                                c.check.label().to_string(),
                                format!("{}: {}", c.verdict.label(), c.reason),
                            )
                        })
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    let problems = match (state.services)().problems(&job).await {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let problems = problems
        .into_iter()
        .map(|p| ProblemView {
            target: p.target,
            key: p.key,
            kind: p.kind.label(),
            summary: p.summary,
            since: relative(p.opened_at, now),
            opened_run: p.opened_run,
            files: p.files,
            paths: p.paths,
            acknowledged: p.acknowledged.map(|a| {
                format!(
                    "acknowledged by {}: {}{}",
                    a.by,
                    a.reason,
                    a.until
                        .map(|u| format!(", until {}", u.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_default()
                )
            }),
        })
        .collect();
    let timeline = history
        .runs
        .iter()
        .rev()
        .map(|r| RunDot {
            id: r.run_id.clone(),
            key: match r.status {
                RunStatus::Finished => verdict_key(r.verdict),
                _ => "not_verified",
            },
            label: format!(
                "{} {}",
                r.started_at.format("%Y-%m-%d %H:%M"),
                match r.status {
                    RunStatus::Finished => r.effective_verdict().label(),
                    RunStatus::Running => "RUNNING",
                    RunStatus::Interrupted => "INTERRUPTED",
                }
            ),
        })
        .collect();
    let points: Vec<(DateTime<Utc>, f64)> = history
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Finished)
        .filter_map(|r| {
            let (bytes, seconds) = r
                .targets
                .iter()
                .filter_map(|t| t.restore.as_ref())
                .fold((0u64, 0f64), |(b, s), x| (b + x.bytes, s + x.seconds));
            (bytes > 0 && seconds > 0.0).then(|| (r.started_at, bytes as f64 / seconds))
        })
        .collect();
    let chart = super::svg::line_chart(
        &points,
        now,
        CHART_DAYS,
        "restore throughput over the last 90 days",
        |max| format!("{}/s", human_bytes(max as u64)),
    );
    let finished = || {
        history
            .runs
            .iter()
            .filter(|r| r.status == RunStatus::Finished)
    };
    let coverage: Vec<(DateTime<Utc>, f64)> = finished()
        .filter_map(|r| {
            let (v, b) = r
                .targets
                .iter()
                .filter_map(|t| {
                    Some((
                        t.coverage.as_ref()?.verified_bytes_30d,
                        t.inventory.as_ref()?.bytes,
                    ))
                })
                .fold((0u64, 0u64), |(v, b), (tv, tb)| (v + tv, b + tb));
            (b > 0).then(|| (r.started_at, 100.0 * v as f64 / b as f64))
        })
        .collect();
    let ages: Vec<(DateTime<Utc>, f64)> = finished()
        .filter_map(|r| {
            let newest = r
                .targets
                .iter()
                .filter_map(|t| t.inventory.as_ref()?.newest.as_ref())
                .map(|n| n.modified)
                .min()?;
            Some((
                r.started_at,
                (r.started_at - newest).num_seconds().max(0) as f64 / 3600.0,
            ))
        })
        .collect();
    let coverage_chart = super::svg::line_chart(
        &coverage,
        now,
        CHART_DAYS,
        "coverage in the last 30 days, over the last 90 days",
        |max| format!("{max:.0} %"),
    );
    let age_chart = super::svg::line_chart(
        &ages,
        now,
        CHART_DAYS,
        "newest backup age at each run, over the last 90 days",
        |max| format!("{max:.1} h"),
    );
    page(ClientPage {
        session: session_csrf(&csrf),
        coverage_chart,
        age_chart,
        client: history
            .runs
            .first()
            .map(|r| r.client.clone())
            .unwrap_or_default(),
        job,
        last_run: last.map(|r| r.run_id.clone()),
        targets,
        problems,
        timeline,
        chart,
        notes: history.notes,
        csrf: csrf.filter(|_| may_act).map(|c| c.0.0),
        user,
    })
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    /// The session's CSRF token, for the Sign out form (empty with the bearer token).
    session: String,
    id: String,
    job: String,
    client: String,
    verdict: String,
    verdict_key: &'static str,
    text: String,
    hash: String,
    short: String,
    previous_run: Option<String>,
    next_run: Option<String>,
    sealed: Option<bool>,
}

/// The run's evidence document and its BLAKE3.
async fn document(state: &WebState, id: &str) -> Result<(RunEvidence, Vec<u8>), AppError> {
    let service = (state.services)();
    let ev = service.show(id).await?;
    let doc = service.run_document(id).await?;
    Ok((ev, doc))
}

pub async fn run(
    State(state): State<Arc<WebState>>,
    Path(id): Path<String>,
    csrf: Option<Extension<Csrf>>,
) -> Response {
    let (ev, doc) = match document(&state, &id).await {
        Ok(d) => d,
        Err(e) => return failed(e),
    };
    let hash = blake3::hash(&doc).to_hex().to_string();
    // The run after this one seals it: its `previous_hash` is this document's hash.
    let later = (state.services)()
        .history(&ev.job, CLIENT_RUNS)
        .await
        .map(|h| h.runs)
        .unwrap_or_default();
    let next = later
        .iter()
        .find(|r| r.previous_run.as_deref() == Some(ev.run_id.as_str()));
    page(RunPage {
        session: session_csrf(&csrf),
        text: crate::report::run_summary(&ev, None),
        verdict: match ev.status {
            RunStatus::Finished => ev.effective_verdict().label().to_string(),
            RunStatus::Running => "RUNNING".into(),
            RunStatus::Interrupted => "INTERRUPTED".into(),
        },
        verdict_key: match ev.status {
            RunStatus::Finished => verdict_key(ev.verdict),
            _ => "not_verified",
        },
        short: short_hash(&hash),
        sealed: next.map(|n| n.previous_hash.as_deref() == Some(hash.as_str())),
        next_run: next.map(|n| n.run_id.clone()),
        previous_run: ev.previous_run.clone(),
        hash,
        id: ev.run_id,
        job: ev.job,
        client: ev.client,
    })
}

pub async fn evidence_json(State(state): State<Arc<WebState>>, Path(id): Path<String>) -> Response {
    match document(&state, &id).await {
        Ok((ev, doc)) => (
            [
                (header::CONTENT_TYPE, "application/json".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}-{}.json\"",
                        ev.job.replace(
                            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                            "_"
                        ),
                        ev.run_id.replace(
                            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                            "_"
                        )
                    ),
                ),
            ],
            doc,
        )
            .into_response(),
        Err(e) => failed(e),
    }
}

struct OutboxRow {
    state: &'static str,
    class: &'static str,
    kind: String,
    job: Option<String>,
    run_id: Option<String>,
    subject: String,
    to: String,
    created: String,
    detail: String,
}

/// One webhook message: the event, its `[[webhooks]]` entry, how delivery went.
struct WebhookRow {
    state: &'static str,
    class: &'static str,
    event: String,
    webhook: String,
    job: Option<String>,
    summary: String,
    created: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    /// The session's CSRF token, for the Sign out form (empty with the bearer token).
    session: String,
    rows: Vec<OutboxRow>,
    webhooks: Vec<WebhookRow>,
}

/// The state badge and delivery detail of a message or webhook message.
fn delivery_cells(
    delivery: &crate::app::Delivery,
    attempts: u32,
    next_attempt: chrono::DateTime<Utc>,
    last_error: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> (&'static str, &'static str, String) {
    use crate::app::Delivery;
    match delivery {
        Delivery::Pending => (
            "queued",
            "warn",
            match last_error {
                Some(e) => format!(
                    "{attempts} attempt(s), next {}; last error: {e}",
                    relative(next_attempt, now)
                ),
                None => format!("next attempt {}", relative(next_attempt, now)),
            },
        ),
        Delivery::Sent { at } => ("sent", "ok", relative(*at, now)),
        Delivery::Written { at, .. } => (
            "written to a file",
            "acknowledged",
            format!(
                "{}; no [smtp] configured, nobody was emailed",
                relative(*at, now)
            ),
        ),
        Delivery::Rejected { at, reason } => (
            "rejected",
            "problem",
            format!("{}: {reason}", relative(*at, now)),
        ),
    }
}

/// Queued, sent and rejected messages and webhook messages, newest first.
pub async fn outbox(State(state): State<Arc<WebState>>, csrf: Option<Extension<Csrf>>) -> Response {
    let services = (state.services)();
    let (items, hooks) = match (services.outbox().await, services.webhooks().await) {
        (Ok(items), Ok(hooks)) => (items, hooks),
        (Err(e), _) | (_, Err(e)) => return failed(e),
    };
    let now = Utc::now();
    let rows = items
        .into_iter()
        .rev()
        .map(|i| {
            let (state, class, detail) = delivery_cells(
                &i.delivery,
                i.attempts,
                i.next_attempt,
                i.last_error.as_deref(),
                now,
            );
            OutboxRow {
                state,
                class,
                kind: serde_json::to_value(i.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                    .unwrap_or_default(),
                job: i.job,
                run_id: i.run_id,
                subject: i.subject,
                to: i.to.join(", "),
                created: relative(i.created, now),
                detail,
            }
        })
        .collect();
    let webhooks = hooks
        .into_iter()
        .rev()
        .map(|i| {
            let (state, class, detail) = delivery_cells(
                &i.delivery,
                i.attempts,
                i.next_attempt,
                i.last_error.as_deref(),
                now,
            );
            WebhookRow {
                state,
                class,
                event: i.event,
                webhook: i.webhook,
                job: i.job,
                summary: i.summary,
                created: relative(i.created, now),
                detail,
            }
        })
        .collect();
    page(OutboxPage {
        rows,
        webhooks,
        session: session_csrf(&csrf),
    })
}

/// The session's CSRF token for the Sign out form of every page ("" with the bearer
/// token: no session to end).
pub(super) fn session_csrf(csrf: &Option<Extension<Csrf>>) -> String {
    csrf.as_ref().map(|c| c.0.0.clone()).unwrap_or_default()
}

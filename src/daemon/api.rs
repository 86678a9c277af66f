//! The local HTTP API (127.0.0.1 only), protected by a bearer token.
//!
//! | method | path | |
//! | --- | --- | --- |
//! | GET | `/v1/health` | no token needed: 200 while every part of the daemon makes progress, 503 when one is stuck |
//! | GET | `/v1/status` | every job: last run, verdict, newest backup, next run; outbox |
//! | GET | `/v1/jobs` | jobs with their last verdict, next run and running run |
//! | POST | `/v1/jobs/{job}/runs` | start a run (body `{"target": "nas"}` optional): 202 `{"run_id"}`, 409 if running |
//! | GET | `/v1/jobs/{job}/runs?limit=N` | the job's runs, newest first |
//! | POST | `/v1/jobs/{job}/ack` | acknowledge open problems (body: [`crate::ack::AckRequest`]) |
//! | GET | `/v1/jobs/{job}/problems` | the job's open problems now, worst first, with acknowledgements in force |
//! | GET | `/v1/jobs/{job}/evidence-chain` | check the job's evidence chain and files (409 while it runs) |
//! | GET | `/v1/jobs/{job}/digest` | the job's weekly owner summary now |
//! | POST | `/v1/jobs/{job}/digest` | queue the weekly owner summary for the owners: `{"queued": false}` if it has none |
//! | GET | `/v1/runs/{id}` | a run's evidence document |
//! | GET | `/v1/runs/{id}/progress` | a run's live progress |
//! | GET | `/v1/outbox` | queued, sent and rejected messages (without their bodies) |
//! | GET | `/v1/webhooks` | queued, sent and rejected webhook messages (without their bodies) |
//! | POST | `/v1/outbox/retry` | send every queued message and webhook message now |
//! | GET | `/v1/users` | the accounts of the web pages (names, roles, dates; never a hash) |
//! | POST | `/v1/users` | add an account (body: `{"name", "role", "password"}`): 201, 409 if it exists |
//! | POST | `/v1/users/{user}/password` | a new password (body `{"password"}`); the account's sessions end |
//! | DELETE | `/v1/users/{user}` | remove an account; its sessions end (409 for the last admin while others remain) |
//!
//! The same server answers the pages and `/metrics` ([`crate::web`]).
//!
//! Every request but `/v1/health` needs `Authorization: Bearer <token>` (401 otherwise). The token is read
//! from a file the daemon creates (mode 0600) and is never logged.
//!
//! The handlers are thin: each query and command is [`crate::app::Local`]'s, the same code
//! the command line runs when no daemon holds the catalog.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::{AppError, Local, Service};
use crate::evidence::Trigger;

use super::runs::{RunManager, StartError};

pub struct ApiState {
    pub manager: Arc<RunManager>,
    pub token: String,
    pub health: Arc<super::health::Health>,
}

pub fn router(state: Arc<ApiState>) -> Router {
    // Uptime monitors ask for the daemon's health without a token: status only, no
    // client data.
    let public = Router::new().route("/v1/health", get(health));
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/jobs", get(jobs))
        .route("/v1/jobs/{job}/runs", get(history).post(trigger))
        .route("/v1/jobs/{job}/ack", axum::routing::post(ack))
        .route("/v1/jobs/{job}/problems", get(problems))
        .route("/v1/jobs/{job}/evidence-chain", get(evidence_chain))
        .route("/v1/jobs/{job}/digest", get(digest).post(queue_digest))
        .route("/v1/runs/{id}", get(evidence))
        .route("/v1/runs/{id}/progress", get(progress))
        .route("/v1/outbox", get(outbox))
        .route("/v1/webhooks", get(webhooks))
        .route("/v1/outbox/retry", axum::routing::post(outbox_retry))
        .route("/v1/users", get(users).post(add_user))
        .route(
            "/v1/users/{user}/password",
            axum::routing::post(set_password),
        )
        .route("/v1/users/{user}", axum::routing::delete(remove_user))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .merge(public)
        .with_state(state)
}

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({ "error": message.into() }))).into_response()
}

/// The daemon's own catalog and configuration, knowing which jobs run now.
pub(crate) fn local(state: &ApiState) -> Local {
    let m = state.manager.clone();
    Local::new(m.config(), m.catalog().clone()).in_daemon(
        Arc::new(move |job| m.running(job)),
        state.manager.mail.clone(),
    )
}

/// A query's answer as JSON, or its error with the status code that fits.
fn answer<T: Serialize>(result: Result<T, AppError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            let code = match e {
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::Invalid(_) => StatusCode::BAD_REQUEST,
                AppError::Catalog(_) | AppError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(code, e.to_string())
        }
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authorize(State(state): State<Arc<ApiState>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same(given.as_bytes(), state.token.as_bytes()) {
        tracing::warn!(method = %req.method(), path = %req.uri().path(), "API request without a valid token");
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    tracing::debug!(method = %req.method(), path = %req.uri().path(), "API request");
    next.run(req).await
}

/// 200 `{"status": "ok"}` while every part of the daemon makes progress, 503
/// `{"status": "stuck"}` otherwise, with each part's state. No token, no client data.
async fn health(State(state): State<Arc<ApiState>>) -> Response {
    let parts = state
        .health
        .parts(state.manager.config().daemon.stall_timeout);
    let ok = parts.iter().all(|p| p.ok);
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ok { "ok" } else { "stuck" },
        "version": env!("CARGO_PKG_VERSION"),
        "parts": parts,
    });
    (code, Json(body)).into_response()
}

async fn status(State(state): State<Arc<ApiState>>) -> Response {
    answer(local(&state).status().await)
}

#[derive(Serialize)]
struct JobInfo {
    job: String,
    client: String,
    last_run: Option<String>,
    last_verdict: Option<crate::evidence::Verdict>,
    next_run: Option<chrono::DateTime<chrono::Utc>>,
    running: Option<String>,
}

async fn jobs(State(state): State<Arc<ApiState>>) -> Response {
    match local(&state).status().await {
        Ok(s) => Json(
            s.rows
                .into_iter()
                .map(|r| JobInfo {
                    job: r.job,
                    client: r.client,
                    last_run: r.last_run,
                    last_verdict: r.verdict,
                    next_run: r.next_run,
                    running: r.running,
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => answer::<()>(Err(e)),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    target: Option<String>,
}

async fn trigger(
    State(state): State<Arc<ApiState>>,
    Path(job): Path<String>,
    body: Bytes,
) -> Response {
    let body: TriggerBody = if body.is_empty() {
        TriggerBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad request body: {e}")),
        }
    };
    match state.manager.start(&job, body.target, Trigger::Manual) {
        Ok(run_id) => {
            tracing::info!(job = %job, run_id = %run_id, "run started through the API");
            (StatusCode::ACCEPTED, Json(json!({ "run_id": run_id }))).into_response()
        }
        Err(e @ StartError::AlreadyRunning { .. }) => error(StatusCode::CONFLICT, e.to_string()),
        Err(e @ (StartError::UnknownJob { .. } | StartError::UnknownTarget { .. })) => {
            error(StatusCode::NOT_FOUND, e.to_string())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn ack(
    State(state): State<Arc<ApiState>>,
    Path(job): Path<String>,
    Json(req): Json<crate::ack::AckRequest>,
) -> Response {
    answer(local(&state).ack(&job, &req).await)
}

async fn problems(State(state): State<Arc<ApiState>>, Path(job): Path<String>) -> Response {
    answer(local(&state).problems(&job).await)
}

#[derive(Deserialize)]
struct HistoryQuery {
    limit: Option<usize>,
}

async fn history(
    State(state): State<Arc<ApiState>>,
    Path(job): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let history = local(&state).history(&job, q.limit.unwrap_or(20)).await;
    answer(history.map(|h| h.runs))
}

/// `backproof verify-evidence` while the daemon holds the catalog (409 while the job
/// runs).
async fn evidence_chain(State(state): State<Arc<ApiState>>, Path(job): Path<String>) -> Response {
    answer(local(&state).verify_evidence(&job).await)
}

async fn digest(State(state): State<Arc<ApiState>>, Path(job): Path<String>) -> Response {
    answer(local(&state).digest(&job).await)
}

async fn queue_digest(State(state): State<Arc<ApiState>>, Path(job): Path<String>) -> Response {
    answer(
        local(&state)
            .queue_digest(&job)
            .await
            .map(|queued| json!({ "queued": queued })),
    )
}

async fn evidence(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Response {
    answer(local(&state).show(&id).await)
}

async fn progress(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Response {
    match state.manager.progress(&id) {
        Some(p) => Json(p).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no recent run `{id}`")),
    }
}

async fn outbox(State(state): State<Arc<ApiState>>) -> Response {
    answer(local(&state).outbox().await)
}

async fn webhooks(State(state): State<Arc<ApiState>>) -> Response {
    answer(local(&state).webhooks().await)
}

async fn outbox_retry(State(state): State<Arc<ApiState>>) -> Response {
    answer(local(&state).outbox_retry().await)
}

/// Managing accounts needs the API token (an admin's: the token is the daemon's own).
async fn users(State(state): State<Arc<ApiState>>) -> Response {
    answer(local(&state).users().await)
}

async fn add_user(
    State(state): State<Arc<ApiState>>,
    Json(user): Json<crate::app::users::NewUser>,
) -> Response {
    match local(&state).add_user(&user).await {
        Ok(info) => (StatusCode::CREATED, Json(info)).into_response(),
        Err(e) => answer::<()>(Err(e)),
    }
}

async fn set_password(
    State(state): State<Arc<ApiState>>,
    Path(user): Path<String>,
    Json(body): Json<crate::app::users::NewPassword>,
) -> Response {
    answer(
        local(&state)
            .set_password(&user, &body.password)
            .await
            .map(|()| json!({ "changed": user })),
    )
}

async fn remove_user(State(state): State<Arc<ApiState>>, Path(user): Path<String>) -> Response {
    answer(
        local(&state)
            .remove_user(&user)
            .await
            .map(|()| json!({ "removed": user })),
    )
}

/// The pages' "Test now" and live progress: the same run manager as `POST /v1/jobs/{job}/runs`.
pub(crate) struct WebRuns(pub Arc<RunManager>);

impl crate::web::Runs for WebRuns {
    fn start(&self, job: &str, target: Option<&str>) -> Result<String, (StatusCode, String)> {
        self.0
            .start(job, target.map(str::to_string), Trigger::Manual)
            .map_err(|e| match e {
                StartError::AlreadyRunning { .. } => (StatusCode::CONFLICT, e.to_string()),
                StartError::UnknownJob { .. } | StartError::UnknownTarget { .. } => {
                    (StatusCode::NOT_FOUND, e.to_string())
                }
                e => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            })
    }

    fn progress(&self, run_id: &str) -> Option<crate::progress::ProgressState> {
        self.0.progress(run_id)
    }
}

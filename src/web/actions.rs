//! "Test now": a run of one job (or of one of its targets) started from its client page (a form with the session's
//! CSRF token), and the page that follows it live. The page refreshes itself without
//! JavaScript; with it, a server-sent event stream (`/runs/{id}/events`) moves the bar.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use crate::format::human_bytes;
use crate::progress::{ProgressState, RunState};

use super::WebState;
use super::auth::Who;

/// How often the event stream sends the progress.
const TICK: Duration = Duration::from_millis(500);
/// The event stream ends after this long, whatever the run does (the page reconnects).
const STREAM_LIMIT: Duration = Duration::from_secs(600);

#[derive(Deserialize)]
pub struct TestNow {
    #[serde(default)]
    csrf: String,
    /// One target of the job; empty or absent: all of them.
    #[serde(default)]
    target: String,
}

pub async fn test_now(
    State(state): State<Arc<WebState>>,
    Path(job): Path<String>,
    who: Option<Extension<Who>>,
    headers: HeaderMap,
    Form(form): Form<TestNow>,
) -> Response {
    // The role first: a viewer is told why, whatever the form carries.
    let Some(who) = may_act(who, &job, "Test now") else {
        return viewer_refused("Test now");
    };
    if let Some(refused) = refuse_without_csrf(&state, &headers, &form.csrf, &job) {
        return refused;
    }
    let target = Some(form.target.trim()).filter(|t| !t.is_empty());
    match state.runs.start(&job, target) {
        Ok(run_id) => {
            tracing::info!(job = %job, target = target.unwrap_or("all"), run_id = %run_id, user = %who.name, "run started from the web page");
            Redirect::to(&format!("/runs/{run_id}/live")).into_response()
        }
        Err((code, text)) => message(code, &text, &job),
    }
}

#[derive(Deserialize)]
pub struct AckForm {
    #[serde(default)]
    csrf: String,
    problem: String,
    target: String,
    reason: String,
    /// Who acknowledges, when signed in with the API token; an account acknowledges as
    /// itself.
    #[serde(default)]
    by: String,
    /// As `backproof ack --until` (`2026-12-31`: at the end of that day, UTC; `3d`). Empty:
    /// until fixed.
    #[serde(default)]
    until: String,
}

/// Acknowledges one open problem: the same command as `backproof ack`.
pub async fn acknowledge(
    State(state): State<Arc<WebState>>,
    Path(job): Path<String>,
    who: Option<Extension<Who>>,
    headers: HeaderMap,
    Form(form): Form<AckForm>,
) -> Response {
    // The role first: a viewer is told why, whatever the form carries.
    let Some(who) = may_act(who, &job, "Acknowledge") else {
        return viewer_refused("Acknowledge");
    };
    if let Some(refused) = refuse_without_csrf(&state, &headers, &form.csrf, &job) {
        return refused;
    }
    let by = if who.is_account() {
        who.name.clone()
    } else {
        form.by
    };
    // The same reading of `until` as `backproof ack --until` (dates at the end of the day,
    // in UTC here: a page has no job time zone at hand).
    let until = match form.until.trim() {
        "" => None,
        text => match crate::ack::parse_until(text, chrono_tz::UTC, chrono::Utc::now()) {
            Ok(t) => Some(t),
            Err(why) => return message(StatusCode::BAD_REQUEST, &why, &job),
        },
    };
    let req = crate::ack::AckRequest {
        target: Some(form.target),
        problem: Some(form.problem),
        reason: form.reason,
        until,
        by,
    };
    match (state.services)().ack(&job, &req).await {
        Ok(_) => Redirect::to(&format!("/clients/{job}")).into_response(),
        Err(e) => {
            let code = match e {
                crate::app::AppError::NotFound(_) => StatusCode::NOT_FOUND,
                crate::app::AppError::Invalid(_) => StatusCode::BAD_REQUEST,
                crate::app::AppError::Conflict(_) => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            message(code, &e.to_string(), &job)
        }
    }
}

/// Who made the request, if they may start runs and acknowledge (technicians and
/// admins); `None` (logged) otherwise.
fn may_act(who: Option<Extension<Who>>, job: &str, what: &str) -> Option<Who> {
    match who {
        Some(Extension(who)) if who.may_act() => Some(who),
        who => {
            let name = who.map(|w| w.0.name).unwrap_or_default();
            tracing::warn!(job = %job, user = %name, "web: {what} refused: viewers may not");
            None
        }
    }
}

fn viewer_refused(what: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        format!("{what} needs a technician or an admin; you are signed in as a viewer\n"),
    )
        .into_response()
}

/// The refusal of a form without this session's CSRF token, or `None` when it has it.
fn refuse_without_csrf(
    state: &WebState,
    headers: &HeaderMap,
    csrf: &str,
    job: &str,
) -> Option<Response> {
    if state.sessions.csrf_ok(headers, csrf) {
        return None;
    }
    tracing::warn!(job = %job, "web: a form without a valid CSRF token was refused");
    Some(
        (
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or wrong\n",
        )
            .into_response(),
    )
}

fn message(code: StatusCode, text: &str, job: &str) -> Response {
    (
        code,
        Html(format!(
            "<!doctype html><title>backproof</title><p>{}</p><p><a href=\"/clients/{}\">back</a></p>",
            super::pages::escape(text),
            super::pages::escape(job)
        )),
    )
        .into_response()
}

fn ended(p: &ProgressState) -> bool {
    matches!(p.state, RunState::Finished | RunState::Interrupted)
}

/// The progress as the live page shows it (also the data of each event).
fn line(p: &ProgressState) -> String {
    let mut s = format!(
        "{}: {} of {} files, {} of {}",
        match p.state {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Interrupted => "interrupted",
        },
        p.files_done,
        p.files_total,
        human_bytes(p.bytes_done),
        human_bytes(p.bytes_total),
    );
    if let Some(t) = &p.target {
        s.push_str(&format!(", target {t}"));
    }
    if let Some(f) = &p.current_file {
        s.push_str(&format!(", now {}", crate::format::shown(f)));
    }
    s
}

#[derive(Template)]
#[template(path = "live.html")]
struct LivePage {
    session: String,
    id: String,
    job: String,
    line: String,
    done: u64,
    total: u64,
}

pub async fn live(
    State(state): State<Arc<WebState>>,
    Path(id): Path<String>,
    csrf: Option<Extension<super::auth::Csrf>>,
) -> Response {
    let Some(p) = state.runs.progress(&id) else {
        // Not a recent run of this daemon: its evidence, if there is any.
        return Redirect::to(&format!("/runs/{id}")).into_response();
    };
    if ended(&p) {
        return Redirect::to(&format!("/runs/{id}")).into_response();
    }
    let page = LivePage {
        session: super::pages::session_csrf(&csrf),
        line: line(&p),
        done: p.bytes_done,
        total: p.bytes_total.max(1),
        job: p.job,
        id,
    };
    match page.render() {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Server-sent events: `progress` with `{"line", "done", "total"}` every [`TICK`], then
/// one `end` when the run has ended (or is not known).
pub async fn events(State(state): State<Arc<WebState>>, Path(id): Path<String>) -> Response {
    let started = tokio::time::Instant::now();
    let stream = futures::stream::unfold(Some(()), move |go| {
        let state = state.clone();
        let id = id.clone();
        async move {
            go?;
            let p = state.runs.progress(&id);
            let event = match &p {
                Some(p) if !ended(p) && started.elapsed() < STREAM_LIMIT => {
                    tokio::time::sleep(TICK).await;
                    let data = serde_json::json!({
                        "line": line(p),
                        "done": p.bytes_done,
                        "total": p.bytes_total.max(1),
                    });
                    return Some((
                        Ok::<Event, Infallible>(
                            Event::default().event("progress").data(data.to_string()),
                        ),
                        Some(()),
                    ));
                }
                Some(p) => Event::default().event("end").data(line(p)),
                None => Event::default().event("end").data("not a recent run"),
            };
            Some((Ok(event), None))
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

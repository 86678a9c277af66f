//! Who may see the pages: a request with the API's bearer token, or a browser signed in
//! with it at `/login` (a random session id in an `HttpOnly; SameSite=Strict` cookie, kept
//! in memory for [`SESSION_LIFETIME`]; a restart of the daemon signs everyone out).
//! Each session has a CSRF token its forms must carry, and wrong tokens are rate-limited
//! ([`MAX_FAILURES`] per [`FAILURE_WINDOW`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::WebState;

pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Wrong tokens allowed per [`FAILURE_WINDOW`]; beyond, every sign-in is refused (429)
/// until the window has passed.
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const COOKIE: &str = "backproof_session";

/// One signed-in browser: until when, and the token its forms must carry.
struct Session {
    until: Instant,
    csrf: String,
}

/// Signed-in browsers by session id, and the recent failed sign-ins.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>, Mutex<Vec<Instant>>);

/// The CSRF token of the request's session, for the forms of a page.
#[derive(Clone)]
pub struct Csrf(pub String);

fn random_hex() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    fn open(&self) -> String {
        let id = random_hex();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, s| s.until > now);
        map.insert(
            id.clone(),
            Session {
                until: now + SESSION_LIFETIME,
                csrf: random_hex(),
            },
        );
        id
    }

    /// Too many wrong tokens lately: refuse sign-ins for now.
    fn throttled(&self) -> bool {
        let mut failures = self.1.lock().unwrap_or_else(|e| e.into_inner());
        failures.retain(|t| t.elapsed() < FAILURE_WINDOW);
        failures.len() >= MAX_FAILURES
    }

    fn failed(&self) {
        let mut failures = self.1.lock().unwrap_or_else(|e| e.into_inner());
        failures.push(Instant::now());
    }

    /// The session's CSRF token, while the session is valid.
    fn csrf_of(&self, id: &str) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .filter(|s| s.until > Instant::now())
            .map(|s| s.csrf.clone())
    }

    /// The request comes from a signed-in browser and `given` is its session's CSRF token.
    pub fn csrf_ok(&self, headers: &HeaderMap, given: &str) -> bool {
        session_of(headers)
            .and_then(|id| self.csrf_of(&id))
            .is_some_and(|csrf| same(csrf.as_bytes(), given.as_bytes()))
    }

    fn close(&self, id: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn bearer_ok(state: &WebState, req: &Request) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same(given.as_bytes(), state.token.as_bytes()))
}

fn session_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

pub async fn require_session(
    State(state): State<Arc<WebState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let csrf = session_of(req.headers()).and_then(|id| state.sessions.csrf_of(&id));
    if let Some(csrf) = csrf {
        req.extensions_mut().insert(Csrf(csrf));
        return next.run(req).await;
    }
    if bearer_ok(&state, &req) {
        return next.run(req).await;
    }
    Redirect::to("/login").into_response()
}

const LOGIN_PAGE: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>backproof: sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}
.err{color:#b00020}</style></head><body><h1>backproof</h1>
<p>Sign in with the daemon's API token (the file <code>api.token</code> in <code>data_dir</code>).</p>
ERROR<form method="post" action="/login"><label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form></body></html>"#;

pub async fn login_form() -> Html<String> {
    Html(LOGIN_PAGE.replace("ERROR", ""))
}

#[derive(Deserialize)]
pub struct Login {
    token: String,
}

pub async fn login(State(state): State<Arc<WebState>>, Form(form): Form<Login>) -> Response {
    if state.sessions.throttled() {
        tracing::warn!("web sign-in refused: too many wrong tokens in the last minute");
        let page = LOGIN_PAGE.replace(
            "ERROR",
            r#"<p class="err">Too many failed sign-ins: wait a minute.</p>"#,
        );
        return (StatusCode::TOO_MANY_REQUESTS, Html(page)).into_response();
    }
    if !same(form.token.trim().as_bytes(), state.token.as_bytes()) {
        state.sessions.failed();
        tracing::warn!("web sign-in with a wrong token");
        let page = LOGIN_PAGE.replace("ERROR", r#"<p class="err">That is not the token.</p>"#);
        return (StatusCode::UNAUTHORIZED, Html(page)).into_response();
    }
    let id = state.sessions.open();
    tracing::info!("web sign-in");
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_LIFETIME.as_secs()
    );
    (
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie), (header::LOCATION, "/".into())],
    )
        .into_response()
}

pub async fn logout(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    if let Some(id) = session_of(&headers) {
        state.sessions.close(&id);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
            ),
            (header::LOCATION, "/login".into()),
        ],
    )
        .into_response()
}

//! Who may see the pages, and do what.
//!
//! - A request with the API's bearer token (scripts): an admin.
//! - A browser signed in at `/login`, with a user account (name and password, see
//!   [`crate::app::users`]; its role decides what it may do) or with the API token (an
//!   admin). The session is a random id in an `HttpOnly; SameSite=Strict` cookie (also
//!   `Secure` when the daemon serves TLS), kept in memory: it ends after [`SESSION_IDLE`]
//!   without a request, [`SESSION_LIFETIME`] after sign-in, when the account is removed
//!   or its password changes, at sign-out, and when the daemon restarts.
//! - Each session has a CSRF token its forms must carry.
//! - Failed sign-ins are rate-limited per user name ([`MAX_FAILURES`] per
//!   [`FAILURE_WINDOW`]) and overall ([`MAX_FAILURES_ALL`]), and every attempt is logged
//!   with the name and the outcome (never the password or token).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::users::Role;

use super::WebState;

/// A session ends this long after sign-in, whatever happens.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// A session ends after this long without a request.
pub const SESSION_IDLE: Duration = Duration::from_secs(3600);
/// Failed sign-ins allowed per user name (or with the token) per [`FAILURE_WINDOW`];
/// beyond, that name's sign-ins are refused (429) until the window has passed.
pub const MAX_FAILURES: usize = 5;
/// Failed sign-ins allowed over all names per [`FAILURE_WINDOW`].
pub const MAX_FAILURES_ALL: usize = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const COOKIE: &str = "backproof_session";
/// The name a token sign-in (or a bearer request) acts as.
pub const TOKEN_USER: &str = "api-token";

/// Who makes a request: an account (with the stamp its session was opened with) or the
/// API token.
#[derive(Clone, Debug)]
pub struct Who {
    pub name: String,
    pub role: Role,
    /// `Some` for a user account.
    stamp: Option<String>,
}

impl Who {
    fn token() -> Who {
        Who {
            name: TOKEN_USER.into(),
            role: Role::Admin,
            stamp: None,
        }
    }

    /// Signed in with a user account (not the API token).
    pub fn is_account(&self) -> bool {
        self.stamp.is_some()
    }

    pub fn may_act(&self) -> bool {
        self.role >= Role::Technician
    }
}

/// One signed-in browser.
struct Session {
    opened: Instant,
    seen: Instant,
    csrf: String,
    who: Who,
}

/// Signed-in browsers by session id, and the recent failed sign-ins by name.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
    failures: Mutex<Vec<(String, Instant)>>,
}

/// The CSRF token of the request's session, for the forms of a page.
#[derive(Clone)]
pub struct Csrf(pub String);

fn random_hex() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.opened) < SESSION_LIFETIME && now.duration_since(s.seen) < SESSION_IDLE
}

impl Sessions {
    fn open(&self, who: Who) -> String {
        let id = random_hex();
        let mut map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, s| alive(s, now));
        map.insert(
            id.clone(),
            Session {
                opened: now,
                seen: now,
                csrf: random_hex(),
                who,
            },
        );
        id
    }

    /// Too many failed sign-ins lately, for this name or overall: refuse for now.
    fn throttled(&self, name: &str) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.retain(|(_, t)| t.elapsed() < FAILURE_WINDOW);
        failures.len() >= MAX_FAILURES_ALL
            || failures.iter().filter(|(n, _)| n == name).count() >= MAX_FAILURES
    }

    fn failed(&self, name: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.push((name.to_string(), Instant::now()));
    }

    /// The session's CSRF token and who it is, while it is alive (a request keeps it so).
    fn touch(&self, id: &str) -> Option<(String, Who)> {
        self.touch_at(id, Instant::now())
    }

    fn touch_at(&self, id: &str, now: Instant) -> Option<(String, Who)> {
        let mut map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(id) {
            Some(s) if alive(s, now) => {
                s.seen = now;
                Some((s.csrf.clone(), s.who.clone()))
            }
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    fn csrf_of(&self, id: &str) -> Option<String> {
        let map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .filter(|s| alive(s, Instant::now()))
            .map(|s| s.csrf.clone())
    }

    /// The request comes from a signed-in browser and `given` is its session's CSRF token.
    pub fn csrf_ok(&self, headers: &HeaderMap, given: &str) -> bool {
        session_of(headers)
            .and_then(|id| self.csrf_of(&id))
            .is_some_and(|csrf| same(csrf.as_bytes(), given.as_bytes()))
    }

    fn close(&self, id: &str) {
        let mut map = self.open.lock().unwrap_or_else(|e| e.into_inner());
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

/// The session's account as the catalog has it now: gone when the account was removed
/// or its password changed since sign-in; its role as it is now.
async fn still_valid(state: &WebState, who: Who) -> Option<Who> {
    let Some(stamp) = &who.stamp else {
        return Some(who);
    };
    match (state.services)().account(&who.name).await {
        Ok(Some(account)) if same(account.stamp.as_bytes(), stamp.as_bytes()) => Some(Who {
            role: account.role,
            ..who
        }),
        Ok(_) => None,
        Err(e) => {
            tracing::error!(error = %e, "web: the session's account could not be read");
            None
        }
    }
}

pub async fn require_session(
    State(state): State<Arc<WebState>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(id) = session_of(req.headers())
        && let Some((csrf, who)) = state.sessions.touch(&id)
    {
        match still_valid(&state, who).await {
            Some(who) => {
                req.extensions_mut().insert(Csrf(csrf));
                req.extensions_mut().insert(who);
                return next.run(req).await;
            }
            None => {
                tracing::info!(
                    "web: a session ended (its account was removed or its password changed)"
                );
                state.sessions.close(&id);
            }
        }
    }
    if bearer_ok(&state, &req) {
        req.extensions_mut().insert(Who::token());
        return next.run(req).await;
    }
    Redirect::to("/login").into_response()
}

const LOGIN_PAGE: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>backproof: sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}
.err{color:#b00020}</style></head><body><h1>backproof</h1>
<p>Sign in with your user name and password. Without a user name, the password is the daemon's API token (the file <code>api.token</code> in <code>data_dir</code>).</p>
ERROR<form method="post" action="/login"><label for="user">User name</label>
<input id="user" name="user" autocomplete="username" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>"#;

pub async fn login_form() -> Html<String> {
    Html(LOGIN_PAGE.replace("ERROR", ""))
}

/// The sign-in form: `user` and `password`, or the API token alone (`token`, or
/// `password` without `user`). No `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct Login {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
}

fn refused(code: StatusCode, message: &str) -> Response {
    let page = LOGIN_PAGE.replace("ERROR", &format!(r#"<p class="err">{message}</p>"#));
    (code, Html(page)).into_response()
}

pub async fn login(State(state): State<Arc<WebState>>, Form(form): Form<Login>) -> Response {
    let user = form.user.trim();
    // The name failures count under: the account's, or the token's.
    let name = if user.is_empty() { TOKEN_USER } else { user };
    let shown = crate::format::shown(name);
    if state.sessions.throttled(name) {
        tracing::warn!(user = %shown, outcome = "throttled", "web sign-in refused: too many wrong tokens or passwords in the last minute");
        return refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins: wait a minute.",
        );
    }
    let who = if user.is_empty() {
        let given = if form.token.is_empty() {
            &form.password
        } else {
            &form.token
        };
        same(given.trim().as_bytes(), state.token.as_bytes()).then(Who::token)
    } else {
        match (state.services)().sign_in(user, &form.password).await {
            Ok(account) => account.map(|a| Who {
                name: a.name,
                role: a.role,
                stamp: Some(a.stamp),
            }),
            Err(e) => {
                tracing::error!(user = %shown, error = %e, "web sign-in failed");
                return refused(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sign-in failed: see the daemon's log.",
                );
            }
        }
    };
    let Some(who) = who else {
        state.sessions.failed(name);
        tracing::warn!(user = %shown, outcome = "wrong", "web sign-in refused: wrong user name, password or token");
        return refused(
            StatusCode::UNAUTHORIZED,
            "That user name and password (or token) do not match.",
        );
    };
    tracing::info!(user = %shown, role = %who.role, outcome = "signed in", "web sign-in");
    let id = state.sessions.open(who);
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly;{} SameSite=Strict; Path=/; Max-Age={}",
        if state.secure_cookies { " Secure;" } else { "" },
        SESSION_LIFETIME.as_secs()
    );
    (
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie), (header::LOCATION, "/".into())],
    )
        .into_response()
}

/// The Sign out form (with the session's CSRF token, like every form).
#[derive(Deserialize)]
pub struct Logout {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Form(form): Form<Logout>,
) -> Response {
    if !state.sessions.csrf_ok(&headers, &form.csrf) {
        tracing::warn!("web: a sign-out without a valid CSRF token was refused");
        return (
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or wrong\n",
        )
            .into_response();
    }
    if let Some(id) = session_of(&headers) {
        state.sessions.close(&id);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!(
                    "{COOKIE}=; HttpOnly;{} SameSite=Strict; Path=/; Max-Age=0",
                    if state.secure_cookies { " Secure;" } else { "" }
                ),
            ),
            (header::LOCATION, "/login".into()),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_limited_per_name_and_overall() {
        let s = Sessions::default();
        for _ in 0..MAX_FAILURES {
            assert!(!s.throttled("alice"));
            s.failed("alice");
        }
        assert!(s.throttled("alice"));
        assert!(
            !s.throttled("bob"),
            "another name is not held up by alice's"
        );
        for i in MAX_FAILURES..MAX_FAILURES_ALL {
            s.failed(&format!("guess{i}"));
        }
        assert!(s.throttled("bob"), "overall limit");
    }

    #[test]
    fn an_idle_session_ends_and_every_session_ends_after_its_lifetime() {
        let s = Sessions::default();
        let id = s.open(Who::token());
        let start = Instant::now();
        let later = start + SESSION_IDLE - Duration::from_secs(5);
        assert!(s.touch_at(&id, later).is_some());
        // Used just now: alive one idle period later, not two.
        assert!(
            s.touch_at(&id, later + SESSION_IDLE - Duration::from_secs(5))
                .is_some()
        );
        let idle = later + SESSION_IDLE * 2 + Duration::from_secs(1);
        assert!(s.touch_at(&id, idle).is_none());
        assert!(s.touch(&id).is_none(), "an ended session is gone");

        let id = s.open(Who::token());
        let mut now = Instant::now();
        while now < start + SESSION_LIFETIME {
            assert!(s.touch_at(&id, now).is_some());
            now += SESSION_IDLE / 2;
        }
        assert!(
            s.touch_at(&id, now + Duration::from_secs(1)).is_none(),
            "lifetime, even when used"
        );
    }
}

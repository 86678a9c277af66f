//! The web side of the daemon: the fleet pages technicians open in a browser, and
//! `/metrics` for Prometheus. Served by the daemon next to its API, on the same loopback
//! address.
//!
//! | method | path | |
//! | --- | --- | --- |
//! | GET | `/metrics` | Prometheus text format; without the token only from loopback |
//! | GET | `/` | the fleet: every client, problems first (`?state=problem`, `?noc=1`) |
//! | GET | `/clients/{job}` | one client: targets, open problems, run history, throughput chart |
//! | GET | `/runs/{id}` | one run's evidence as the report prints it, its hash and chain links |
//! | GET | `/runs/{id}/evidence.json` | the evidence document to download |
//! | GET | `/outbox` | queued, sent and rejected messages |
//! | POST | `/clients/{job}/test` | "Test now": start a run (form with the session's CSRF token; technicians and admins) |
//! | POST | `/clients/{job}/ack` | acknowledge one open problem (form: problem, target, reason, by, until; CSRF token; technicians and admins) |
//! | GET | `/runs/{id}/live` | a run's progress, until it ends; `/runs/{id}/events`: the same as server-sent events |
//! | GET, POST | `/login` | sign in with a user name and password, or the API token: a session cookie (`HttpOnly; SameSite=Strict`, `Secure` over TLS) |
//! | POST | `/logout` | end the session |
//!
//! The pages need the API's bearer token, or the session cookie `/login` gives (see
//! `auth`: viewers read, technicians also test and acknowledge, admins are the token's
//! equal).
//! They call the application layer ([`crate::app::Service`]) only: the same queries as
//! the command line and the API.

mod actions;
mod auth;
pub mod metrics;
mod pages;
mod svg;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::Service;

pub use auth::{Sessions, Who};

/// Gives the service the pages query (the daemon's own catalog, knowing its runs).
pub type Services = Arc<dyn Fn() -> Box<dyn Service> + Send + Sync>;

/// Starting runs and following them: the daemon's run manager.
pub trait Runs: Send + Sync {
    /// Starts a run of `job` (of its target `target` only, if given) now: its id, or the
    /// status code and reason it was refused.
    fn start(&self, job: &str, target: Option<&str>) -> Result<String, (StatusCode, String)>;
    /// A recent run's progress.
    fn progress(&self, run_id: &str) -> Option<crate::progress::ProgressState>;
}

pub struct WebState {
    pub services: Services,
    pub runs: Arc<dyn Runs>,
    /// The API's bearer token.
    pub token: String,
    pub sessions: Sessions,
    /// The daemon serves TLS: session cookies are `Secure`.
    pub secure_cookies: bool,
}

impl WebState {
    pub fn new(
        services: Services,
        runs: Arc<dyn Runs>,
        token: String,
        secure_cookies: bool,
    ) -> WebState {
        WebState {
            services,
            runs,
            token,
            sessions: Sessions::default(),
            secure_cookies,
        }
    }
}

pub fn router(state: Arc<WebState>) -> Router {
    let pages = Router::new()
        .route("/", get(pages::fleet))
        .route("/clients/{job}", get(pages::client))
        .route("/runs/{id}", get(pages::run))
        .route("/runs/{id}/evidence.json", get(pages::evidence_json))
        .route("/outbox", get(pages::outbox))
        .route("/clients/{job}/test", post(actions::test_now))
        .route("/clients/{job}/ack", post(actions::acknowledge))
        .route("/runs/{id}/live", get(actions::live))
        .route("/runs/{id}/events", get(actions::events))
        .route("/logout", post(auth::logout))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_session,
        ))
        .layer(middleware::map_response(hardened));
    Router::new()
        .route("/metrics", get(metrics_text))
        .route(
            "/login",
            get(auth::login_form)
                .post(auth::login)
                .layer(middleware::map_response(hardened)),
        )
        .merge(pages)
        .with_state(state)
}

/// What a browser may do with the pages: nothing from elsewhere (no external asset, no
/// framing by another site, forms posted only here).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn hardened(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The peer of a request came from this machine (the daemon was served with its
/// connection info; without it, no).
fn from_loopback(req: &Request) -> bool {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback())
}

async fn metrics_text(State(state): State<Arc<WebState>>, req: Request) -> Response {
    if !from_loopback(&req) && !auth::bearer_ok(&state, &req) {
        return (
            StatusCode::UNAUTHORIZED,
            "metrics are readable from loopback, or with the API token\n",
        )
            .into_response();
    }
    let service = (state.services)();
    match metrics::render(service.as_ref()).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

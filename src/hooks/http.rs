//! The HTTP client of the hooks: every request has a deadline for the whole exchange, and
//! errors never show the URL (it carries a secret).

use std::time::Duration;

/// How long one hook request may take, from connecting to the last byte of the answer.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Why a hook request failed, without its URL.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct HookError {
    pub message: String,
    /// The receiver answered with a status that will not change on a retry (4xx other
    /// than 408 and 429).
    pub permanent: bool,
}

/// A client whose every request ends within `deadline`.
pub fn client(deadline: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(deadline)
        .connect_timeout(deadline)
        .user_agent(concat!("backproof/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Sends `req` and checks the status; the response body is read (bounded by the
/// deadline) and dropped.
pub async fn send(req: reqwest::RequestBuilder) -> Result<u16, HookError> {
    let resp = req.send().await.map_err(describe)?;
    let status = resp.status();
    // Read the answer so that the whole exchange is inside the deadline.
    let _ = resp.bytes().await;
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let code = status.as_u16();
    Err(HookError {
        message: format!("the receiver answered HTTP {code}"),
        permanent: status.is_client_error() && code != 408 && code != 429,
    })
}

/// A reqwest error in words, its URL left out.
fn describe(e: reqwest::Error) -> HookError {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    if timeout {
        message = format!("no answer within {DEADLINE:?} ({message})");
    }
    HookError {
        message,
        permanent: false,
    }
}

//! Dead-man's switch pings of a job's runs (Healthchecks protocol or Uptime Kuma push).
//!
//! - Healthchecks: `POST <url>/start` when the run starts; when it ends, `POST <url>` for
//!   a verified run (pass or warn) or `POST <url>/fail` for a failed or unverified one,
//!   with the run's text summary (at most [`BODY_LIMIT`]) as the body.
//! - Uptime Kuma: no start; at the end `GET <url>?status=up|down&msg=<verdict: headline>`.
//!
//! A ping never holds the run: the start ping goes out in the background, the end ping
//! after the run is recorded; each has a deadline ([`super::http::DEADLINE`]). A run that
//! ends without a verdict (interrupted, could not be carried out) still pings `/fail`
//! (`down`), so the monitor hears of it before its grace time.

use std::sync::Mutex;

use tokio::task::JoinHandle;

use crate::config::{Job, Ping, PingFormat};
use crate::evidence::{RunEvidence, Verdict};

use super::http;

/// The most of the run summary a ping carries (Healthchecks keeps 100 kB).
pub const BODY_LIMIT: usize = 100 * 1024;

/// End pings still in flight: the command line waits for them (bounded) before it exits.
static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// What a ping says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Start,
    Success,
    Fail,
}

/// The pings of one run: created when it starts, told when it ends. Dropped without an
/// end (the run was interrupted or could not be carried out), it pings a failure.
pub struct RunPing {
    ping: Ping,
    job: String,
    run_id: String,
    start: Option<JoinHandle<()>>,
    ended: bool,
}

impl RunPing {
    /// Sends the start ping of `job`'s run in the background; `None` if the job has no
    /// `ping_url`.
    pub fn start(job: &Job, run_id: &str) -> Option<RunPing> {
        let ping = job.ping.clone()?;
        let start = (ping.format == PingFormat::Healthchecks).then(|| {
            let (ping, job, run_id) = (ping.clone(), job.name.clone(), run_id.to_string());
            tokio::spawn(
                async move { send(&ping, Signal::Start, String::new(), &job, &run_id).await },
            )
        });
        Some(RunPing {
            ping,
            job: job.name.clone(),
            run_id: run_id.to_string(),
            start,
            ended: false,
        })
    }

    /// The run was recorded with this evidence: success for pass and warn, failure else.
    pub fn finished(mut self, ev: &RunEvidence) {
        self.ended = true;
        let signal = match ev.effective_verdict() {
            Verdict::Pass | Verdict::Warn => Signal::Success,
            Verdict::Fail | Verdict::Error => Signal::Fail,
        };
        let body = match self.ping.format {
            PingFormat::Healthchecks => truncate(crate::report::run_summary(ev, None), BODY_LIMIT),
            PingFormat::UptimeKuma => truncate(
                format!(
                    "{}: {}",
                    ev.effective_verdict().label(),
                    crate::report::email::headline(ev, false)
                ),
                200,
            ),
        };
        self.end(signal, body);
    }

    fn end(&mut self, signal: Signal, body: String) {
        let (ping, job, run_id, start) = (
            self.ping.clone(),
            self.job.clone(),
            self.run_id.clone(),
            self.start.take(),
        );
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let task = rt.spawn(async move {
            // The end after the start, as the monitor expects (the start has its deadline).
            if let Some(s) = start {
                let _ = s.await;
            }
            send(&ping, signal, body, &job, &run_id).await
        });
        if let Ok(mut p) = PENDING.lock() {
            p.retain(|t| !t.is_finished());
            p.push(task);
        }
    }
}

impl Drop for RunPing {
    fn drop(&mut self) {
        if !self.ended {
            self.ended = true;
            self.end(
                Signal::Fail,
                format!(
                    "Run {} of job {} ended without a verdict (interrupted or could not be carried out): not verified.",
                    self.run_id, self.job
                ),
            );
        }
    }
}

/// Waits for the end pings still in flight, at most one request deadline and a margin.
pub async fn settle() {
    let tasks: Vec<JoinHandle<()>> = match PENDING.lock() {
        Ok(mut p) => p.drain(..).collect(),
        Err(_) => return,
    };
    let all = futures::future::join_all(tasks);
    let _ = tokio::time::timeout(http::DEADLINE * 2 + std::time::Duration::from_secs(1), all).await;
}

/// The request a ping makes.
pub fn request(
    client: &reqwest::Client,
    ping: &Ping,
    signal: Signal,
    body: String,
) -> reqwest::RequestBuilder {
    let mut url = ping.url.expose().clone();
    match ping.format {
        PingFormat::Healthchecks => {
            let suffix = match signal {
                Signal::Start => Some("start"),
                Signal::Success => None,
                Signal::Fail => Some("fail"),
            };
            if let Some(s) = suffix {
                let path = format!("{}/{s}", url.path().trim_end_matches('/'));
                url.set_path(&path);
            }
            client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(body)
        }
        PingFormat::UptimeKuma => {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "status" && k != "msg")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let status = if signal == Signal::Fail { "down" } else { "up" };
            url.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("status", status)
                .append_pair("msg", &body);
            client.get(url)
        }
    }
}

async fn send(ping: &Ping, signal: Signal, body: String, job: &str, run_id: &str) {
    let client = http::client(http::DEADLINE);
    match http::send(request(&client, ping, signal, body)).await {
        Ok(_) => tracing::debug!(job, run_id, ?signal, monitor = %ping.url, "ping sent"),
        Err(e) => tracing::warn!(
            job,
            run_id,
            ?signal,
            monitor = %ping.url,
            error = %e,
            "the dead-man's switch ping failed; the run is not affected"
        ),
    }
}

/// `text` cut to at most `limit` bytes at a character boundary.
fn truncate(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(url: &str, format: PingFormat) -> Ping {
        Ping {
            url: crate::config::PingUrl::parse(url).unwrap(),
            format,
        }
    }

    #[test]
    fn healthchecks_urls() {
        let c = reqwest::Client::new();
        let p = ping("https://hc.example/ping/abc/", PingFormat::Healthchecks);
        let url = |s| {
            request(&c, &p, s, String::new())
                .build()
                .unwrap()
                .url()
                .to_string()
        };
        assert_eq!(url(Signal::Start), "https://hc.example/ping/abc/start");
        assert_eq!(url(Signal::Success), "https://hc.example/ping/abc/");
        assert_eq!(url(Signal::Fail), "https://hc.example/ping/abc/fail");
    }

    #[test]
    fn uptime_kuma_replaces_status_and_msg() {
        let c = reqwest::Client::new();
        let p = ping(
            "https://kuma.example/api/push/tok?status=up&msg=OK&ping=",
            PingFormat::UptimeKuma,
        );
        let r = request(&c, &p, Signal::Fail, "FAIL: 2 corrupt files".into())
            .build()
            .unwrap();
        assert_eq!(r.method(), "GET");
        let q: Vec<(String, String)> = r
            .url()
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        assert_eq!(
            q,
            [
                ("ping".into(), "".into()),
                ("status".into(), "down".into()),
                ("msg".into(), "FAIL: 2 corrupt files".into())
            ]
        );
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("aé".into(), 2), "a");
        assert_eq!(truncate("abc".into(), 5), "abc");
    }
}

//! Talking to a running daemon through its local API: the daemon holds the catalog, so
//! `run`, `status`, `history` and `show` go through it.

use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::evidence::RunEvidence;
use crate::progress::ProgressState;
use crate::status::Status;

pub struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
    /// How long `outbox --retry` waits for the daemon's delivery round.
    retry_wait: std::time::Duration,
}

impl Remote {
    /// Connects with the token file the daemon created beside the catalog.
    pub fn connect(config: &Config) -> Result<Remote> {
        let path = crate::daemon::token_path(&config.data_dir);
        let token = std::fs::read_to_string(&path)
            .with_context(|| {
                format!(
                    "the daemon holds the catalog; reading its API token {} failed",
                    path.display()
                )
            })?
            .trim()
            .to_string();
        Ok(Remote {
            base: format!("http://{}", config.daemon.listen),
            token,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            retry_wait: config
                .smtp
                .as_ref()
                .map_or(std::time::Duration::ZERO, |s| s.send_timeout * 2)
                + std::time::Duration::from_secs(30),
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = req.bearer_auth(&self.token).send().await.with_context(|| {
            format!(
                "the daemon holds the catalog but its API at {} does not answer",
                self.base
            )
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        let message = body["error"].as_str().unwrap_or("no detail").to_string();
        bail!("the daemon answered {status}: {message}");
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await?;
        Ok(resp.json().await?)
    }

    pub async fn status(&self) -> Result<Status> {
        self.get("/v1/status").await
    }

    pub async fn history(&self, job: &str, limit: usize) -> Result<Vec<RunEvidence>> {
        self.get(&format!("/v1/jobs/{job}/runs?limit={limit}"))
            .await
    }

    pub async fn show(&self, run_id: &str) -> Result<RunEvidence> {
        self.get(&format!("/v1/runs/{run_id}")).await
    }

    /// Checks a job's evidence chain in the daemon, which holds the catalog.
    pub async fn verify_evidence(&self, job: &str) -> Result<crate::chain::ChainCheck> {
        self.get(&format!("/v1/jobs/{job}/evidence-chain")).await
    }

    pub async fn progress(&self, run_id: &str) -> Result<ProgressState> {
        self.get(&format!("/v1/runs/{run_id}/progress")).await
    }

    pub async fn outbox(&self) -> Result<Vec<crate::catalog::OutboxItem>> {
        self.get("/v1/outbox").await
    }

    /// Sends every queued message now; returns what the round did.
    pub async fn outbox_retry(&self) -> Result<crate::mail::outbox::Counts> {
        let resp = self
            .send(
                self.http
                    .post(format!("{}/v1/outbox/retry", self.base))
                    .timeout(self.retry_wait),
            )
            .await?;
        Ok(resp.json().await?)
    }

    /// Acknowledges open problems of `job` through the daemon.
    pub async fn ack(
        &self,
        job: &str,
        req: &crate::ack::AckRequest,
    ) -> Result<Vec<crate::ack::Acked>> {
        let resp = self
            .send(
                self.http
                    .post(format!("{}/v1/jobs/{job}/ack", self.base))
                    .json(req),
            )
            .await?;
        Ok(resp.json().await?)
    }

    /// Starts a run of `job` in the daemon; returns its id.
    pub async fn start(&self, job: &str, target: Option<&str>) -> Result<String> {
        let body = serde_json::json!({ "target": target });
        let resp = self
            .send(
                self.http
                    .post(format!("{}/v1/jobs/{job}/runs", self.base))
                    .json(&body),
            )
            .await?;
        let v: serde_json::Value = resp.json().await?;
        Ok(v["run_id"]
            .as_str()
            .context("no run id in the answer")?
            .to_string())
    }
}

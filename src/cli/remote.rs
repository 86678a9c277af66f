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

    /// Sends every queued message now; returns (via, sent, deferred, rejected).
    pub async fn outbox_retry(&self) -> Result<(String, u64, u64, u64)> {
        let resp = self
            .send(self.http.post(format!("{}/v1/outbox/retry", self.base)))
            .await?;
        let v: serde_json::Value = resp.json().await?;
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        Ok((
            v["via"].as_str().unwrap_or("").to_string(),
            n("sent"),
            n("deferred"),
            n("rejected"),
        ))
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

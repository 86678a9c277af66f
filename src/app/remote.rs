//! [`Service`] through a running daemon's local API: the daemon holds the catalog, so
//! every query and command goes through it; runs are started there and followed.

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use serde::de::DeserializeOwned;

use crate::ack::{AckRequest, Acked};
use crate::catalog::{OutboxItem, WebhookItem};
use crate::chain::ChainCheck;
use crate::config::Config;
use crate::evidence::RunEvidence;
use crate::mail::outbox::Counts;
use crate::progress::ProgressState;
use crate::report::digest::Digest;
use crate::status::Status;

use super::{AppError, History, Service};

pub struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
    /// How long `outbox --retry` waits for the daemon's delivery round.
    retry_wait: std::time::Duration,
}

impl Remote {
    /// Connects to the daemon's API at `api` with the token file the daemon created
    /// beside the catalog.
    pub fn connect(config: &Config, api: &str) -> Result<Remote> {
        let path = super::setup::token_path(&config.data_dir);
        let token = std::fs::read_to_string(&path)
            .with_context(|| {
                format!(
                    "the daemon holds the catalog; reading its API token {} failed",
                    path.display()
                )
            })?
            .trim()
            .to_string();
        let mut http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
        let base = match api.strip_prefix("https://") {
            // A daemon serving TLS: only its own certificate is trusted (the file of
            // `daemon.tls_cert`). The address is this machine's (the lock record's), not
            // the certificate's name, so the name is not checked against it.
            Some(_) => {
                let Some(tls) = &config.daemon.tls else {
                    bail!(
                        "the daemon serves its API over TLS ({api}) but daemon.tls_cert is not in this configuration"
                    );
                };
                let pem = std::fs::read(&tls.cert)
                    .with_context(|| format!("reading {} (daemon.tls_cert)", tls.cert.display()))?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
                    format!(
                        "{} (daemon.tls_cert) holds no certificate",
                        tls.cert.display()
                    )
                })?;
                http = http
                    .tls_certs_only(certs)
                    .tls_danger_accept_invalid_hostnames(true);
                api.to_string()
            }
            None => format!("http://{api}"),
        };
        Ok(Remote {
            base,
            token,
            http: http.build()?,
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

    pub async fn progress(&self, run_id: &str) -> Result<ProgressState> {
        self.get(&format!("/v1/runs/{run_id}/progress")).await
    }

    /// One run's evidence.
    pub async fn show(&self, run_id: &str) -> Result<RunEvidence> {
        self.get(&format!("/v1/runs/{run_id}")).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        timeout: Option<std::time::Duration>,
    ) -> Result<T> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        Ok(self.send(req).await?.json().await?)
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

/// Errors of the API come back as text: the daemon's answer, or why it did not answer.
fn failed(e: anyhow::Error) -> AppError {
    AppError::Failed(format!("{e:#}"))
}

#[async_trait]
impl Service for Remote {
    async fn status(&self) -> Result<Status, AppError> {
        self.get("/v1/status").await.map_err(failed)
    }

    async fn history(&self, job: &str, limit: usize) -> Result<History, AppError> {
        let runs = self
            .get(&format!("/v1/jobs/{job}/runs?limit={limit}"))
            .await
            .map_err(failed)?;
        Ok(History {
            runs,
            notes: Vec::new(),
        })
    }

    async fn show(&self, run_id: &str) -> Result<RunEvidence, AppError> {
        Remote::show(self, run_id).await.map_err(failed)
    }

    async fn verify_evidence(&self, job: &str) -> Result<ChainCheck, AppError> {
        self.get(&format!("/v1/jobs/{job}/evidence-chain"))
            .await
            .map_err(failed)
    }

    async fn digest(&self, job: &str) -> Result<Digest, AppError> {
        self.get(&format!("/v1/jobs/{job}/digest"))
            .await
            .map_err(failed)
    }

    async fn queue_digest(&self, job: &str) -> Result<bool, AppError> {
        let v: serde_json::Value = self
            .post(
                &format!("/v1/jobs/{job}/digest"),
                &serde_json::json!({}),
                None,
            )
            .await
            .map_err(failed)?;
        Ok(v["queued"].as_bool().unwrap_or(false))
    }

    async fn outbox(&self) -> Result<Vec<OutboxItem>, AppError> {
        self.get("/v1/outbox").await.map_err(failed)
    }

    async fn problems(&self, job: &str) -> Result<Vec<super::CurrentProblem>, AppError> {
        self.get(&format!("/v1/jobs/{job}/problems"))
            .await
            .map_err(failed)
    }

    async fn webhooks(&self) -> Result<Vec<WebhookItem>, AppError> {
        self.get("/v1/webhooks").await.map_err(failed)
    }

    async fn outbox_retry(&self) -> Result<Counts, AppError> {
        self.post(
            "/v1/outbox/retry",
            &serde_json::json!({}),
            Some(self.retry_wait),
        )
        .await
        .map_err(failed)
    }

    async fn ack(&self, job: &str, req: &AckRequest) -> Result<Vec<Acked>, AppError> {
        self.post(&format!("/v1/jobs/{job}/ack"), req, None)
            .await
            .map_err(failed)
    }

    async fn users(&self) -> Result<Vec<super::users::UserInfo>, AppError> {
        self.get("/v1/users").await.map_err(failed)
    }

    async fn add_user(
        &self,
        user: &super::users::NewUser,
    ) -> Result<super::users::UserInfo, AppError> {
        self.post("/v1/users", user, None).await.map_err(failed)
    }

    async fn set_password(&self, name: &str, password: &str) -> Result<(), AppError> {
        let body = super::users::NewPassword {
            password: password.to_string(),
        };
        let _: serde_json::Value = self
            .post(&format!("/v1/users/{name}/password"), &body, None)
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn remove_user(&self, name: &str) -> Result<(), AppError> {
        self.send(self.http.delete(format!("{}/v1/users/{name}", self.base)))
            .await
            .map_err(failed)?;
        Ok(())
    }
}

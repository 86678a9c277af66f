//! The real `backproof daemon` as a child process, and its API.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Fixture;
use super::servers::free_port;

pub struct Daemon {
    child: Option<Child>,
    pub port: u16,
    pub token: String,
    pub log: PathBuf,
    config: PathBuf,
    /// The certificate of a daemon serving TLS (its `tls_cert`): reached over https.
    tls_root: Option<Vec<u8>>,
}

impl Daemon {
    /// Adds a `[daemon]` section to the fixture's configuration (once) and starts the
    /// daemon; returns when its API answers.
    pub fn start(f: &Fixture, daemon_section: &str) -> Daemon {
        Daemon::start_with_env(f, daemon_section, &[])
    }

    /// [`Daemon::start`] with extra environment variables for the daemon.
    pub fn start_with_env(f: &Fixture, daemon_section: &str, env: &[(&str, &str)]) -> Daemon {
        let text = std::fs::read_to_string(&f.config).unwrap();
        if let Some(i) = text.find("listen = \"127.0.0.1:") {
            // A restart: the port it had.
            let port = text[i + 20..].split('"').next().unwrap().parse().unwrap();
            return Daemon::try_start(f, port, env).unwrap_or_else(|log| panic!("{log}"));
        }
        super::servers::on_free_ports("the daemon", || {
            let port = free_port();
            let mut text = text.clone();
            text.push_str(&format!(
                "\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n{daemon_section}\n"
            ));
            std::fs::write(&f.config, &text).unwrap();
            Daemon::try_start(f, port, env)
        })
    }

    /// Starts the daemon and waits until its API answers; `Err` with its log if it exits
    /// first.
    fn try_start(f: &Fixture, port: u16, env: &[(&str, &str)]) -> Result<Daemon, String> {
        let log = f
            .dir
            .path()
            .join(format!("daemon-{}.log", rand::random::<u32>()));
        let child = Command::new(env!("CARGO_BIN_EXE_backproof"))
            .args(["--config", f.config.to_str().unwrap(), "-v", "daemon"])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut d = Daemon {
            child: Some(child),
            port,
            token: String::new(),
            log,
            config: f.config.clone(),
            tls_root: tls_root(&f.config),
        };
        let token_file = f.data_dir().join("api.token");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(t) = std::fs::read_to_string(&token_file) {
                d.token = t.trim().to_string();
                if d.get("/v1/health").0 == 200 {
                    return Ok(d);
                }
            }
            if let Some(status) = d.child.as_mut().unwrap().try_wait().unwrap() {
                d.child = None;
                return Err(format!("the daemon exited with {status}: {}", d.log_text()));
            }
            assert!(
                Instant::now() < deadline,
                "daemon not ready: {}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let client = self.client_builder().build().unwrap();
        let url = self.url(path);
        let mut req = match method {
            "POST" => client.post(url),
            _ => client.get(url),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        match req.send() {
            Ok(resp) => {
                let code = resp.status().as_u16();
                (code, resp.json().unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, Some(&self.token.clone()), None)
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.request("POST", path, Some(&self.token.clone()), Some(body))
    }

    /// Waits until the run's progress says it ended; returns the last progress.
    pub fn wait_run(&self, run_id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (code, p) = self.get(&format!("/v1/runs/{run_id}/progress"));
            if code == 200 && (p["state"] == "finished" || p["state"] == "interrupted") {
                return p;
            }
            assert!(Instant::now() < deadline, "run {run_id} did not end: {p}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits for the daemon to exit; `None` if it did not within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn config(&self) -> &PathBuf {
        &self.config
    }
}

impl Daemon {
    /// `path` on the daemon: `https://` when it serves TLS.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls_root.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    /// A client that trusts the daemon's certificate, if it serves TLS.
    pub fn client_builder(&self) -> reqwest::blocking::ClientBuilder {
        let builder = reqwest::blocking::Client::builder();
        match &self.tls_root {
            Some(pem) => builder.tls_certs_only([reqwest::Certificate::from_pem(pem).unwrap()]),
            None => builder,
        }
    }
}

/// The PEM certificate the configuration's `tls_cert = "..."` names (relative to it).
fn tls_root(config: &std::path::Path) -> Option<Vec<u8>> {
    let text = std::fs::read_to_string(config).ok()?;
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("tls_cert"))?;
    let value = line.split('"').nth(1)?;
    std::fs::read(config.parent()?.join(value)).ok()
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

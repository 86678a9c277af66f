//! `[daemon]`: the settings of `backproof daemon` (API address, TLS, parallel runs,
//! catching up, the watchdog's patience), validated with errors naming `daemon.<key>`.
//!
//! The API and the pages listen on loopback unless TLS is set (`tls_cert`, `tls_key`:
//! PEM files, read and parsed here so that a bad file is a configuration error).

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::ConfigError;
use super::raw::RawDaemon;

/// Settings of `backproof daemon`.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    pub listen: std::net::SocketAddr,
    pub max_concurrent_runs: usize,
    pub catch_up: bool,
    pub catch_up_delay: std::time::Duration,
    /// How long a part of the daemon may make no progress before it counts as stuck.
    pub stall_timeout: std::time::Duration,
    /// How late a scheduled run may be before its job has missed it.
    pub missed_grace: std::time::Duration,
    /// Pinged while the daemon is healthy (dead-man's switch).
    pub heartbeat: Option<super::Heartbeat>,
    /// Serve the API and pages over TLS with these files.
    pub tls: Option<TlsFiles>,
    /// Retention: runs older than this are pruned (see `crate::app::retention`).
    pub keep_runs: std::time::Duration,
    /// Retention: at most this many runs are kept per job.
    pub max_runs_per_job: u64,
}

/// `daemon.tls_cert` and `daemon.tls_key`: PEM files (certificate chain, private key).
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Runs are kept 400 days by default (a yearly audit looks back a year)...
pub const DEFAULT_KEEP_RUNS_DAYS: u64 = 400;
/// ...and at most 1,000 per job (hourly runs: about six weeks).
pub const DEFAULT_MAX_RUNS_PER_JOB: u64 = 1_000;

pub(super) fn daemon_config(
    raw: &RawDaemon,
    base: &Path,
    file: &Path,
    source: &str,
    errors: &mut Vec<ConfigError>,
) -> DaemonConfig {
    let mut err = |span, key: &str, message: String| {
        errors.push(ConfigError::at_key(
            file,
            source,
            span,
            format!("daemon.{key}"),
            message,
        ));
    };
    let tls = tls_files(raw, base, &mut err);
    let listen = match &raw.listen {
        None => std::net::SocketAddr::from(([127, 0, 0, 1], 7878)),
        Some(l) => match l.get_ref().parse::<std::net::SocketAddr>() {
            Ok(a) if a.ip().is_loopback() => a,
            Ok(a) if raw.tls_cert.is_some() && raw.tls_key.is_some() => a,
            Ok(a) => {
                err(
                    l.span(),
                    "listen",
                    format!(
                        "{a} is not a loopback address: other machines are served only over TLS (set daemon.tls_cert and daemon.tls_key, and add user accounts with `backproof user add`); or keep loopback and use an SSH tunnel"
                    ),
                );
                std::net::SocketAddr::from(([127, 0, 0, 1], 7878))
            }
            Err(e) => {
                err(
                    l.span(),
                    "listen",
                    format!("`{}` is not an address:port ({e})", l.get_ref()),
                );
                std::net::SocketAddr::from(([127, 0, 0, 1], 7878))
            }
        },
    };
    let max = match &raw.max_concurrent_runs {
        None => 2,
        Some(m) if (1..=64).contains(m.get_ref()) => *m.get_ref() as usize,
        Some(m) => {
            err(
                m.span(),
                "max_concurrent_runs",
                "must be between 1 and 64".into(),
            );
            2
        }
    };
    let mut duration = |v: &Option<toml::Spanned<String>>, key: &str, default: u64| {
        let default = std::time::Duration::from_secs(default);
        match v {
            None => default,
            Some(d) => match humantime::parse_duration(d.get_ref().trim()) {
                Ok(d) => d,
                Err(e) => {
                    err(
                        d.span(),
                        key,
                        format!("`{}` is not a duration ({e})", d.get_ref()),
                    );
                    default
                }
            },
        }
    };
    let delay = duration(&raw.catch_up_delay, "catch_up_delay", 60);
    let stall_timeout = duration(&raw.stall_timeout, "stall_timeout", 30 * 60);
    let missed_grace = duration(&raw.missed_grace, "missed_grace", 15 * 60);
    let keep_runs = duration(&raw.keep_runs, "keep_runs", DEFAULT_KEEP_RUNS_DAYS * 86_400);
    let max_runs_per_job = match &raw.max_runs_per_job {
        None => DEFAULT_MAX_RUNS_PER_JOB,
        Some(m) if *m.get_ref() >= 1 => *m.get_ref(),
        Some(m) => {
            err(m.span(), "max_runs_per_job", "must be at least 1".into());
            DEFAULT_MAX_RUNS_PER_JOB
        }
    };
    let heartbeat = super::alerts::heartbeat(
        &raw.heartbeat_url,
        &raw.heartbeat_format,
        &raw.heartbeat_interval,
        file,
        source,
        errors,
    );
    DaemonConfig {
        listen,
        max_concurrent_runs: max,
        catch_up: raw.catch_up.unwrap_or(true),
        catch_up_delay: delay,
        stall_timeout,
        missed_grace,
        heartbeat,
        tls,
        keep_runs,
        max_runs_per_job,
    }
}

/// Both TLS files or neither; each readable and holding what it should.
fn tls_files(
    raw: &RawDaemon,
    base: &Path,
    err: &mut impl FnMut(std::ops::Range<usize>, &str, String),
) -> Option<TlsFiles> {
    let (cert, key) = match (&raw.tls_cert, &raw.tls_key) {
        (None, None) => return None,
        (Some(c), None) => {
            err(c.span(), "tls_cert", "daemon.tls_key is needed too".into());
            return None;
        }
        (None, Some(k)) => {
            err(k.span(), "tls_key", "daemon.tls_cert is needed too".into());
            return None;
        }
        (Some(c), Some(k)) => (c, k),
    };
    let read = |v: &toml::Spanned<String>| {
        let path = base.join(v.get_ref());
        std::fs::read(&path)
            .map(|bytes| (path.clone(), bytes))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let mut ok = true;
    let cert_path = match read(cert) {
        Ok((path, bytes)) => {
            let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
            if !certs.is_ok_and(|c| !c.is_empty()) {
                err(
                    cert.span(),
                    "tls_cert",
                    format!(
                        "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                        path.display()
                    ),
                );
                ok = false;
            }
            path
        }
        Err(message) => {
            err(cert.span(), "tls_cert", message);
            return None;
        }
    };
    let key_path = match read(key) {
        Ok((path, bytes)) => {
            // The error says what is wrong, never the file's content.
            if PrivateKeyDer::from_pem_slice(&bytes).is_err() {
                err(
                    key.span(),
                    "tls_key",
                    format!(
                        "{} holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
                        path.display()
                    ),
                );
                ok = false;
            }
            path
        }
        Err(message) => {
            err(key.span(), "tls_key", message);
            return None;
        }
    };
    ok.then_some(TlsFiles {
        cert: cert_path,
        key: key_path,
    })
}

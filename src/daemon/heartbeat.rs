//! The daemon's dead-man's switch: `[daemon] heartbeat_url` is pinged every
//! `heartbeat_interval` while every part of the daemon makes progress (the same judgement
//! as the systemd watchdog, [`crate::daemon::health`]). A daemon that is stuck or stopped
//! stops pinging, and the monitor (Healthchecks, Uptime Kuma) raises the alarm.

use std::sync::Arc;
use std::time::Duration;

use crate::daemon::health::Health;
use crate::daemon::runs::RunManager;

use crate::hooks::http;
use crate::hooks::ping::{Signal, request};

/// Pings the heartbeat until the daemon stops. The interval and URL are read from the
/// configuration each time (a reload applies); without `heartbeat_url` it only waits.
pub async fn run(manager: Arc<RunManager>, health: Arc<Health>) {
    let client = http::client(http::DEADLINE);
    loop {
        let config = manager.config();
        let wait = match &config.daemon.heartbeat {
            None => Duration::from_secs(60),
            Some(hb) => {
                let parts = health.parts(config.daemon.stall_timeout);
                let stuck: Vec<&str> = parts
                    .iter()
                    .filter(|p| !p.ok)
                    .map(|p| p.part.label())
                    .collect();
                if stuck.is_empty() {
                    let ping = crate::config::Ping {
                        url: hb.url.clone(),
                        format: hb.format,
                    };
                    let body = "backproof daemon: every part makes progress".to_string();
                    let sent = tokio::select! {
                        r = http::send(request(&client, &ping, Signal::Success, body)) => r,
                        _ = manager.cancel.cancelled() => return,
                    };
                    match sent {
                        Ok(_) => tracing::debug!(monitor = %hb.url, "heartbeat sent"),
                        Err(e) => {
                            tracing::warn!(monitor = %hb.url, error = %e, "the heartbeat ping failed")
                        }
                    }
                } else {
                    tracing::warn!(
                        stuck = %stuck.join(", "),
                        "heartbeat withheld: a part of the daemon makes no progress"
                    );
                }
                hb.interval
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = manager.cancel.cancelled() => return,
        }
    }
}

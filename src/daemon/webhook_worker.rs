//! The daemon's webhook worker (the webhooks themselves are in [`crate::hooks::webhook`]).

use crate::hooks::webhook;

/// The daemon's webhook worker: a round now, then every minute and whenever an event was
/// queued, until shutdown.
pub async fn run(manager: std::sync::Arc<super::runs::RunManager>) {
    use futures::FutureExt;
    loop {
        let config = manager.config();
        let round = std::panic::AssertUnwindSafe(webhook::deliver(
            manager.catalog(),
            &config.webhooks,
            false,
        ))
        .catch_unwind()
        .await;
        match round {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "webhook delivery failed"),
            Err(panic) => tracing::error!(
                panic = %crate::verify::panic_message(&*panic),
                "webhook delivery stopped on an internal error; the next round retries"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(webhook::INTERVAL) => {}
            _ = webhook::WAKE.notified() => {}
            _ = manager.cancel.cancelled() => return,
        }
    }
}

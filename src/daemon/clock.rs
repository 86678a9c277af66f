//! Wall-clock time for the scheduler, injectable so tests can run days in milliseconds.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Returns once `now()` has reached `t`.
    async fn sleep_until(&self, t: DateTime<Utc>);
}

/// The system clock. Long waits are taken in steps of at most a minute, re-reading the
/// clock each time, so a clock change (NTP, a suspended VM) is noticed.
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, t: DateTime<Utc>) {
        loop {
            let Ok(left) = t.signed_duration_since(Utc::now()).to_std() else {
                return;
            };
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(Duration::from_secs(60))).await;
        }
    }
}

/// A clock that starts at `start` and advances with tokio's clock: with
/// `tokio::time::pause()` (or `#[tokio::test(start_paused = true)]`) time jumps to the
/// next timer as soon as every task waits.
pub struct TokioClock {
    start: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(start: DateTime<Utc>) -> TokioClock {
        TokioClock {
            start,
            origin: tokio::time::Instant::now(),
        }
    }
}

#[async_trait]
impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.origin;
        self.start + chrono::Duration::from_std(elapsed).expect("elapsed fits")
    }

    async fn sleep_until(&self, t: DateTime<Utc>) {
        if let Ok(left) = t.signed_duration_since(self.now()).to_std() {
            tokio::time::sleep(left).await;
        }
    }
}

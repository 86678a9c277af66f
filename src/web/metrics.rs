//! `GET /metrics`: the fleet in the Prometheus text format, built on each scrape from the
//! application layer's status query (the one `backproof status` and the fleet page read;
//! it reads one summary record per job, never the stored runs). Labels are job, target
//! and problem kind names only: never a path or a hash. The job's label is
//! `backproof_job`: Prometheus keeps `job` for its scrape job.

use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use crate::app::{AppError, Service};
use crate::evidence::Verdict;
use crate::status::{Durations, StatusRow, duration_bounds};

type Labels = Vec<(&'static str, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// `backproof_target_status`: 0 pass, 1 warn, 2 fail, 3 error (could not verify).
pub fn status_value(v: Verdict) -> i64 {
    match v {
        Verdict::Pass => 0,
        Verdict::Warn => 1,
        Verdict::Fail => 2,
        Verdict::Error => 3,
    }
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn target(job: &str, target: &str) -> Labels {
    vec![
        ("backproof_job", job.to_string()),
        ("target", target.to_string()),
    ]
}

/// The metrics text, as Prometheus scrapes it.
pub async fn render(service: &dyn Service) -> Result<String, AppError> {
    let status = service.status().await?;
    let mut registry = Registry::default();

    let target_status = Family::<Labels, Gauge>::default();
    let last_verified = Family::<Labels, FloatGauge>::default();
    let newest_backup = Family::<Labels, FloatGauge>::default();
    let open_problems = Family::<Labels, Gauge>::default();
    let coverage = Family::<Labels, FloatGauge>::default();
    let restored = Family::<Labels, Counter>::default();
    let throughput = Family::<Labels, FloatGauge>::default();
    let mut durations = JobDurations::default();

    for row in &status.rows {
        for k in &row.unacknowledged {
            let kind = serde_json::to_value(k.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            open_problems
                .get_or_create(&vec![("backproof_job", row.job.clone()), ("kind", kind)])
                .set(k.count as i64);
        }
        if row.run_durations.count > 0 {
            durations.0.push((
                vec![("backproof_job", row.job.clone())],
                row.run_durations.clone(),
            ));
        }
        add_job(
            row,
            JobMetrics {
                target_status: &target_status,
                last_verified: &last_verified,
                newest_backup: &newest_backup,
                coverage: &coverage,
                restored: &restored,
                throughput: &throughput,
            },
        );
    }

    registry.register(
        "backproof_target_status",
        "Verdict of the target at its job's last finished run: 0 pass, 1 warn, 2 fail, 3 error (could not verify)",
        target_status,
    );
    registry.register(
        "backproof_last_verified_timestamp_seconds",
        "Start of the newest finished run that verified the target (pass, warn or fail)",
        last_verified,
    );
    registry.register(
        "backproof_backup_newest_timestamp_seconds",
        "Modification time of the target's newest backup file at the last finished run",
        newest_backup,
    );
    registry.register(
        "backproof_open_problems",
        "Open problems of the job nobody acknowledged (or whose acknowledgement lapsed), by kind",
        open_problems,
    );
    registry.register(
        "backproof_coverage_ratio",
        "Share of the target's bytes test-restored and verified in the last 30 days",
        coverage,
    );
    registry.register(
        "backproof_restored_bytes",
        "Bytes test-restored from the target by every finished run recorded (runs pruned by retention included)",
        restored,
    );
    registry.register(
        "backproof_restore_throughput_bytes_per_second",
        "Restore throughput of the target at the last finished run that restored files",
        throughput,
    );
    registry.register(
        "backproof_run_duration_seconds",
        "Duration of the job's finished runs",
        durations,
    );
    let pending = Gauge::<i64>::default();
    pending.set(status.outbox_queued as i64);
    registry.register(
        "backproof_outbox_pending",
        "Messages queued in the outbox, not yet delivered",
        pending,
    );
    let webhooks = Gauge::<i64>::default();
    webhooks.set(status.webhooks_queued as i64);
    registry.register(
        "backproof_webhooks_pending",
        "Webhook messages queued, not yet delivered",
        webhooks,
    );
    let running = Gauge::<i64>::default();
    running.set(status.rows.iter().filter(|r| r.running.is_some()).count() as i64);
    registry.register("backproof_runs_in_progress", "Runs going on now", running);
    // A gauge rather than an OpenMetrics info: the classic text parsers read it too.
    let build = Family::<Labels, Gauge>::default();
    build
        .get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_string())])
        .set(1);
    registry.register("backproof_build_info", "The running backproof", build);

    let mut text = String::new();
    encode(&mut text, &registry).map_err(|e| AppError::Failed(e.to_string()))?;
    Ok(text)
}

struct JobMetrics<'a> {
    target_status: &'a Family<Labels, Gauge>,
    last_verified: &'a Family<Labels, FloatGauge>,
    newest_backup: &'a Family<Labels, FloatGauge>,
    coverage: &'a Family<Labels, FloatGauge>,
    restored: &'a Family<Labels, Counter>,
    throughput: &'a Family<Labels, FloatGauge>,
}

/// One job's target series from its status line.
fn add_job(row: &StatusRow, m: JobMetrics<'_>) {
    for t in &row.targets {
        let labels = target(&row.job, &t.name);
        m.target_status
            .get_or_create(&labels)
            .set(status_value(t.verdict));
        m.restored.get_or_create(&labels).inc_by(t.restored_bytes);
        if let Some(newest) = t.newest_backup {
            m.newest_backup.get_or_create(&labels).set(seconds(newest));
        }
        if let Some(c) = t.coverage_30d {
            m.coverage.get_or_create(&labels).set(c);
        }
        if let Some(at) = t.last_verified {
            m.last_verified.get_or_create(&labels).set(seconds(at));
        }
        if let Some(rate) = t.restore_bytes_per_second {
            m.throughput.get_or_create(&labels).set(rate);
        }
    }
}

/// `backproof_run_duration_seconds`: each job's histogram as its summary recorded it.
#[derive(Debug, Default)]
struct JobDurations(Vec<(Labels, Durations)>);

impl TypedMetric for JobDurations {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for JobDurations {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, d) in &self.0 {
            let bounds = duration_bounds().chain(std::iter::once(f64::MAX));
            let buckets: Vec<(f64, u64)> = bounds
                .enumerate()
                .map(|(i, b)| (b, d.buckets.get(i).copied().unwrap_or(0)))
                .collect();
            encoder
                .encode_family(labels)?
                .encode_histogram::<NoLabelSet>(d.sum_seconds, d.count, &buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

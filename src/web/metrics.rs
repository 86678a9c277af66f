//! `GET /metrics`: the fleet in the Prometheus text format, built on each scrape from the
//! application layer's status and history queries (the same ones `backproof status` and
//! the pages read). Labels are job, target and problem kind names only: never a path or
//! a hash. The job's label is `backproof_job`: Prometheus keeps `job` for its scrape
//! job.

use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::app::{AppError, Service};
use crate::evidence::{RunEvidence, RunStatus, Verdict};

/// How many of a job's newest runs a scrape reads (restored bytes, run durations).
pub const RUNS_PER_JOB: usize = 500;

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
    let durations = Family::<Labels, Histogram>::new_with_constructor(|| {
        // 1 s to about 9 hours.
        Histogram::new(exponential_buckets(1.0, 2.0, 16))
    });

    for row in &status.rows {
        let runs = service.history(&row.job, RUNS_PER_JOB).await?.runs;
        let mut kinds = std::collections::BTreeMap::new();
        for p in service.problems(&row.job).await? {
            if p.acknowledged.is_none() {
                *kinds.entry(p.kind).or_insert(0i64) += 1;
            }
        }
        for (kind, n) in kinds {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            open_problems
                .get_or_create(&vec![("backproof_job", row.job.clone()), ("kind", kind)])
                .set(n);
        }
        add_job(
            &row.job,
            &runs,
            JobMetrics {
                target_status: &target_status,
                last_verified: &last_verified,
                newest_backup: &newest_backup,
                coverage: &coverage,
                restored: &restored,
                throughput: &throughput,
                durations: &durations,
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
        "Bytes test-restored from the target by the runs the catalog holds",
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
    durations: &'a Family<Labels, Histogram>,
}

/// One job's series from its runs, newest first.
fn add_job(job: &str, runs: &[RunEvidence], m: JobMetrics<'_>) {
    let finished: Vec<&RunEvidence> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Finished)
        .collect();
    let job_labels = vec![("backproof_job", job.to_string())];
    for run in &finished {
        if let Some(end) = run.finished_at
            && let Ok(d) = (end - run.started_at).to_std()
        {
            m.durations
                .get_or_create(&job_labels)
                .observe(d.as_secs_f64());
        }
        for t in &run.targets {
            let labels = target(job, &t.name);
            let bytes = t.restore.as_ref().map_or(0, |r| r.bytes);
            m.restored.get_or_create(&labels).inc_by(bytes);
        }
    }
    let Some(last) = finished.first() else {
        return;
    };
    for t in &last.targets {
        let labels = target(job, &t.name);
        m.target_status
            .get_or_create(&labels)
            .set(status_value(t.verdict));
        if let Some(newest) = t.inventory.as_ref().and_then(|i| i.newest.as_ref()) {
            m.newest_backup
                .get_or_create(&labels)
                .set(seconds(newest.modified));
        }
        if let (Some(c), Some(i)) = (&t.coverage, &t.inventory)
            && i.bytes > 0
        {
            m.coverage
                .get_or_create(&labels)
                .set(c.verified_bytes_30d as f64 / i.bytes as f64);
        }
        let verified = finished.iter().find_map(|r| {
            r.targets
                .iter()
                .find(|x| x.name == t.name && x.verdict != Verdict::Error)
                .map(|_| r.started_at)
        });
        if let Some(at) = verified {
            m.last_verified.get_or_create(&labels).set(seconds(at));
        }
        let rate = finished.iter().find_map(|r| {
            r.targets
                .iter()
                .find(|x| x.name == t.name)
                .and_then(|x| x.restore.as_ref())
                .filter(|r| r.files > 0)
                .map(|r| r.throughput_mb_s * 1e6)
        });
        if let Some(rate) = rate {
            m.throughput.get_or_create(&labels).set(rate);
        }
    }
}

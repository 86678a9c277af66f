//! Seeds a catalog with many runs for `benches/catalog.sh`: every run is a copy of a real
//! run's evidence document (`template`) renamed to its job, time and verdict, recorded
//! through the catalog's own `finish_run` (so the job summaries and indexes are the ones
//! a real run leaves). A mix of pass, warn and fail runs; one job in ten ends on a
//! corruption problem left open (one in twenty of those acknowledged); the newest run of
//! each job has its report email in the outbox (delivered). Seeded with
//! `newest_days_ago` 0, each job's evidence folder names its newest run in its mark, as
//! a real run leaves it.
//!
//!   seed_catalog <data_dir> <template.json> <jobs> <runs_per_job> <newest_days_ago>
//!
//! Jobs are `client-001`...; each has the targets `nas` and `cloud`; runs are a day apart,
//! the newest `newest_days_ago` days ago. With `prune` instead (`seed_catalog prune
//! <config>`), runs retention over every job as the daemon's pass does, to completion.

use std::path::Path;

use anyhow::{Context, Result, bail};
use backproof::app::evidence_files::{LAST_RUN_MARK, evidence_dir};
use backproof::catalog::{
    Catalog, Delivery, MailKind, OutboxItem, ProblemFile, ProblemRecord, ProblemUpdate,
    RECORD_SCHEMA, RunCommit, TargetCommit,
};
use backproof::evidence::{Acknowledgement, OpenProblem, ProblemKind, RunEvidence, Verdict};
use chrono::{Duration, Utc};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("prune") {
        let Some(config) = args.get(1) else {
            bail!("usage: seed_catalog prune <config>");
        };
        let config =
            backproof::config::load(Path::new(config)).map_err(|e| anyhow::anyhow!("{e}"))?;
        let catalog = Catalog::open(&config.data_dir)?;
        let mut total = 0;
        loop {
            let n = backproof::app::retention::prune_all(&config, &catalog, 100)?;
            total += n;
            if n == 0 {
                break;
            }
        }
        println!("pruned {total} runs");
        return Ok(());
    }
    let [data_dir, template, jobs, runs, newest] = args.as_slice() else {
        bail!(
            "usage: seed_catalog <data_dir> <template.json> <jobs> <runs_per_job> <newest_days_ago>"
        );
    };
    let (jobs, runs, newest): (usize, usize, i64) = (jobs.parse()?, runs.parse()?, newest.parse()?);
    let template: RunEvidence = serde_json::from_slice(
        &std::fs::read(template).with_context(|| format!("reading {template}"))?,
    )?;
    let catalog = Catalog::open(Path::new(data_dir))?;
    let now = Utc::now();
    let message = "X".repeat(20_000);
    for j in 1..=jobs {
        let job = format!("client-{j:03}");
        let mut previous: Option<(String, String)> = None;
        for i in (0..runs).rev() {
            let started = now - Duration::days(newest + i as i64) - Duration::minutes(j as i64);
            let newest_run = i == 0;
            // The job's last run decides its state; older runs are a mix.
            let verdict = match (newest_run, j % 10, (j * 31 + i * 7) % 25) {
                (true, 0, _) => Verdict::Fail,
                (true, 1, _) => Verdict::Warn,
                (true, _, _) => Verdict::Pass,
                (false, _, 0) => Verdict::Fail,
                (false, _, 1..=3) => Verdict::Warn,
                (false, _, 4) => Verdict::Error,
                _ => Verdict::Pass,
            };
            let run_id = format!("{}-{:04x}", started.format("%Y%m%d-%H%M%S"), j);
            let mut ev = template.clone();
            ev.run_id = run_id.clone();
            ev.job = job.clone();
            ev.client = format!("Client {j:03}");
            ev.started_at = started;
            ev.finished_at = Some(started + Duration::seconds(40 + (j % 50) as i64));
            ev.verdict = Some(verdict);
            ev.previous_run = previous.as_ref().map(|p| p.0.clone());
            ev.previous_hash = previous.as_ref().map(|p| p.1.clone());
            let mut nas = template.targets[0].clone();
            nas.name = "nas".into();
            nas.verdict = verdict;
            nas.problems.clear();
            let mut cloud = nas.clone();
            cloud.name = "cloud".into();
            cloud.verdict = if verdict == Verdict::Error {
                Verdict::Error
            } else {
                Verdict::Pass
            };
            let mut commit = RunCommit::default();
            if newest_run && verdict == Verdict::Fail {
                let key = ProblemKind::Corruption.key(&job, "nas");
                let opened = started - Duration::days(3);
                nas.problems.push(OpenProblem {
                    key,
                    kind: ProblemKind::Corruption,
                    summary: "1 file differs from its baseline".into(),
                    opened_run: run_id.clone(),
                    opened_at: opened,
                    last_seen_run: run_id.clone(),
                    last_seen_at: started,
                    observed: true,
                    new: false,
                    files: 1,
                    paths: vec!["backups/a.tar".into()],
                    acknowledged: None,
                });
                commit.targets.push(TargetCommit {
                    job: job.clone(),
                    target: "nas".into(),
                    state: None,
                    problems: vec![ProblemUpdate::Upsert {
                        record: Box::new(ProblemRecord {
                            v: RECORD_SCHEMA,
                            kind: ProblemKind::Corruption,
                            summary: "1 file differs from its baseline".into(),
                            opened_run: run_id.clone(),
                            opened_at: opened,
                            last_seen_run: run_id.clone(),
                            last_seen_at: started,
                            files: 1,
                            untracked_files: 0,
                            reference_bytes: None,
                            ack: None,
                        }),
                        add: vec![(
                            "backups/a.tar".into(),
                            ProblemFile {
                                size: 1000,
                                modified: started,
                            },
                        )],
                        remove: vec![],
                        clear_ack: false,
                    }],
                });
            }
            ev.targets = vec![nas, cloud];
            let document = serde_json::to_vec(&ev)?;
            let mail = newest_run.then(|| OutboxItem {
                v: RECORD_SCHEMA,
                id: format!("{:020}-{run_id}", started.timestamp_micros()),
                kind: MailKind::RunReport,
                job: Some(job.clone()),
                run_id: Some(run_id.clone()),
                subject: format!("[backproof] Client {j:03}: {verdict:?}"),
                message_id: format!("<{run_id}@bench.example>"),
                from: "backproof@bench.example".into(),
                to: vec!["noc@msp.example".into()],
                message: message.clone(),
                created: started,
                delivery: Delivery::Sent { at: started },
                attempts: 1,
                next_attempt: started,
                last_error: None,
                claim: None,
            });
            catalog.finish_run(&ev, &document, mail.as_ref(), &commit)?;
            // Runs of the past: their alerts went out long ago.
            catalog.alerts_queued(&run_id)?;
            if newest_run && newest == 0 {
                // As a real run leaves it: every start reads it (putting back lost runs).
                let mark = evidence_dir(Path::new(data_dir)).join(&job);
                std::fs::create_dir_all(&mark)?;
                std::fs::write(mark.join(LAST_RUN_MARK), &run_id)?;
            }
            previous = Some((run_id, blake3::hash(&document).to_hex().to_string()));
        }
        if j % 20 == 0 {
            catalog.acknowledge(
                &job,
                None,
                None,
                &Acknowledgement {
                    by: "tech@msp.example".into(),
                    at: now,
                    reason: "replacing the disk".into(),
                    until: None,
                },
            )?;
        }
    }
    catalog.flush()?;
    println!("seeded {jobs} jobs with {runs} runs each");
    Ok(())
}

//! `backproof watch RUN_ID`: re-attach to a run of the daemon, with the same progress bar
//! and summary as `backproof run`. Ctrl-C stops watching; the run goes on in the daemon.

use anyhow::{Result, bail};

use crate::app::Remote;
use crate::config::Config;
use crate::progress::RunState;
use crate::report;

pub async fn watch(config: &Config, run_id: &str) -> Result<u8> {
    let Some(api) = crate::app::daemon_api(config) else {
        bail!(
            "no daemon is running for {}: `watch` follows runs of the daemon (a run started with `backproof run` without the daemon shows its progress in its own terminal)",
            config.file.display()
        );
    };
    let remote = Remote::connect(config, &api)?;
    follow_run(config, &remote, run_id, false, true).await
}

/// Follows run `run_id` in the daemon until it ends, then prints its summary (or its
/// evidence as JSON). Ctrl-C stops watching and says the run goes on; `announce` says so
/// first.
pub async fn follow_run(
    config: &Config,
    remote: &Remote,
    run_id: &str,
    json: bool,
    announce: bool,
) -> Result<u8> {
    // Listening before saying so: a Ctrl-C after the line is always ours to handle.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    if announce {
        eprintln!("watching run {run_id} (Ctrl-C stops watching; the run goes on in the daemon)");
    }
    let last = tokio::select! {
        last = super::follow::follow(|| remote.progress(run_id)) => last?,
        _ = interrupt.recv() => {
            eprintln!(
                "stopped watching: run {run_id} goes on in the daemon (`backproof watch {run_id}` to follow it again)"
            );
            return Ok(2);
        }
    };
    let ev = match remote.show(run_id).await {
        Ok(ev) => ev,
        Err(_) if last.state == RunState::Interrupted => {
            eprintln!("run {run_id} was interrupted before it started");
            return Ok(2);
        }
        Err(e) => return Err(e),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&ev)?);
    } else {
        let file = crate::app::evidence_files::evidence_path(&config.data_dir, &ev.job, run_id);
        print!(
            "{}",
            report::run_summary(&ev, file.exists().then_some(file.as_path()))
        );
    }
    Ok(ev.effective_verdict().exit_code())
}

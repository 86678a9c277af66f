//! A live progress bar for a technician watching a run: files and bytes restored, the
//! current file. Drawn on stderr, and only on a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::progress::{ProgressState, RunState};

/// Polls `snapshot` until the run ends, drawing as it goes; returns the last state.
pub async fn follow<F, Fut>(mut snapshot: F) -> anyhow::Result<ProgressState>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ProgressState>>,
{
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    loop {
        let s = snapshot().await?;
        bar.set_length(s.bytes_total.max(s.bytes_done));
        bar.set_position(s.bytes_done);
        bar.set_prefix(match (&s.state, &s.target) {
            (RunState::Queued, _) => "queued".to_string(),
            (_, Some(t)) => format!("{t}: {}", s.phase.as_deref().unwrap_or("")),
            _ => "starting".to_string(),
        });
        bar.set_message(format!(
            "files {}/{}{}",
            s.files_done,
            s.files_total,
            s.current_file
                .as_deref()
                .map(|f| format!(", {f}"))
                .unwrap_or_default()
        ));
        bar.tick();
        if matches!(s.state, RunState::Finished | RunState::Interrupted) {
            bar.finish_and_clear();
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

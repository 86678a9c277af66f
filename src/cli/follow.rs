//! A live progress bar for a technician watching a run: what it is doing, bytes restored
//! of the real total (in the report's units), rate, time left, files, the current file.
//! Drawn on stderr, and only on a terminal; cleared before anything else is printed.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressFinish, ProgressStyle};

use crate::format::{human_age, human_bytes, human_rate, shown};
use crate::progress::{ProgressState, RunState};

/// Polls `snapshot` until the run ends, drawing as it goes; returns the last state. The
/// bar is cleared when this returns, and when its future is dropped (Ctrl-C).
pub async fn follow<F, Fut>(mut snapshot: F) -> anyhow::Result<ProgressState>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ProgressState>>,
{
    let bar = ProgressBar::new(0).with_finish(ProgressFinish::AndClear);
    let mut rate = Rate::default();
    let mut with_bar = None;
    loop {
        let s = snapshot().await?;
        let speed = rate.update(s.bytes_done, Instant::now());
        let show_bar = s.bytes_total > 0;
        if with_bar != Some(show_bar) {
            bar.set_style(style(show_bar));
            with_bar = Some(show_bar);
        }
        bar.set_length(s.bytes_total);
        bar.set_position(s.bytes_done.min(s.bytes_total));
        let (prefix, message) = describe(&s, speed);
        bar.set_prefix(prefix);
        bar.set_message(message);
        bar.tick();
        if matches!(s.state, RunState::Finished | RunState::Interrupted) {
            bar.finish_and_clear();
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn style(with_bar: bool) -> ProgressStyle {
    let template = if with_bar {
        "{spinner} {prefix} [{bar:30}] {msg}"
    } else {
        "{spinner} {prefix} {msg}"
    };
    ProgressStyle::with_template(template)
        .expect("valid template")
        .progress_chars("=> ")
}

/// Bytes per second since bytes started to move.
#[derive(Default)]
struct Rate {
    start: Option<(Instant, u64)>,
}

impl Rate {
    fn update(&mut self, bytes: u64, now: Instant) -> Option<f64> {
        if bytes == 0 {
            return None;
        }
        let (t0, b0) = *self.start.get_or_insert((now, bytes));
        let seconds = now.duration_since(t0).as_secs_f64();
        (seconds >= 1.0 && bytes > b0).then(|| (bytes - b0) as f64 / seconds)
    }
}

/// What the bar says: the prefix (state and target) and the message (sizes, rate, time
/// left, files, current file), sizes in the units of the report.
fn describe(s: &ProgressState, rate: Option<f64>) -> (String, String) {
    let target = s.target.as_deref().map(shown).unwrap_or_default();
    let restoring = s.bytes_done > 0 || s.phase.as_deref() == Some("restoring");
    let prefix = match s.state {
        RunState::Queued => "queued (waiting for a free slot)".to_string(),
        RunState::Finished | RunState::Interrupted => "done".to_string(),
        RunState::Running if restoring => format!("restoring {target}"),
        RunState::Running => match &s.phase {
            Some(phase) => format!("{phase} {target}"),
            None => "starting".to_string(),
        },
    };
    if s.bytes_total == 0 {
        let listed = match s.listed {
            0 => String::new(),
            n => crate::format::plural(n, "file") + " listed",
        };
        return (prefix.trim_end().to_string(), listed);
    }
    let done = s.bytes_done.min(s.bytes_total);
    let mut message = format!("{} of {}", human_bytes(done), human_bytes(s.bytes_total));
    if let Some(r) = rate.filter(|r| *r > 0.0) {
        message += &format!(", {}", human_rate(r));
        let left = (s.bytes_total - done) as f64 / r;
        if done < s.bytes_total {
            message += &format!(", about {} left", human_age(Duration::from_secs_f64(left)));
        }
    }
    message += &format!(", file {} of {}", s.files_done, s.files_total);
    if let Some(f) = &s.current_file {
        message += &format!(": {}", shown(f));
    }
    (prefix.trim_end().to_string(), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ProgressState {
        let mut s = crate::progress::Progress::new("r", "acme").snapshot();
        s.state = RunState::Running;
        s.target = Some("nas".into());
        s.phase = Some("listing".into());
        s
    }

    #[test]
    fn no_bar_before_the_total_is_known_then_restoring_with_rate_and_time_left() {
        let mut s = state();
        s.listed = 12;
        assert_eq!(
            describe(&s, None),
            ("listing nas".to_string(), "12 files listed".to_string())
        );
        s.phase = Some("restoring".into());
        s.bytes_total = 3 << 30;
        s.bytes_done = 1 << 30;
        s.files_total = 5;
        s.files_done = 1;
        s.current_file = Some("daily/a.tar".into());
        let (prefix, message) = describe(&s, Some(100.0 * 1024.0 * 1024.0));
        assert_eq!(prefix, "restoring nas");
        assert_eq!(
            message,
            "1 GiB of 3 GiB, 100 MiB/s, about 20 s left, file 1 of 5: daily/a.tar"
        );
    }

    #[test]
    fn the_rate_counts_from_when_bytes_start_to_move() {
        let mut r = Rate::default();
        let t0 = Instant::now();
        assert_eq!(r.update(0, t0), None);
        assert_eq!(r.update(1024, t0 + Duration::from_secs(5)), None);
        assert_eq!(r.update(5120, t0 + Duration::from_secs(7)), Some(2048.0));
    }
}

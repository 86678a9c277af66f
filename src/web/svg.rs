//! Small charts drawn on the server as inline SVG: numbers in, markup out (no text from
//! the catalog goes into it).

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 140.0;
const PAD: f64 = 24.0;

/// A line chart of `points` (time, value) over `days` days before `now`, its y axis from 0
/// to the largest value, labelled with `label(max)`.
pub fn line_chart(
    points: &[(DateTime<Utc>, f64)],
    now: DateTime<Utc>,
    days: i64,
    title: &str,
    label: impl Fn(f64) -> String,
) -> String {
    let start = now - Duration::days(days);
    let span = (now - start).num_seconds().max(1) as f64;
    let inside: Vec<&(DateTime<Utc>, f64)> = points
        .iter()
        .filter(|(t, _)| *t >= start && *t <= now)
        .collect();
    let max = inside.iter().map(|p| p.1).fold(0.0_f64, f64::max);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg">"#
    );
    let _ = write!(
        svg,
        r##"<line x1="{PAD}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{b}" stroke="#999"/>"##,
        b = HEIGHT - PAD,
        r = WIDTH - 4.0,
    );
    let _ = write!(
        svg,
        r##"<text x="{x}" y="14" font-size="11" fill="#555">{max}</text><text x="{PAD}" y="{y}" font-size="11" fill="#555">{days} days ago</text><text x="{r}" y="{y}" font-size="11" fill="#555" text-anchor="end">now</text>"##,
        x = PAD + 4.0,
        max = label(max),
        y = HEIGHT - 6.0,
        r = WIDTH - 4.0,
    );
    let mut coords = Vec::new();
    for (t, v) in inside {
        let x = PAD + (WIDTH - PAD - 4.0) * ((*t - start).num_seconds() as f64 / span);
        let y = if max > 0.0 {
            (HEIGHT - PAD) - (HEIGHT - 2.0 * PAD) * (v / max)
        } else {
            HEIGHT - PAD
        };
        coords.push((x, y));
    }
    coords.sort_by(|a, b| a.0.total_cmp(&b.0));
    if coords.is_empty() {
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{y}" font-size="13" fill="#555" text-anchor="middle">no data in this period</text>"##,
            x = WIDTH / 2.0,
            y = HEIGHT / 2.0
        );
    } else {
        let line: Vec<String> = coords
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = write!(
            svg,
            r##"<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{}"/>"##,
            line.join(" ")
        );
        for (x, y) in &coords {
            let _ = write!(
                svg,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#1565c0"/>"##
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_inside_the_period_are_drawn_and_older_ones_left_out() {
        let now = Utc::now();
        let svg = line_chart(
            &[
                (now - Duration::days(100), 5.0),
                (now - Duration::days(1), 2.0),
                (now, 4.0),
            ],
            now,
            90,
            "t",
            |m| format!("{m}"),
        );
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        // The largest value drawn sits at the top of the plot.
        assert!(svg.contains(&format!("cy=\"{PAD:.1}\"")), "{svg}");
        let empty = line_chart(&[], now, 90, "t", |m| format!("{m}"));
        assert!(empty.contains("no data"));
    }
}

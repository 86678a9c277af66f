//! Shared formatting of facts for people: sizes, ages, durations, percentages, short
//! hashes, and untrusted names made safe to print. Used by the checks (for the short
//! reasons they give) and by the printers in [`crate::report`]; it imports nothing of the
//! crate.

use std::time::Duration;

/// `1.5 GiB`: sizes everywhere (reports, progress bar, limits) are in binary (IEC) units,
/// so a configured `1GiB` reads `1 GiB`. One decimal, none when the value is whole.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let whole = n.is_multiple_of(1u64 << (10 * (unit as u32 + 1)));
    if whole {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A rate in bytes per second: `41.2 MiB/s`.
pub fn human_rate(bytes_per_second: f64) -> String {
    format!("{}/s", human_bytes(bytes_per_second.max(0.0) as u64))
}

/// `3 h 12 min`, rounded to what a person needs (`3 h`, not `3 h 0 min`).
pub fn human_age(d: Duration) -> String {
    let s = d.as_secs();
    let (big, small) = match s {
        0..60 => return format!("{s} s"),
        60..3600 => return format!("{} min", s / 60),
        3600..86400 => ((s / 3600, "h"), ((s % 3600) / 60, "min")),
        _ => ((s / 86400, "d"), ((s % 86400) / 3600, "h")),
    };
    match small.0 {
        0 => format!("{} {}", big.0, big.1),
        n => format!("{} {} {n} {}", big.0, big.1, small.1),
    }
}

/// How long something will take, rounded up to what a person plans with: `under a
/// minute`, `about 4 min`, `about 2 h 15 min` (to 5 minutes), `about 3 d 4 h`. For
/// estimates, never milliseconds.
pub fn planning_duration(seconds: f64) -> String {
    if seconds < 60.0 {
        return "under a minute".into();
    }
    let minutes = (seconds / 60.0).ceil() as u64;
    let rounded = match minutes {
        0..60 => minutes,
        60..1440 => minutes.div_ceil(5) * 5,
        _ => minutes.div_ceil(60) * 60,
    };
    format!("about {}", human_age(Duration::from_secs(rounded * 60)))
}

/// A duration given in seconds, e.g. a projected restore time.
pub fn human_duration(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        human_age(Duration::from_secs_f64(seconds))
    }
}

/// `part` as a percentage of `whole`.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".into();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

/// An untrusted file name made safe to print: control characters are escaped, so a name
/// cannot move the cursor or recolour a terminal.
pub fn shown(name: &str) -> String {
    if !name.chars().any(char::is_control) {
        return name.to_string();
    }
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `1 file`, `3 files`: a count with its noun, plural by adding `s`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A count with its noun for nouns whose plural is not `+s`: `1 copy`, `2 copies`.
pub fn plural_as(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// First 16 hex digits of a hash, enough to compare by eye.
pub fn short_hash(hex: &str) -> String {
    hex.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters() {
        assert_eq!(shown("a\x1b[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(shown("plain name.tar"), "plain name.tar");
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(plural(0, "file"), "0 files");
        assert_eq!(plural(1, "file"), "1 file");
        assert_eq!(plural(2, "backup target"), "2 backup targets");
        assert_eq!(plural_as(1, "entry", "entries"), "1 entry");
        assert_eq!(plural_as(3, "entry", "entries"), "3 entries");
    }

    #[test]
    fn sizes_are_binary_and_whole_limits_read_whole() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes(5 << 30), "5 GiB");
        assert_eq!(human_bytes(1_500_000_000), "1.4 GiB");
        assert_eq!(human_bytes(786_432), "768 KiB");
        assert_eq!(human_bytes(100_000_000), "95.4 MiB");
        assert_eq!(human_rate(43_000_000.0), "41.0 MiB/s");
    }

    #[test]
    fn estimates_are_rounded_to_what_a_person_plans_with() {
        assert_eq!(planning_duration(0.285), "under a minute");
        assert_eq!(planning_duration(61.0), "about 2 min");
        assert_eq!(planning_duration(3600.0 * 2.0 + 61.0), "about 2 h 5 min");
        assert_eq!(planning_duration(3600.0 * 3.0), "about 3 h");
        assert_eq!(planning_duration(86400.0 * 3.0 + 100.0), "about 3 d 1 h");
    }

    #[test]
    fn humane_units() {
        assert_eq!(human_age(Duration::from_secs(3 * 86400 + 7200)), "3 d 2 h");
        assert_eq!(human_age(Duration::from_secs(3 * 3600 + 30)), "3 h");
        assert_eq!(human_age(Duration::from_secs(26 * 3600)), "1 d 2 h");
        assert_eq!(percent(1, 3), "33%");
    }
}

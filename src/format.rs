//! Shared formatting of facts for people: sizes, ages, durations, percentages, short
//! hashes, and untrusted names made safe to print. Used by the checks (for the short
//! reasons they give) and by the printers in [`crate::report`]; it imports nothing of the
//! crate.

use std::time::Duration;

/// `1.5 GB`, in decimal units like storage vendors use.
pub fn human_bytes(n: u64) -> String {
    bytesize::ByteSize::b(n).display().si().to_string()
}

/// `3 h 12 min`, rounded to what a person needs.
pub fn human_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86400, (s % 86400) / 3600),
    }
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
    fn humane_units() {
        assert_eq!(human_bytes(1_500_000_000), "1.5 GB");
        assert_eq!(human_age(Duration::from_secs(3 * 86400 + 7200)), "3 d 2 h");
        assert_eq!(percent(1, 3), "33%");
    }
}

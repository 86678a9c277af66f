//! The `schedule` of a job: a standard 5-field cron expression.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Deserializer, de::Error as _};

/// A validated 5-field cron expression (minute hour day-of-month month day-of-week),
/// or one of the aliases `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`.
#[derive(Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
}

impl Schedule {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn cron(&self) -> &Cron {
        &self.cron
    }

    /// The first time strictly after `after` at which the schedule fires, reading the
    /// schedule as wall-clock time in `tz`.
    ///
    /// Daylight-saving changes neither skip nor double a run: a wall-clock time that does
    /// not exist (spring forward) fires when the gap ends; a wall-clock time that exists
    /// twice (fall back) fires at its first occurrence only.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = after.with_timezone(&tz).naive_local();
        for _ in 0..10_000 {
            let candidate = self
                .cron
                .find_next_occurrence(&Utc.from_utc_datetime(&wall), false)
                .ok()?
                .naive_utc()
                .with_nanosecond(0)?;
            let instant = resolve(tz, candidate)?;
            if instant > after {
                return Some(instant);
            }
            wall = candidate;
        }
        None
    }

    /// The latest time at or before `now` at which the schedule fired (same rules).
    pub fn last_at_or_before(&self, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = now.with_timezone(&tz).naive_local() + chrono::Duration::seconds(1);
        for _ in 0..10_000 {
            let candidate = self
                .cron
                .find_previous_occurrence(&Utc.from_utc_datetime(&wall), false)
                .ok()?
                .naive_utc()
                .with_nanosecond(0)?;
            let instant = resolve(tz, candidate)?;
            if instant <= now {
                return Some(instant);
            }
            wall = candidate;
        }
        None
    }
}

/// The instant of wall-clock time `wall` in `tz`: the first of two (fall back), or the
/// end of the gap (spring forward).
fn resolve(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => (1..=24 * 60).find_map(|m| {
            match tz.from_local_datetime(&(wall + chrono::Duration::minutes(m))) {
                // The first wall-clock minute that exists again: the end of the gap.
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    Some(t.with_timezone(&Utc))
                }
                LocalResult::None => None,
            }
        }),
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let fields = text.split_whitespace().count();
        if !text.starts_with('@') && fields != 5 {
            return Err(format!(
                "`{text}` has {fields} fields; a schedule has 5: minute hour day-of-month month day-of-week (e.g. \"30 2 * * *\")"
            ));
        }
        let cron = parse_cron(text).map_err(|e| {
            let field = (!text.starts_with('@'))
                .then(|| field_problem(text))
                .flatten();
            match field {
                Some(problem) => format!("`{text}`: {problem}"),
                None => format!("`{text}` is not a valid cron schedule: {e}"),
            }
        })?;
        let now = Utc::now();
        let horizon = now + chrono::Duration::days(NEVER_DAYS);
        match cron.find_next_occurrence(&now, false) {
            Ok(next) if next <= horizon => {}
            _ => {
                return Err(format!(
                    "`{text}` never fires: no date matches it in the next 5 years (a day that does not exist in that month, such as 30 February?)"
                ));
            }
        }
        Ok(Schedule {
            text: text.to_string(),
            cron,
        })
    }
}

/// A schedule with no occurrence within this many days (5 years) is refused.
const NEVER_DAYS: i64 = 5 * 366;

fn parse_cron(text: &str) -> Result<Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(text)
}

/// The five fields of a schedule: name, lowest and highest value, names allowed.
const FIELDS: [(&str, u32, u32, &str); 5] = [
    ("minute", 0, 59, ""),
    ("hour", 0, 23, ""),
    ("day-of-month", 1, 31, ""),
    ("month", 1, 12, " or JAN-DEC"),
    ("day-of-week", 0, 7, " or SUN-SAT"),
];

/// Which field of a 5-field schedule croner refuses, in words: each field is parsed
/// alone, the others being `*`.
fn field_problem(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    for (i, (name, lo, hi, names)) in FIELDS.iter().enumerate() {
        let alone: Vec<&str> = (0..5)
            .map(|j| if j == i { parts[j] } else { "*" })
            .collect();
        let Err(e) = parse_cron(&alone.join(" ")) else {
            continue;
        };
        let value = parts[i];
        let detail = e.to_string().to_ascii_lowercase();
        return Some(
            if detail.contains("out of bounds") || detail.contains("exceeded max") {
                format!("{name} {value} out of range {lo}-{hi}")
            } else {
                format!(
                    "{name} `{value}` is not valid (allowed: {lo}-{hi}{names}, `*`, lists, ranges and steps such as 1-5 or */15)"
                )
            },
        );
    }
    None
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_standard_and_aliases() {
        for ok in ["30 2 * * *", "0 */6 * * 1-5", "@daily", "15 3 1 * *"] {
            assert!(ok.parse::<Schedule>().is_ok(), "{ok}");
        }
    }

    fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Every firing between `from` and `to`, as local wall-clock strings.
    fn fires(s: &Schedule, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
        let mut out = Vec::new();
        let mut t = from;
        while let Some(n) = s.next_after(tz, t) {
            if n > to {
                break;
            }
            out.push(n.with_timezone(&tz).format("%m-%d %H:%M %Z").to_string());
            t = n;
        }
        out
    }

    #[test]
    fn daylight_saving_neither_skips_nor_doubles() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let daily: Schedule = "30 2 * * *".parse().unwrap();
        // Spring forward (29 March 2026: 02:00 -> 03:00): 02:30 does not exist.
        let got = fires(
            &daily,
            berlin,
            at(berlin, 2026, 3, 27, 12, 0),
            at(berlin, 2026, 3, 31, 12, 0),
        );
        assert_eq!(
            got,
            [
                "03-28 02:30 CET",
                "03-29 03:00 CEST",
                "03-30 02:30 CEST",
                "03-31 02:30 CEST"
            ]
        );
        // Fall back (25 October 2026: 03:00 -> 02:00): 02:30 exists twice.
        let got = fires(
            &daily,
            berlin,
            at(berlin, 2026, 10, 23, 12, 0),
            at(berlin, 2026, 10, 27, 12, 0),
        );
        assert_eq!(
            got,
            [
                "10-24 02:30 CEST",
                "10-25 02:30 CEST",
                "10-26 02:30 CET",
                "10-27 02:30 CET"
            ]
        );
        // An hourly schedule over the spring gap: no hour twice, none lost but the
        // missing one, which fires when the gap ends.
        let hourly: Schedule = "0 * * * *".parse().unwrap();
        let got = fires(
            &hourly,
            berlin,
            at(berlin, 2026, 3, 29, 0, 30),
            at(berlin, 2026, 3, 29, 4, 30),
        );
        assert_eq!(
            got,
            ["03-29 01:00 CET", "03-29 03:00 CEST", "03-29 04:00 CEST"]
        );
    }

    #[test]
    fn last_fire_for_catch_up() {
        let utc = chrono_tz::UTC;
        let daily: Schedule = "30 2 * * *".parse().unwrap();
        let now = at(utc, 2026, 5, 10, 9, 0);
        assert_eq!(
            daily.last_at_or_before(utc, now),
            Some(at(utc, 2026, 5, 10, 2, 30))
        );
        let exactly = at(utc, 2026, 5, 10, 2, 30);
        assert_eq!(daily.last_at_or_before(utc, exactly), Some(exactly));
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let after_gap = at(berlin, 2026, 3, 29, 9, 0);
        assert_eq!(
            daily.last_at_or_before(berlin, after_gap),
            Some(at(berlin, 2026, 3, 29, 3, 0))
        );
    }

    #[test]
    fn rejects_bad() {
        for bad in ["30 2 * *", "0 30 2 * * *", "61 2 * * *", "every day", ""] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        for (bad, words) in [
            ("0 25 * * *", "hour 25 out of range 0-23"),
            ("61 2 * * *", "minute 61 out of range 0-59"),
            ("0 2 32 * *", "day-of-month 32 out of range 1-31"),
            ("0 2 * 13 *", "month 13 out of range 1-12"),
            ("0 2 * * 9", "day-of-week 9 out of range 0-7"),
            ("0 2 * * funday", "day-of-week `funday` is not valid"),
        ] {
            let err = bad.parse::<Schedule>().unwrap_err();
            assert!(err.contains(words), "{bad}: {err}");
        }
    }

    #[test]
    fn refuses_schedules_that_never_fire() {
        for never in ["0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *"] {
            let err = never.parse::<Schedule>().unwrap_err();
            assert!(err.contains("never fires"), "{never}: {err}");
        }
        // Rare but real: 29 February (within 4 years), the 31st of some months.
        for rare in ["0 0 29 2 *", "0 0 31 * *", "0 0 30 2 1"] {
            assert!(rare.parse::<Schedule>().is_ok(), "{rare}");
        }
    }
}

//! The `schedule` of a job: a standard 5-field cron expression.

use std::fmt;
use std::str::FromStr;

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
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(text)
            .map_err(|e| format!("`{text}` is not a valid cron schedule: {e}"))?;
        Ok(Schedule {
            text: text.to_string(),
            cron,
        })
    }
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

    #[test]
    fn rejects_bad() {
        for bad in ["30 2 * *", "0 30 2 * * *", "61 2 * * *", "every day", ""] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad}");
        }
    }
}

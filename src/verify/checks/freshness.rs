//! Freshness: is the newest backup recent enough (the recovery point objective)?

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::evidence::{CheckKind, CheckResult, FileRef, Verdict};
use crate::format::{human_age, shown};

/// Clock skew tolerated before a modification time counts as "in the future".
const SKEW: Duration = Duration::from_secs(5 * 60);

pub fn check(
    newest: Option<&FileRef>,
    max_age: Option<Duration>,
    now: DateTime<Utc>,
) -> CheckResult {
    let result = |verdict, reason: String| CheckResult {
        check: CheckKind::Freshness,
        verdict,
        reason,
    };
    let Some(newest) = newest else {
        return result(
            Verdict::Error,
            "no backup file to judge freshness by".into(),
        );
    };
    let age = now.signed_duration_since(newest.modified);
    let Ok(age) = age.to_std() else {
        let ahead = (-age).to_std().unwrap_or_default();
        if ahead > SKEW {
            return result(
                Verdict::Warn,
                format!(
                    "the newest file {} is dated {} in the future ({}); check the clocks, freshness cannot be judged from it",
                    shown(&newest.path),
                    human_age(ahead),
                    newest.modified.format("%Y-%m-%d %H:%M UTC")
                ),
            );
        }
        return result(
            Verdict::Pass,
            format!("newest backup {} was written just now", shown(&newest.path)),
        );
    };
    match max_age {
        None => result(
            Verdict::Pass,
            format!(
                "newest backup is {} old; not judged (max_age = \"off\")",
                human_age(age)
            ),
        ),
        Some(limit) if age > limit => result(
            Verdict::Fail,
            format!(
                "the newest backup, {}, is {} old; the policy allows {} (max_age): backups have stopped or are not arriving",
                shown(&newest.path),
                human_age(age),
                human_age(limit)
            ),
        ),
        Some(limit) => result(
            Verdict::Pass,
            format!(
                "newest backup is {} old (allowed: {})",
                human_age(age),
                human_age(limit)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(hours_ago: i64, now: DateTime<Utc>) -> FileRef {
        FileRef {
            path: "x".into(),
            size: 1,
            modified: now - chrono::Duration::hours(hours_ago),
        }
    }

    #[test]
    fn stale_fails_fresh_passes_future_warns() {
        let now = Utc::now();
        let limit = Some(Duration::from_secs(26 * 3600));
        assert_eq!(
            check(Some(&file(2, now)), limit, now).verdict,
            Verdict::Pass
        );
        assert_eq!(
            check(Some(&file(30, now)), limit, now).verdict,
            Verdict::Fail
        );
        assert_eq!(
            check(Some(&file(30, now)), None, now).verdict,
            Verdict::Pass
        );
        assert_eq!(
            check(Some(&file(-3, now)), limit, now).verdict,
            Verdict::Warn
        );
        assert_eq!(check(None, limit, now).verdict, Verdict::Error);
    }

    fn dated(modified: DateTime<Utc>) -> FileRef {
        FileRef {
            path: "x".into(),
            size: 1,
            modified,
        }
    }

    #[test]
    fn a_newest_file_exactly_at_the_limit_is_fresh_and_a_second_more_is_stale() {
        let now = Utc::now();
        let limit = Duration::from_secs(26 * 3600);
        let at_limit = dated(now - chrono::Duration::seconds(26 * 3600));
        let c = check(Some(&at_limit), Some(limit), now);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.reason);
        assert!(c.reason.contains("allowed: 1 d 2 h"), "{}", c.reason);
        let over = dated(now - chrono::Duration::seconds(26 * 3600 + 1));
        let c = check(Some(&over), Some(limit), now);
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.reason);
        assert!(c.reason.contains("backups have stopped"), "{}", c.reason);
    }

    #[test]
    fn clock_skew_of_up_to_five_minutes_is_tolerated() {
        let now = Utc::now();
        let limit = Some(Duration::from_secs(3600));
        for ahead in [1, 4 * 60, 5 * 60] {
            let c = check(
                Some(&dated(now + chrono::Duration::seconds(ahead))),
                limit,
                now,
            );
            assert_eq!(c.verdict, Verdict::Pass, "{ahead} s ahead: {}", c.reason);
            assert!(c.reason.contains("written just now"), "{}", c.reason);
        }
        let c = check(
            Some(&dated(now + chrono::Duration::seconds(5 * 60 + 1))),
            limit,
            now,
        );
        assert_eq!(c.verdict, Verdict::Warn, "{}", c.reason);
        assert!(c.reason.contains("in the future"), "{}", c.reason);
    }

    #[test]
    fn max_age_off_never_judges_the_age() {
        let now = Utc::now();
        let c = check(Some(&file(24 * 400, now)), None, now);
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(c.reason.contains("not judged"), "{}", c.reason);
        // Off is not a licence to skip the other rules: no file is still an error.
        assert_eq!(check(None, None, now).verdict, Verdict::Error);
    }
}

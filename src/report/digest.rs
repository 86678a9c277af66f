//! The weekly summary for a client's business owner: plain language, no jargon.
//!
//! [`Digest::build`] summarizes a job's runs of the last week (and the coverage and state
//! of its latest run); [`text`] and [`html`] print it.

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

use crate::evidence::{CheckKind, RunEvidence, RunStatus, TargetEvidence, Verdict};

use super::html::{esc, verdict_badge};
use super::{human_age, human_bytes, human_duration};

/// What the week looked like for one client.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub client: String,
    pub job: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Finished runs in the week, and how they ended.
    pub runs: u32,
    pub passed: u32,
    pub failed: u32,
    pub not_verified: u32,
    pub files_restored: u64,
    pub bytes_restored: u64,
    /// State of each backup location at the latest finished run.
    pub targets: Vec<TargetDigest>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetDigest {
    pub name: String,
    pub verdict: Verdict,
    /// Age of the newest backup when last checked.
    pub newest_age: Option<std::time::Duration>,
    /// Shares of files and bytes test-restored in the last 30 days, in percent.
    pub coverage_files: f64,
    pub coverage_bytes: f64,
    pub full_restore_seconds: Option<f64>,
    /// The open problem in plain words, if the latest check was not a pass.
    pub problem: Option<String>,
}

/// The open problem of a target in words for a business owner, from its worst check.
fn owner_problem(t: &TargetEvidence) -> Option<String> {
    let worst = t
        .checks
        .iter()
        .find(|c| c.verdict == t.verdict && c.verdict != Verdict::Pass)?;
    let damaged = t
        .files
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .count();
    Some(match (worst.check, worst.verdict) {
        (CheckKind::Access | CheckKind::Inventory, _) => {
            "we could not reach this backup location, so its backups could not be checked.".into()
        }
        (CheckKind::Freshness, _) => "new backups are not arriving on time.".into(),
        (CheckKind::Drift, _) => "backup files disappeared or shrank unexpectedly.".into(),
        (CheckKind::Restore, Verdict::Fail) => format!(
            "a test restore found {} damaged backup file{}.",
            damaged.max(1),
            if damaged > 1 { "s" } else { "" }
        ),
        (CheckKind::Restore, _) => "some backup files could not be read to test them.".into(),
        (CheckKind::Coverage, _) => {
            "some very large backup files cannot be tested within the current limits.".into()
        }
        (CheckKind::Source, _) => {
            "backed-up files differ from your live files although those did not change.".into()
        }
        (CheckKind::Ransomware, _) => {
            "many backup files changed at once or turned into scrambled data, which is what ransomware does: your IT provider is looking into it.".into()
        }
        (CheckKind::Repository, _) => {
            "the backup repository is damaged or could not be checked.".into()
        }
        (CheckKind::Manifest, _) => {
            "backup files do not match the checksums the backup software recorded, or are missing."
                .into()
        }
        (CheckKind::Canary, _) => {
            "a test file we placed in your data is missing or altered in the backup.".into()
        }
    })
}

impl Digest {
    /// Summarizes `runs` (any order) for the 7 days before `now`.
    pub fn build(client: &str, job: &str, runs: &[RunEvidence], now: DateTime<Utc>) -> Digest {
        let from = now - Duration::days(7);
        let mut d = Digest {
            client: client.to_string(),
            job: job.to_string(),
            from,
            to: now,
            runs: 0,
            passed: 0,
            failed: 0,
            not_verified: 0,
            files_restored: 0,
            bytes_restored: 0,
            targets: Vec::new(),
        };
        let finished = runs.iter().filter(|r| {
            r.status == RunStatus::Finished && r.started_at >= from && r.started_at <= now
        });
        for r in finished {
            d.runs += 1;
            match r.effective_verdict() {
                Verdict::Pass | Verdict::Warn => d.passed += 1,
                Verdict::Fail => d.failed += 1,
                Verdict::Error => d.not_verified += 1,
            }
            for t in &r.targets {
                if let Some(rs) = &t.restore {
                    d.files_restored += rs.files;
                    d.bytes_restored += rs.bytes;
                }
            }
        }
        let latest = runs
            .iter()
            .filter(|r| r.status == RunStatus::Finished && r.started_at <= now)
            .max_by_key(|r| r.started_at);
        if let Some(r) = latest {
            let checked = r.finished_at.unwrap_or(r.started_at);
            for t in &r.targets {
                let pct = |part: u64, whole: u64| {
                    if whole == 0 {
                        0.0
                    } else {
                        part as f64 * 100.0 / whole as f64
                    }
                };
                let (files, bytes) = t
                    .inventory
                    .as_ref()
                    .map(|i| (i.files, i.bytes))
                    .unwrap_or((0, 0));
                let cov = t.coverage.as_ref();
                d.targets.push(TargetDigest {
                    name: t.name.clone(),
                    verdict: t.verdict,
                    newest_age: t
                        .inventory
                        .as_ref()
                        .and_then(|i| i.newest.as_ref())
                        .and_then(|n| checked.signed_duration_since(n.modified).to_std().ok()),
                    coverage_files: cov.map(|c| pct(c.verified_files_30d, files)).unwrap_or(0.0),
                    coverage_bytes: cov.map(|c| pct(c.verified_bytes_30d, bytes)).unwrap_or(0.0),
                    full_restore_seconds: t
                        .restore
                        .as_ref()
                        .and_then(|r| r.projected_full_restore_seconds),
                    problem: owner_problem(t),
                });
            }
        }
        d
    }

    /// The subject line of the email.
    pub fn subject(&self) -> String {
        let state = if self.runs == 0 {
            "no backup checks this week"
        } else if self.targets.iter().any(|t| t.problem.is_some()) {
            "attention needed"
        } else {
            "backups verified"
        };
        format!(
            "Weekly backup check for {}: {state} ({} to {})",
            self.client,
            self.from.format("%-d %b"),
            self.to.format("%-d %b %Y")
        )
    }

    fn headline(&self) -> String {
        match (self.runs, self.failed + self.not_verified) {
            (0, _) => "Your backups were not checked this week. Your IT provider has been asked to look into it.".into(),
            (n, 0) => format!(
                "Your backups were checked {n} time{} this week, and every check passed.",
                if n == 1 { "" } else { "s" }
            ),
            (n, bad) => format!(
                "Your backups were checked {n} time{} this week: {} passed, {bad} found a problem or could not be completed.",
                if n == 1 { "" } else { "s" },
                self.passed
            ),
        }
    }

    fn facts(&self) -> Vec<String> {
        let mut out = vec![format!(
            "What we tested: we restored {} file{} ({}) from your backups and confirmed {} intact.",
            self.files_restored,
            if self.files_restored == 1 { "" } else { "s" },
            human_bytes(self.bytes_restored),
            if self.files_restored == 1 {
                "it was"
            } else {
                "they were"
            }
        )];
        for t in &self.targets {
            let mut line = format!(
                "{}: in the last 30 days we test-restored {:.0}% of the backup files ({:.0}% of the data).",
                t.name, t.coverage_files, t.coverage_bytes
            );
            if let Some(age) = t.newest_age {
                let _ = write!(
                    line,
                    " The newest backup was {} old when last checked.",
                    human_age(age)
                );
            }
            if let Some(s) = t.full_restore_seconds {
                let _ = write!(
                    line,
                    " Restoring everything would take about {} at the speed of our test restores.",
                    human_duration(s)
                );
            }
            out.push(line);
        }
        out
    }

    fn problems(&self) -> Vec<String> {
        self.targets
            .iter()
            .filter_map(|t| t.problem.as_ref().map(|p| format!("{}: {p}", t.name)))
            .collect()
    }
}

/// The plain-text summary.
pub fn text(d: &Digest) -> String {
    let mut w = String::new();
    let _ = writeln!(w, "{}", d.subject());
    let _ = writeln!(w);
    let _ = writeln!(w, "{}", d.headline());
    let _ = writeln!(w);
    for f in d.facts() {
        let _ = writeln!(w, "{f}");
    }
    let _ = writeln!(w);
    let problems = d.problems();
    if problems.is_empty() {
        let _ = writeln!(w, "Open problems: none.");
    } else {
        let _ = writeln!(
            w,
            "Open problems (your IT provider has the details and has been alerted):"
        );
        for p in problems {
            let _ = writeln!(w, "  - {p}");
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "Checked by backproof, which test-restores real files from your backups on a schedule."
    );
    w
}

/// The HTML summary, for email clients.
pub fn html(d: &Digest) -> String {
    let mut w = String::new();
    let _ = writeln!(
        w,
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6;font-family:Arial,Helvetica,sans-serif;color:#111827;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6;"><tr><td align="center" style="padding:16px 8px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;border:1px solid #e5e7eb;">
<tr><td style="padding:20px;">
<h1 style="font-size:20px;line-height:26px;margin:0 0 8px 0;">Weekly backup check: {client}</h1>
<p style="font-size:13px;color:#6b7280;margin:0 0 12px 0;">{from} to {to}</p>
<p style="font-size:16px;line-height:24px;margin:0 0 12px 0;">{headline}</p>"#,
        title = esc(&d.subject()),
        client = esc(&d.client),
        from = d.from.format("%-d %B"),
        to = d.to.format("%-d %B %Y"),
        headline = esc(&d.headline()),
    );
    for f in d.facts() {
        let _ = writeln!(
            w,
            r#"<p style="font-size:14px;line-height:21px;margin:0 0 8px 0;">{}</p>"#,
            esc(&f)
        );
    }
    let problems = d.problems();
    if problems.is_empty() {
        w.push_str(r#"<p style="font-size:14px;line-height:21px;margin:12px 0 0 0;padding:8px 10px;background:#f0fdf4;border-left:4px solid #16a34a;">Open problems: none.</p>
"#);
    } else {
        w.push_str(r#"<p style="font-size:14px;line-height:21px;margin:12px 0 4px 0;"><strong>Open problems</strong> (your IT provider has the details and has been alerted):</p>
"#);
        for t in d.targets.iter().filter(|t| t.problem.is_some()) {
            let _ = writeln!(
                w,
                r#"<p style="font-size:14px;line-height:21px;margin:0 0 6px 0;padding:8px 10px;background:#fef2f2;border-left:4px solid #dc2626;">{} <strong>{}</strong>: {}</p>"#,
                verdict_badge(t.verdict),
                esc(&t.name),
                esc(t.problem.as_deref().unwrap_or_default())
            );
        }
    }
    w.push_str(r#"<p style="font-size:12px;line-height:18px;color:#6b7280;margin:16px 0 0 0;">Checked by backproof, which test-restores real files from your backups on a schedule.</p>
</td></tr></table></td></tr></table>
</body></html>
"#);
    w
}

//! The weekly summary for a client's business owner: plain language, no jargon.
//!
//! [`Digest::build`] summarizes a job's runs of the last week, its open problems, and the
//! coverage and state of its latest run; [`text`] and [`html`] print it. Every sentence
//! comes from those facts: files that verified and files that did not are counted apart,
//! every open problem is listed by kind, and a week without a check is a problem, never
//! "none".

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

use crate::evidence::{ProblemKind, RunEvidence, RunStatus, SampledFile, Verdict};

use super::html::{esc, verdict_badge};
use crate::format::{human_age, human_bytes};

/// What the week looked like for one client.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Files test-restored in the week that verified, and their bytes.
    pub files_verified: u64,
    pub bytes_verified: u64,
    /// Files test-restored in the week that were damaged or could not be restored.
    pub files_damaged: u64,
    /// State of each backup location at the latest finished run.
    pub targets: Vec<TargetDigest>,
    /// Every problem open now, worst first.
    pub problems: Vec<DigestProblem>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TargetDigest {
    pub name: String,
    pub verdict: Verdict,
    /// Age of the newest backup, now.
    pub newest_age: Option<std::time::Duration>,
    /// Shares of files and bytes test-restored in the last 30 days, in percent.
    pub coverage_files: f64,
    pub coverage_bytes: f64,
    pub full_restore_seconds: Option<f64>,
    /// The latest run could not check this location.
    pub not_verified: bool,
}

/// An open problem, for the owner.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DigestProblem {
    pub target: String,
    pub kind: ProblemKind,
    pub files: u64,
    pub since: DateTime<Utc>,
    /// Acknowledged by the IT provider: by whom, and why.
    pub acknowledged: Option<(String, String)>,
}

impl DigestProblem {
    /// The problem in words for a business owner.
    fn words(&self) -> String {
        let n = self.files;
        let s = if n == 1 { "" } else { "s" };
        match self.kind {
            ProblemKind::Corruption => {
                format!("{n} backup file{s} turned out damaged when we test-restored them.")
            }
            ProblemKind::Tampering => "backup files that must never change were changed, or many changed at once as ransomware does.".into(),
            ProblemKind::FailedRestore => format!("{n} backup file{s} could not be restored."),
            ProblemKind::Canary => {
                "a test file we placed in your data is missing or altered in the backup.".into()
            }
            ProblemKind::Repository => "the backup repository is damaged.".into(),
            ProblemKind::Vanished => format!("{n} backup file{s} disappeared unexpectedly."),
            ProblemKind::Shrunken => "the backups shrank unexpectedly.".into(),
            ProblemKind::Stale => "new backups are not arriving on time.".into(),
            ProblemKind::Manifest => "backup files do not match the checksums the backup software recorded, or are missing.".into(),
            ProblemKind::SourceMismatch => {
                "backed-up files differ from your live files although those did not change."
                    .into()
            }
            ProblemKind::NotVerified => "the backups could not be checked.".into(),
            ProblemKind::Other => "something needs attention.".into(),
        }
    }

    fn line(&self) -> String {
        let mut line = format!(
            "{}: {} (since {})",
            self.target,
            self.words(),
            self.since.format("%-d %b")
        );
        if let Some((by, why)) = &self.acknowledged {
            let _ = write!(line, " Your IT provider ({by}) knows about it: {why}");
        }
        line
    }
}

impl Digest {
    /// Summarizes `runs` (any order) for the 7 days before `now`, with the problems open
    /// now: (target, kind, files, since, acknowledgement).
    pub fn build(
        client: &str,
        job: &str,
        runs: &[RunEvidence],
        problems: Vec<DigestProblem>,
        now: DateTime<Utc>,
    ) -> Digest {
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
            files_verified: 0,
            bytes_verified: 0,
            files_damaged: 0,
            targets: Vec::new(),
            problems,
        };
        d.problems
            .sort_by_key(|p| (p.acknowledged.is_some(), p.kind.tier(), p.kind));
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
            for f in r.targets.iter().flat_map(|t| &t.files) {
                if f.verified() {
                    d.files_verified += 1;
                    d.bytes_verified += f.bytes;
                } else if damaged(f) {
                    d.files_damaged += 1;
                }
            }
        }
        let latest = runs
            .iter()
            .filter(|r| r.status == RunStatus::Finished && r.started_at <= now)
            .max_by_key(|r| r.started_at);
        if let Some(r) = latest {
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
                        .and_then(|n| now.signed_duration_since(n.modified).to_std().ok()),
                    coverage_files: cov.map(|c| pct(c.verified_files_30d, files)).unwrap_or(0.0),
                    coverage_bytes: cov.map(|c| pct(c.verified_bytes_30d, bytes)).unwrap_or(0.0),
                    full_restore_seconds: t
                        .restore
                        .as_ref()
                        .and_then(|r| r.projected_full_restore_seconds),
                    not_verified: t.verdict == Verdict::Error,
                });
            }
        }
        d
    }

    /// Anything the owner should know is wrong: open problems, no check this week, a
    /// location the latest run could not check, nothing verified.
    pub fn needs_attention(&self) -> bool {
        !self.problem_lines().is_empty()
    }

    /// The subject line of the email.
    pub fn subject(&self) -> String {
        let state = if self.runs == 0 {
            "no backup checks this week"
        } else if self.needs_attention() {
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
        let times = |n: u32| format!("{n} time{}", if n == 1 { "" } else { "s" });
        match (self.runs, self.failed + self.not_verified) {
            (0, _) => "Your backups were not checked this week.".into(),
            (n, 0) => format!(
                "Your backups were checked {} this week, and every check passed.",
                times(n)
            ),
            (n, _) => {
                let mut parts = vec![format!("{} passed", self.passed)];
                if self.failed > 0 {
                    parts.push(format!("{} found a problem", self.failed));
                }
                if self.not_verified > 0 {
                    parts.push(format!("{} could not be completed", self.not_verified));
                }
                format!(
                    "Your backups were checked {} this week: {}.",
                    times(n),
                    parts.join(", ")
                )
            }
        }
    }

    fn facts(&self) -> Vec<String> {
        let mut out = Vec::new();
        let tested = self.files_verified + self.files_damaged;
        let files = |n: u64| format!("{n} file{}", if n == 1 { "" } else { "s" });
        if tested > 0 {
            let mut line = format!(
                "What we tested: we test-restored {} from your backups; {} ({}) came back intact",
                files(tested),
                self.files_verified,
                human_bytes(self.bytes_verified)
            );
            if self.files_damaged > 0 {
                let _ = write!(
                    line,
                    ", {} damaged or could not be restored",
                    self.files_damaged
                );
            }
            line.push('.');
            out.push(line);
        }
        for t in self.targets.iter().filter(|t| !t.not_verified) {
            let mut line = format!(
                "{}: in the last 30 days we test-restored {:.0}% of the backup files ({:.0}% of the data).",
                t.name, t.coverage_files, t.coverage_bytes
            );
            if let Some(age) = t.newest_age {
                let _ = write!(line, " The newest backup is {} old.", human_age(age));
            }
            if let Some(s) = t.full_restore_seconds {
                let _ = write!(
                    line,
                    " Restoring everything would take {} at the speed of our test restores.",
                    crate::format::planning_duration(s)
                );
            }
            out.push(line);
        }
        out
    }

    /// Every problem, worst first, in the owner's words.
    fn problem_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.runs == 0 {
            out.push("no check of your backups ran this week.".to_string());
        } else if self.files_verified == 0 {
            out.push("no backup file could be test-restored this week.".to_string());
        }
        out.extend(self.problems.iter().map(DigestProblem::line));
        for t in self.targets.iter().filter(|t| t.not_verified) {
            out.push(format!(
                "{}: the latest check could not reach or read this backup location, so its backups could not be checked.",
                t.name
            ));
        }
        out
    }
}

/// A sampled file the restore showed damaged or unrestorable (not one that merely
/// could not be verified).
fn damaged(f: &SampledFile) -> bool {
    f.verdict == Verdict::Fail
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
    let problems = d.problem_lines();
    if problems.is_empty() {
        let _ = writeln!(w, "Open problems: none.");
    } else {
        let _ = writeln!(w, "Open problems ({}):", problems.len());
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
    let problems = d.problem_lines();
    if problems.is_empty() {
        w.push_str(r#"<p style="font-size:14px;line-height:21px;margin:12px 0 0 0;padding:8px 10px;background:#f0fdf4;border-left:4px solid #16a34a;">Open problems: none.</p>
"#);
    } else {
        let _ = writeln!(
            w,
            r#"<p style="font-size:14px;line-height:21px;margin:12px 0 4px 0;"><strong>Open problems ({})</strong>:</p>"#,
            problems.len()
        );
        for p in problems {
            let _ = writeln!(
                w,
                r#"<p style="font-size:14px;line-height:21px;margin:0 0 6px 0;padding:8px 10px;background:#fef2f2;border-left:4px solid #dc2626;">{} {}</p>"#,
                verdict_badge(Verdict::Fail),
                esc(&p)
            );
        }
    }
    w.push_str(r#"<p style="font-size:12px;line-height:18px;color:#6b7280;margin:16px 0 0 0;">Checked by backproof, which test-restores real files from your backups on a schedule.</p>
</td></tr></table></td></tr></table>
</body></html>
"#);
    w
}

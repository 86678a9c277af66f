//! The per-run report email, for technicians: a plain-text part and an HTML part made for
//! email clients (tables and inline styles only: no scripts, no external images, no
//! stylesheets), both from the same evidence.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::evidence::{
    CheckKind, Expectation, Finding, PickReason, ProblemKind, RunEvidence, TargetEvidence, Verdict,
};

use super::html::{esc, verdict_badge};
use crate::format::{human_age, human_bytes, short_hash, shown};

/// Everything the report shows besides the evidence itself.
pub struct ReportContext<'a> {
    /// BLAKE3 of the evidence document as attached.
    pub hash: &'a str,
    /// File name of the attachment.
    pub attachment: &'a str,
    /// The previous run was a failure or error, and this one verified: a recovery.
    pub recovery: bool,
}

/// `[FAIL] Acme Dental: 2 corrupt files on nas`: the verdict and the worst finding.
pub fn subject(ev: &RunEvidence, recovery: bool) -> String {
    format!(
        "[{}] {}: {}",
        ev.effective_verdict().label(),
        ev.client,
        headline(ev, recovery)
    )
}

/// The run in a few words, leading with its worst finding: `2 corrupt files on nas
/// (+1 more problem)`, or `all 3 backup targets verified`.
pub fn headline(ev: &RunEvidence, recovery: bool) -> String {
    let total = ev.targets.len();
    let mut found: Vec<(&TargetEvidence, &Finding)> = ev
        .targets
        .iter()
        .flat_map(|t| t.findings.iter().map(move |f| (t, f)))
        .filter(|(_, f)| f.verdict != Verdict::Pass)
        .collect();
    found.sort_by_key(|(_, f)| f.rank());
    if ev.effective_verdict() != Verdict::Pass
        && let Some((t, worst)) = found.first()
    {
        let others = found
            .iter()
            .skip(1)
            .filter(|(_, f)| f.verdict >= Verdict::Error)
            .count();
        let more = match others {
            0 => String::new(),
            n => format!(" (+{n} more problem{})", plural(n)),
        };
        return format!("{} on {}{more}", finding_label(worst), t.name);
    }
    if ev.status != crate::evidence::RunStatus::Finished {
        return "not verified (the run did not finish)".into();
    }
    let ok = verified(ev);
    if ok == total && total == 1 {
        format!(
            "1 backup target verified{}",
            if recovery { " again" } else { "" }
        )
    } else if ok == total && recovery {
        format!("all {total} backup targets verified again")
    } else if ok == total {
        format!("all {total} backup targets verified")
    } else {
        format!("{ok} of {total} backup target{} verified", plural(total))
    }
}

/// A finding in a few words, from its kind and file count: `2 corrupt files`.
pub fn finding_label(f: &Finding) -> String {
    let n = f.files as usize;
    let files = |what: &str| format!("{n} {what}{}", plural(n));
    let carried = f.check == CheckKind::Problems;
    match f.kind {
        ProblemKind::Corruption if n > 0 => format!("{n} corrupt file{}", plural(n)),
        ProblemKind::Corruption => "corrupt backup data".into(),
        ProblemKind::Tampering if f.check == CheckKind::Ransomware => "signs of ransomware".into(),
        ProblemKind::Tampering if n > 0 => {
            format!("{n} file{} that must not change changed", plural(n))
        }
        ProblemKind::Tampering => "tampering".into(),
        ProblemKind::FailedRestore => format!("{} failed to restore", files("file")),
        ProblemKind::Canary => "canary file missing or altered".into(),
        ProblemKind::Repository => "repository check failed".into(),
        ProblemKind::Vanished if carried => format!("{} still missing", files("backup file")),
        ProblemKind::Vanished => format!("{} vanished", files("backup file")),
        ProblemKind::Shrunken => "backup size dropped".into(),
        ProblemKind::Stale => "no new backup in time".into(),
        ProblemKind::Manifest => "checksum manifest check failed".into(),
        ProblemKind::SourceMismatch => "backup differs from the live data".into(),
        ProblemKind::NotVerified => "could not verify".into(),
        ProblemKind::Other => "needs attention".into(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn verified(ev: &RunEvidence) -> usize {
    ev.targets
        .iter()
        .filter(|t| t.verdict.exit_code() == 0)
        .count()
}

/// What a technician should look at first for a target's worst finding.
fn first_look(t: &TargetEvidence) -> Option<&'static str> {
    let worst = t.findings.first().filter(|f| f.verdict != Verdict::Pass)?;
    Some(match (worst.kind, worst.check) {
        (ProblemKind::NotVerified, CheckKind::Inventory) => {
            "The location holds no backup files: check that the disk or share is mounted and the path is the one the backup software writes to."
        }
        (ProblemKind::NotVerified, CheckKind::Catalog) => {
            "backproof's own record of this target on this server was damaged (the reason says which part); that part was dropped, and the next run compares afresh: check the disk that holds backproof's data folder."
        }
        (ProblemKind::NotVerified, CheckKind::Restore) => {
            "Files could not be read: check permissions and the connection to the storage, and the scratch disk of this server."
        }
        (ProblemKind::NotVerified, _) => {
            "Can this server reach the storage? Check that it is up and mounted, the path, bucket or share name, and the credentials."
        }
        (ProblemKind::Stale, _) => {
            "The backup software has not written a new backup in time: check its job log and schedule."
        }
        (ProblemKind::Vanished | ProblemKind::Shrunken, _) => {
            "Backups disappeared or shrank: check the backup software's retention settings and logs, who has write or delete access to the storage, and signs of ransomware."
        }
        (ProblemKind::SourceMismatch, _) => {
            "The backup of unchanged files differs from the live data: check what the backup software copies (open files, filters) and the storage."
        }
        (ProblemKind::Tampering, CheckKind::Ransomware) => {
            "Files changed all at once or turned to near-random bytes under their old names: check the client's machines for ransomware now, and keep older backups safe."
        }
        (ProblemKind::Tampering, _) => {
            "Files that must never change were changed: find out who or what wrote to them, and keep older backups safe."
        }
        (ProblemKind::Repository, _) => {
            "The backup repository is damaged: run the backup software's own check (restic check --read-data) and look at the storage."
        }
        (ProblemKind::Manifest, _) => {
            "A checksum manifest disagrees with the backup (or could not be read): compare the listed files with the manifest, and check how the backup software writes it."
        }
        (ProblemKind::Canary, _) => {
            "A canary file is missing or altered in the backup: check that the backup still covers the folder it lives in, and who changed it."
        }
        (ProblemKind::Corruption, _) => {
            "A backup file's content is not what it was: restore it by hand and compare, check the storage for disk errors, and run the backup software's own check."
        }
        (ProblemKind::FailedRestore, _) => {
            "A backup file could not be read back: try restoring it by hand, and check the storage and the connection to it."
        }
        (ProblemKind::Other, CheckKind::Coverage) => {
            "Some files can never be test-restored within the per-run budget: raise sample_bytes for this target."
        }
        (ProblemKind::Other, _) => return None,
    })
}

/// The problem lines of a target: every finding worst first, the open problems with
/// their acknowledgements, and the problems this run showed fixed.
fn problem_lines(t: &TargetEvidence) -> Vec<String> {
    let mut out = Vec::new();
    let found: Vec<&Finding> = t
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Pass)
        .collect();
    if found.len() > 1 {
        out.push(format!("All findings, worst first ({}):", found.len()));
        for f in found {
            out.push(format!(
                "  {:<5} {}: {}",
                f.verdict.label(),
                f.kind.label(),
                f.summary
            ));
        }
    }
    if !t.problems.is_empty() {
        out.push(format!(
            "Open problems ({}), until fixed or acknowledged:",
            t.problems.len()
        ));
        for p in &t.problems {
            let state = match (&p.acknowledged, p.new, p.observed) {
                (Some(a), _, _) => format!(
                    "acknowledged by {} on {}{}: {}",
                    a.by,
                    a.at.format("%Y-%m-%d"),
                    a.until
                        .map(|u| format!(" until {}", u.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_default(),
                    a.reason
                ),
                (None, true, _) => "new in this run".into(),
                (None, false, true) => "seen again in this run".into(),
                (None, false, false) => "not fixed yet".into(),
            };
            out.push(format!(
                "  [BP-{}] {} since {} (run {}): {}{}",
                p.key,
                p.kind.label(),
                p.opened_at.format("%Y-%m-%d %H:%M UTC"),
                p.opened_run,
                state,
                if p.files > 0 {
                    format!("; {}", crate::format::plural(p.files, "file"))
                } else {
                    String::new()
                }
            ));
        }
    }
    for c in &t.closed_problems {
        out.push(format!(
            "Fixed: [BP-{}] {} (open since {}): {}",
            c.key,
            c.kind.label(),
            c.opened_at.format("%Y-%m-%d %H:%M UTC"),
            c.fixed_by
        ));
    }
    out
}

/// The plain-text part.
pub fn text(ev: &RunEvidence, ctx: &ReportContext<'_>) -> String {
    let mut w = String::new();
    let verdict = ev.effective_verdict();
    let _ = writeln!(
        w,
        "{}: backup verification {}",
        ev.client,
        verdict_word(verdict, ctx.recovery)
    );
    let _ = writeln!(
        w,
        "Run {} of job {} on {}, {} ({})",
        ev.run_id,
        ev.job,
        ev.host,
        ev.started_at.format("%Y-%m-%d %H:%M UTC"),
        ev.trigger
    );
    let _ = writeln!(w, "{}.", headline(ev, ctx.recovery));
    if let Some(m) = &ev.maintenance {
        let _ = writeln!(w, "{}", m.sentence());
    }
    for t in &ev.targets {
        let _ = writeln!(w);
        target_text(&mut w, t, checked(ev));
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "{}", egress_line(&ev.egress));
    let _ = writeln!(
        w,
        "Evidence: {} (attached), BLAKE3 {}",
        ctx.attachment, ctx.hash
    );
    let _ = writeln!(w, "  check it with: b3sum {}", ctx.attachment);
    if let (Some(run), Some(hash)) = (&ev.previous_run, &ev.previous_hash) {
        let _ = writeln!(
            w,
            "  it seals the previous report, run {run}, BLAKE3 {hash}"
        );
    }
    let _ = writeln!(w, "backproof {} on {}", ev.backproof_version, ev.host);
    w
}

/// One target in plain text: verdict, what is wrong and where to look first, the facts,
/// every check, every restored file, and what vanished or changed size in place. Shared
/// by the report email and the terminal summary.
pub(super) fn target_text(w: &mut String, t: &TargetEvidence, checked: DateTime<Utc>) {
    let _ = writeln!(w, "[{}] {} ({})", t.verdict.label(), t.name, t.location);
    if t.verdict != Verdict::Pass {
        let _ = writeln!(w, "  What is wrong: {}", t.summary);
        if let Some(hint) = first_look(t) {
            let _ = writeln!(w, "  Look first at: {hint}");
        }
    }
    for line in problem_lines(t) {
        let _ = writeln!(w, "  {line}");
    }
    for line in target_facts(t, checked) {
        let _ = writeln!(w, "  {line}");
    }
    let _ = writeln!(w, "  Checks:");
    for c in &t.checks {
        let _ = writeln!(
            w,
            "    {:<10} {:<5} {}",
            c.check.label(),
            c.verdict.label(),
            c.reason
        );
    }
    if !t.files.is_empty() {
        let _ = writeln!(w, "  Files test-restored:");
        for f in &t.files {
            let why = match f.picked {
                PickReason::Newest => "newest",
                PickReason::NeverVerified => "never verified",
                PickReason::LongestUnverified => "longest unverified",
                PickReason::Canary => "canary",
                PickReason::RepositoryMetadata => "repository metadata",
                PickReason::Recheck => "rechecked: an open problem names it",
            };
            let _ = writeln!(
                w,
                "    {:<5} {}  {}  blake3 {}  ({why}; {})",
                f.verdict.label(),
                shown(&f.path),
                human_bytes(f.size),
                f.streamed_blake3
                    .as_deref()
                    .map(short_hash)
                    .unwrap_or_else(|| "-".into()),
                expectation(&f.expected)
            );
            for note in file_notes(f) {
                let _ = writeln!(w, "          {note}");
            }
            if f.verdict != Verdict::Pass {
                let _ = writeln!(w, "          {}", f.reason);
            }
        }
    }
    if let Some(d) = &t.drift {
        let unexpected = (d.vanished_files - d.retired_files) as usize;
        if unexpected > 0 {
            let names: Vec<String> = d.vanished.iter().take(10).map(|f| shown(&f.path)).collect();
            let more = unexpected.saturating_sub(names.len());
            let _ = writeln!(
                w,
                "  Vanished since the last run ({unexpected}): {}{}",
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        for r in &d.resized_in_place {
            let _ = writeln!(
                w,
                "  Changed size, same modification time: {} ({} -> {} bytes)",
                shown(&r.path),
                r.size_before,
                r.size_now
            );
        }
    }
}

/// `Read from the targets: 40.0 kB (budget: 50.0 kB per run, 90.0 kB per week, ...)`.
pub(super) fn egress_line(e: &crate::evidence::Egress) -> String {
    let mut line = format!("Read from the targets: {}", human_bytes(e.read_bytes));
    let mut budget = Vec::new();
    if let Some(r) = e.per_run {
        budget.push(format!("{} per run", human_bytes(r)));
    }
    if let Some(w) = e.per_week {
        budget.push(format!(
            "{} per week, {} used in the 7 days before",
            human_bytes(w),
            human_bytes(e.week_used_before)
        ));
    }
    if !budget.is_empty() {
        line.push_str(&format!(" (budget: {})", budget.join(", ")));
    }
    line
}

/// The further proofs of a restored file, each with where its expectation came from.
fn file_notes(f: &crate::evidence::SampledFile) -> Vec<String> {
    use crate::evidence::SourceComparison as S;
    let mut notes = Vec::new();
    if let Some(second) = &f.second_read_blake3 {
        notes.push(format!("second read: blake3 {}", short_hash(second)));
    }
    if let Some(m) = &f.manifest {
        let place = if m.line > 0 {
            format!("{} line {}", shown(&m.manifest), m.line)
        } else {
            m.manifest.clone()
        };
        let verdict = if m.actual.as_deref() == Some(m.expected.as_str()) {
            "matches"
        } else {
            "DIFFERS"
        };
        notes.push(format!(
            "{} {} from {place}: {verdict}",
            m.algorithm.label(),
            short_hash(&m.expected)
        ));
    }
    if let Some(v) = &f.validation {
        notes.push(format!("validated with {}: {}", v.validator, v.detail));
    }
    if let Some(s) = &f.source {
        notes.push(match s {
            S::Identical => "identical to the live data".to_string(),
            S::Differs { source_blake3 } => format!(
                "DIFFERS from the live data (blake3 {})",
                short_hash(source_blake3)
            ),
            S::ChangedAtSource => {
                "changed at the source since the backup: not compared".to_string()
            }
            S::MissingAtSource => "no longer at the source: not compared".to_string(),
            S::Error { reason } => format!("could not be compared with the source: {reason}"),
        });
    }
    notes
}

/// When the run looked at the targets (its end; its start while unfinished).
fn checked(ev: &RunEvidence) -> DateTime<Utc> {
    ev.finished_at.unwrap_or(ev.started_at)
}

fn verdict_word(v: Verdict, recovery: bool) -> &'static str {
    match v {
        Verdict::Pass if recovery => "PASSED again",
        Verdict::Pass => "PASSED",
        Verdict::Warn => "passed with warnings",
        Verdict::Fail => "FAILED",
        Verdict::Error => "could NOT be completed",
    }
}

fn expectation(e: &Expectation) -> String {
    match e {
        Expectation::FirstSeen => "first restore, baseline recorded".into(),
        Expectation::Canary { blake3 } => format!("canary, must be {}", short_hash(blake3)),
        Expectation::Baseline {
            blake3, since_run, ..
        } => {
            format!("expected {} from run {since_run}", short_hash(blake3))
        }
        Expectation::NewVersion {
            previous_modified, ..
        } => format!(
            "new version; previous one from {}",
            previous_modified.format("%Y-%m-%d %H:%M")
        ),
    }
}

/// The lines of facts a report shows for a target: restored, newest, changes, speed.
fn target_facts(t: &TargetEvidence, checked: DateTime<Utc>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(r) = &t.restore {
        let mut line = format!(
            "Restored and verified: {}, {}",
            crate::format::plural(r.files, "file"),
            human_bytes(r.bytes)
        );
        if let Some(p) = r.projected_full_restore_seconds {
            let _ = write!(
                line,
                ", at {}; a full restore would take {}",
                crate::format::human_rate(r.throughput_mb_s * 1e6),
                crate::format::planning_duration(p)
            );
        }
        lines.push(line);
    }
    if let Some(inv) = &t.inventory {
        let newest = inv.newest.as_ref().map(|n| {
            let age = checked
                .signed_duration_since(n.modified)
                .to_std()
                .map(|a| format!("{} old", human_age(a)))
                .unwrap_or_else(|_| "dated in the future".into());
            format!("; newest {} ({age} when checked)", shown(&n.path))
        });
        lines.push(format!(
            "Backup set: {}, {}{}",
            crate::format::plural(inv.files, "file"),
            human_bytes(inv.bytes),
            newest.unwrap_or_default()
        ));
    }
    if let Some(d) = &t.drift
        && d.previous_run.is_some()
    {
        let retired = match d.retired_files {
            0 => String::new(),
            n => format!(" ({n} older than the retention, as expected)"),
        };
        lines.push(format!(
            "Since the last finished run: {} new, {} vanished{retired}, {} new versions",
            d.new_files, d.vanished_files, d.modified_files
        ));
    }
    lines
}

/// The HTML part.
pub fn html(ev: &RunEvidence, ctx: &ReportContext<'_>) -> String {
    let verdict = ev.effective_verdict();
    let mut w = String::new();
    let _ = writeln!(
        w,
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6;font-family:Arial,Helvetica,sans-serif;color:#111827;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6;"><tr><td align="center" style="padding:16px 8px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:680px;background:#ffffff;border:1px solid #e5e7eb;">
<tr><td style="padding:20px 20px 8px 20px;">{badge}
<h1 style="font-size:20px;line-height:26px;margin:12px 0 4px 0;">{client}: backup verification {word}</h1>
<p style="font-size:14px;line-height:20px;margin:0;color:#374151;">{headline} &middot; run {run} &middot; {when} &middot; {trigger} run on {host}</p>
</td></tr>"#,
        title = esc(&subject(ev, ctx.recovery)),
        badge = verdict_badge(verdict),
        client = esc(&ev.client),
        word = verdict_word(verdict, ctx.recovery),
        headline = esc(&headline(ev, ctx.recovery)),
        run = esc(&ev.run_id),
        when = ev.started_at.format("%Y-%m-%d %H:%M UTC"),
        trigger = ev.trigger,
        host = esc(&ev.host),
    );
    if let Some(m) = &ev.maintenance {
        let _ = writeln!(
            w,
            r#"<tr><td style="padding:8px 20px;font-size:14px;line-height:20px;background:#fffbeb;">{}</td></tr>"#,
            esc(&m.sentence())
        );
    }
    for t in &ev.targets {
        let _ = writeln!(
            w,
            r#"<tr><td style="padding:12px 20px;border-top:1px solid #e5e7eb;">
<p style="margin:0 0 6px 0;font-size:16px;line-height:22px;">{badge} <strong>{name}</strong> <span style="color:#6b7280;font-size:13px;word-break:break-all;">{loc}</span></p>"#,
            badge = verdict_badge(t.verdict),
            name = esc(&t.name),
            loc = esc(&t.location)
        );
        if t.verdict != Verdict::Pass {
            let _ = writeln!(
                w,
                r#"<p style="margin:6px 0;padding:8px 10px;background:#fef2f2;border-left:4px solid #dc2626;font-size:14px;line-height:20px;"><strong>What is wrong:</strong> {}</p>"#,
                esc(&t.summary)
            );
            if let Some(hint) = first_look(t) {
                let _ = writeln!(
                    w,
                    r#"<p style="margin:6px 0;padding:8px 10px;background:#fffbeb;border-left:4px solid #d97706;font-size:14px;line-height:20px;"><strong>Look first at:</strong> {}</p>"#,
                    esc(hint)
                );
            }
        }
        for line in problem_lines(t) {
            let _ = writeln!(
                w,
                r#"<p style="margin:2px 0;font-size:13px;line-height:18px;">{}</p>"#,
                esc(&line)
            );
        }
        for line in target_facts(t, checked(ev)) {
            let _ = writeln!(
                w,
                r#"<p style="margin:4px 0;font-size:14px;line-height:20px;">{}</p>"#,
                esc(&line)
            );
        }
        w.push_str(r#"<table role="presentation" width="100%" cellpadding="4" cellspacing="0" style="border-collapse:collapse;font-size:13px;line-height:18px;margin-top:6px;">
"#);
        for c in &t.checks {
            let _ = writeln!(
                w,
                r#"<tr><td style="border-top:1px solid #f3f4f6;width:80px;color:#374151;">{}</td><td style="border-top:1px solid #f3f4f6;width:56px;">{}</td><td style="border-top:1px solid #f3f4f6;">{}</td></tr>"#,
                c.check.label(),
                verdict_badge(c.verdict),
                esc(&c.reason)
            );
        }
        w.push_str("</table>\n");
        if !t.files.is_empty() {
            w.push_str(r#"<p style="margin:10px 0 4px 0;font-size:14px;"><strong>Files test-restored</strong></p>
<table role="presentation" width="100%" cellpadding="4" cellspacing="0" style="border-collapse:collapse;font-size:12px;line-height:16px;">
"#);
            for f in &t.files {
                let mut note = if f.verdict == Verdict::Pass {
                    esc(&expectation(&f.expected))
                } else {
                    format!("<strong>{}</strong>", esc(&f.reason))
                };
                for n in file_notes(f) {
                    note.push_str(&format!("<br>{}", esc(&n)));
                }
                let _ = writeln!(
                    w,
                    r#"<tr><td style="border-top:1px solid #f3f4f6;width:56px;vertical-align:top;">{}</td><td style="border-top:1px solid #f3f4f6;vertical-align:top;"><span style="word-break:break-all;">{}</span><br><span style="color:#6b7280;">{} &middot; blake3 <code>{}</code></span><br>{}</td></tr>"#,
                    verdict_badge(f.verdict),
                    esc(&shown(&f.path)),
                    human_bytes(f.size),
                    f.streamed_blake3
                        .as_deref()
                        .map(short_hash)
                        .unwrap_or_else(|| "-".into()),
                    note
                );
            }
            w.push_str("</table>\n");
        }
        if let Some(d) = &t.drift
            && d.vanished_files > d.retired_files
        {
            let names: Vec<String> = d
                .vanished
                .iter()
                .take(10)
                .map(|f| esc(&shown(&f.path)))
                .collect();
            let more = ((d.vanished_files - d.retired_files) as usize).saturating_sub(names.len());
            let _ = writeln!(
                w,
                r#"<p style="margin:8px 0 0 0;font-size:13px;line-height:18px;"><strong>Vanished since the last run:</strong> {}{}</p>"#,
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        w.push_str("</td></tr>\n");
    }
    let previous = match (&ev.previous_run, &ev.previous_hash) {
        (Some(run), Some(hash)) => format!(
            "<br>It seals the previous report, run {}, BLAKE3 <code style=\"word-break:break-all;\">{}</code>.",
            esc(run),
            esc(hash)
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        w,
        r#"<tr><td style="padding:12px 20px;border-top:1px solid #e5e7eb;font-size:12px;line-height:18px;color:#6b7280;">
Evidence: <strong>{att}</strong> (attached), BLAKE3 <code style="word-break:break-all;">{hash}</code>; check it with <code>b3sum {att}</code>.{previous}<br>
backproof {version} on {host}
</td></tr>
</table></td></tr></table>
</body></html>"#,
        att = esc(ctx.attachment),
        hash = esc(ctx.hash),
        version = esc(&ev.backproof_version),
        host = esc(&ev.host),
    );
    w
}

//! The per-run report email, for technicians: a plain-text part and an HTML part made for
//! email clients (tables and inline styles only: no scripts, no external images, no
//! stylesheets), both from the same evidence.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::evidence::{CheckKind, Expectation, PickReason, RunEvidence, TargetEvidence, Verdict};

use super::html::{esc, verdict_badge};
use super::{human_age, human_bytes, human_duration, short_hash, shown};

/// Everything the report shows besides the evidence itself.
pub struct ReportContext<'a> {
    /// BLAKE3 of the evidence document as attached.
    pub hash: &'a str,
    /// File name of the attachment.
    pub attachment: &'a str,
    /// The previous run was a failure or error, and this one verified: a recovery.
    pub recovery: bool,
}

/// `[FAIL] Acme Dental: 2 of 3 backup targets verified`.
pub fn subject(ev: &RunEvidence, recovery: bool) -> String {
    let verdict = ev.effective_verdict();
    let total = ev.targets.len();
    let ok = verified(ev);
    let what = if ok == total && recovery {
        format!("all {total} backup target{} verified again", plural(total))
    } else if ok == total {
        format!("all {total} backup target{} verified", plural(total))
    } else {
        format!("{ok} of {total} backup target{} verified", plural(total))
    };
    format!("[{}] {}: {what}", verdict.label(), ev.client)
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

/// What a technician should look at first for a target's worst check.
fn first_look(t: &TargetEvidence) -> Option<&'static str> {
    let worst = t
        .checks
        .iter()
        .find(|c| c.verdict == t.verdict && c.verdict != Verdict::Pass)?;
    Some(match (worst.check, worst.verdict) {
        (CheckKind::Access, _) => {
            "Can this server reach the storage? Check that it is up and mounted, the path, bucket or share name, and the credentials."
        }
        (CheckKind::Inventory, _) => {
            "The location holds no backup files: check that the disk or share is mounted and the path is the one the backup software writes to."
        }
        (CheckKind::Freshness, _) => {
            "The backup software has not written a new backup in time: check its job log and schedule."
        }
        (CheckKind::Drift, _) => {
            "Backups disappeared, shrank or changed in place: check retention settings, who has write access, and signs of ransomware."
        }
        (CheckKind::Coverage, _) => {
            "Some files can never be test-restored within the per-run budget: raise sample_bytes for this target."
        }
        (CheckKind::Source, _) => {
            "The backup of unchanged files differs from the live data: check what the backup software copies (open files, filters) and the storage."
        }
        (CheckKind::Ransomware, _) => {
            "Files changed all at once or turned to near-random bytes under their old names: check the client's machines for ransomware now, and keep older backups safe."
        }
        (CheckKind::Repository, _) => {
            "The backup repository's files do not match their names: run the backup software's own check (restic check --read-data) and look at the storage."
        }
        (CheckKind::Manifest, _) => {
            "A checksum manifest disagrees with the backup (or could not be read): compare the listed files with the manifest, and check how the backup software writes it."
        }
        (CheckKind::Canary, _) => {
            "A canary file is missing or altered in the backup: check that the backup still covers the folder it lives in, and who changed it."
        }
        (CheckKind::Restore, Verdict::Fail) => {
            "A backup file's content is not what it was: restore it by hand and compare, check the storage for disk errors, and run the backup software's own check."
        }
        (CheckKind::Restore, _) => {
            "Files could not be read: check permissions and the connection to the storage, and the scratch disk of this server."
        }
    })
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
    let _ = writeln!(
        w,
        "{} of {} backup targets verified.",
        verified(ev),
        ev.targets.len()
    );
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
        if d.vanished_files > 0 {
            let names: Vec<String> = d.vanished.iter().take(10).map(|f| shown(&f.path)).collect();
            let more = d.vanished_files as usize - names.len();
            let _ = writeln!(
                w,
                "  Vanished since the last run ({}): {}{}",
                d.vanished_files,
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
    use crate::verify::source_check::SourceComparison as S;
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
            "Restored and verified: {} files, {}",
            r.files,
            human_bytes(r.bytes)
        );
        if let Some(p) = r.projected_full_restore_seconds {
            let _ = write!(
                line,
                ", at {:.0} MB/s; a full restore would take about {}",
                r.throughput_mb_s,
                human_duration(p)
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
            "Backup set: {} files, {}{}",
            inv.files,
            human_bytes(inv.bytes),
            newest.unwrap_or_default()
        ));
    }
    if let Some(d) = &t.drift
        && d.previous_run.is_some()
    {
        lines.push(format!(
            "Since the last run: {} new, {} vanished, {} new versions",
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
<p style="font-size:14px;line-height:20px;margin:0;color:#374151;">{ok} of {total} backup targets verified &middot; run {run} &middot; {when} &middot; {trigger} run on {host}</p>
</td></tr>"#,
        title = esc(&subject(ev, ctx.recovery)),
        badge = verdict_badge(verdict),
        client = esc(&ev.client),
        word = verdict_word(verdict, ctx.recovery),
        ok = verified(ev),
        total = ev.targets.len(),
        run = esc(&ev.run_id),
        when = ev.started_at.format("%Y-%m-%d %H:%M UTC"),
        trigger = ev.trigger,
        host = esc(&ev.host),
    );
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
            && d.vanished_files > 0
        {
            let names: Vec<String> = d
                .vanished
                .iter()
                .take(10)
                .map(|f| esc(&shown(&f.path)))
                .collect();
            let more = d.vanished_files as usize - names.len();
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

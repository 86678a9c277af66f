//! The layers of the crate, checked: reads every file under `src/` and fails when a
//! module imports one it must not (`use crate::x...` and `crate::x::` paths; test code,
//! comments and doc links do not count).
//!
//! Data flows one way, and each layer imports only the ones below it:
//!
//! ```text
//! config → storage → verify (checks) → evidence → catalog/outbox → report → mail
//!                          app (run service, queries and commands)
//!                          cli, daemon
//! ```
//!
//! `evidence` (and `config`, `format`) sit at the bottom: plain data every layer may read.
//! A new top-level module must be placed in [`LAYERS`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module and the modules of the crate it may import.
const LAYERS: &[(&str, &[&str])] = &[
    // The ground floor: plain data and settings, nothing of the crate.
    ("config", &[]),
    ("format", &[]),
    ("evidence", &["config"]),
    // Storage backends: the Target trait and its implementations.
    ("storage", &["config", "format"]),
    // The record of runs and what they change.
    ("catalog", &["config", "evidence", "format"]),
    ("progress", &["evidence"]),
    ("scratch", &["catalog", "config"]),
    // Checks: read storage and the catalog, produce evidence.
    (
        "verify",
        &[
            "config", "storage", "evidence", "catalog", "format", "progress", "scratch",
        ],
    ),
    // Reading the record.
    ("chain", &["catalog", "config", "evidence", "format"]),
    ("ack", &["catalog", "config", "evidence", "format"]),
    ("status", &["catalog", "config", "evidence", "format"]),
    // Printers: facts into words.
    ("report", &["config", "evidence", "format", "status"]),
    // Who is emailed, composing, the outbox, delivery.
    (
        "mail",
        &["config", "catalog", "evidence", "format", "report"],
    ),
    // Beside email: pings, webhooks (their own outbox), and the follow-up of problems.
    (
        "hooks",
        &[
            "config", "format", "evidence", "catalog", "ack", "report", "mail",
        ],
    ),
    (
        "alerts",
        &[
            "config", "format", "evidence", "catalog", "report", "mail", "hooks",
        ],
    ),
    // The application layer: everything below it.
    (
        "app",
        &[
            "config", "format", "evidence", "storage", "catalog", "progress", "scratch", "verify",
            "chain", "ack", "status", "report", "mail", "hooks", "alerts",
        ],
    ),
    // The edges. The pages and metrics read through the application layer only, never
    // the catalog.
    (
        "web",
        &[
            "config", "format", "evidence", "progress", "ack", "status", "report", "app",
        ],
    ),
    (
        "daemon",
        &[
            "config", "format", "evidence", "storage", "catalog", "progress", "scratch", "verify",
            "chain", "ack", "status", "report", "mail", "hooks", "alerts", "app", "web",
        ],
    ),
    (
        "cli",
        &[
            "config", "format", "evidence", "storage", "catalog", "progress", "scratch", "verify",
            "chain", "ack", "status", "report", "mail", "hooks", "alerts", "app", "daemon", "web",
        ],
    ),
];

/// The top-level module a file under `src/` belongs to (`verify/checks/drift.rs` →
/// `verify`); `None` for the crate root and the binary.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

/// The code of a file without its comments and its test module.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            match lines.peek().map(|l| l.trim()) {
                // `mod tests;` declares a test-only file: skip the declaration.
                Some(next) if next.starts_with("mod ") && next.ends_with(';') => {
                    lines.next();
                    continue;
                }
                // An inline test module ends the file's code.
                Some(next) if next.starts_with("mod ") => break,
                _ => continue,
            }
        }
        // A comment after code.
        let line = match line.find(" // ") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The top-level modules of the crate a piece of code names: `crate::x::...`,
/// `use crate::x;` and each name of `use crate::{x, y::z}`.
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        // `backproof_crate::`, `my_crate::`: not ours.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the names at the group's top level.
            let (mut depth, mut name, mut at_start) = (0, String::new(), true);
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        at_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 && at_start {
                    if c.is_alphanumeric() || c == '_' {
                        name.push(c);
                    } else if !name.is_empty() {
                        found.insert(std::mem::take(&mut name));
                        at_start = false;
                    }
                }
            }
            if !name.is_empty() {
                found.insert(name);
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

/// Every import that breaks the layers, as `file: module imports x`.
fn violations(files: &[(PathBuf, String)]) -> Vec<String> {
    let known: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    let mut out = Vec::new();
    for (path, text) in files {
        let Some(module) = module_of(path) else {
            continue;
        };
        let Some((_, allowed)) = LAYERS.iter().find(|(m, _)| *m == module) else {
            out.push(format!(
                "{}: module `{module}` is in no layer: add it to LAYERS in tests/architecture.rs",
                path.display()
            ));
            continue;
        };
        for import in imports(&code_of(text)) {
            if import == module || !known.contains(import.as_str()) {
                // Itself, or a name that is not a module of ours (`crate::Error`).
                continue;
            }
            if !allowed.contains(&import.as_str()) {
                out.push(format!(
                    "{}: `{module}` must not import `{import}`",
                    path.display()
                ));
            }
        }
    }
    out
}

/// Every `.rs` file under `root`, relative to it, with its text; test-only files
/// (`tests.rs`) left out.
fn sources(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.strip_prefix(root).unwrap().to_path_buf(), text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = sources(&root);
    assert!(files.len() > 50, "read only {} files", files.len());
    let broken = violations(&files);
    assert!(
        broken.is_empty(),
        "imports against the layers:\n  {}",
        broken.join("\n  ")
    );
}

/// The check itself catches what the code looked like before the layers were drawn.
#[test]
fn the_imports_the_layers_forbid_are_caught() {
    let file = |path: &str, text: &str| (PathBuf::from(path), text.to_string());
    let old = [
        // verification carried the mail sender and queued the report
        file(
            "verify/mod.rs",
            "use crate::catalog::Catalog;\nuse crate::mail::{Sender, compose, outbox, policy};\n",
        ),
        // checks built sentences with the printers' helpers
        file(
            "verify/drift.rs",
            "let s = crate::report::human_bytes(n);\n",
        ),
        // evidence reached into verify for its types
        file(
            "evidence.rs",
            "pub manifest: Option<crate::verify::manifest::ManifestMatch>,\n",
        ),
        // the daemon loaded its configuration through the command line
        file(
            "daemon/mod.rs",
            "let config = Arc::new(crate::cli::load(config_path)?);\n",
        ),
        // config depended on the evidence's verdict
        file(
            "config/policy.rs",
            "pub ransomware: Option<crate::evidence::Verdict>,\n",
        ),
        // a backend that reads the catalog
        file("storage/mod.rs", "use crate::{catalog::Catalog, config};\n"),
        // the catalog that knows verification, the printers that send mail
        file("catalog/mod.rs", "use crate::verify::Sealed;\n"),
        file("report/email.rs", "use crate::mail::Sender;\n"),
    ];
    let broken = violations(&old);
    for expected in [
        "verify/mod.rs: `verify` must not import `mail`",
        "verify/drift.rs: `verify` must not import `report`",
        "evidence.rs: `evidence` must not import `verify`",
        "daemon/mod.rs: `daemon` must not import `cli`",
        "config/policy.rs: `config` must not import `evidence`",
        "storage/mod.rs: `storage` must not import `catalog`",
        "catalog/mod.rs: `catalog` must not import `verify`",
        "report/email.rs: `report` must not import `mail`",
    ] {
        assert!(
            broken.contains(&expected.to_string()),
            "{expected} not caught in {broken:#?}"
        );
    }
    assert_eq!(broken.len(), 8, "{broken:#?}");

    // What is allowed, and what does not count, passes.
    let fine = [
        file(
            "verify/mod.rs",
            "use crate::catalog::{Catalog, RunCommit};\n",
        ),
        file(
            "verify/checks/drift.rs",
            "//! Printed by [`crate::report`].\nuse crate::format::human_bytes;\n",
        ),
        file(
            "catalog/mod.rs",
            "use crate::evidence::RunEvidence;\n#[cfg(test)]\nmod tests {\n    use crate::verify::Verifier;\n}\n",
        ),
    ];
    assert_eq!(violations(&fine), Vec::<String>::new());
}

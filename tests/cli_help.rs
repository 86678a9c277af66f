//! The command line explains itself: every subcommand and argument has a description,
//! `--help` of every subcommand matches its snapshot (tests/snapshots/help.txt; after a
//! deliberate change, `UPDATE_SNAPSHOTS=1 cargo test --test cli_help` and review the
//! diff), completions and the man page are generated.

use std::path::PathBuf;
use std::process::Command;

use clap::CommandFactory;

/// Every subcommand path: `[]`, `["run"]`, `["job", "add"]`...
fn paths(cmd: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    for sub in cmd.get_subcommands() {
        let mut p = prefix.clone();
        p.push(sub.get_name().to_string());
        paths(sub, p, out);
    }
}

fn undescribed(cmd: &clap::Command, at: &str, out: &mut Vec<String>) {
    if cmd.get_about().is_none() {
        out.push(format!("command `{at}`"));
    }
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if !["help", "version"].contains(&id) && arg.get_help().is_none() {
            out.push(format!("`{at}` argument `{id}`"));
        }
    }
    for sub in cmd.get_subcommands() {
        undescribed(sub, &format!("{at} {}", sub.get_name()), out);
    }
}

#[test]
fn every_subcommand_and_argument_has_a_description() {
    let mut missing = Vec::new();
    undescribed(&backproof::cli::Cli::command(), "backproof", &mut missing);
    assert!(missing.is_empty(), "no description: {missing:#?}");
}

#[test]
fn help_of_every_subcommand_matches_its_snapshot() {
    let mut all = Vec::new();
    paths(&backproof::cli::Cli::command(), Vec::new(), &mut all);
    let mut text = String::new();
    for p in &all {
        let out = Command::new(env!("CARGO_BIN_EXE_backproof"))
            .args(p)
            .arg("--help")
            .env_remove("BACKPROOF_CONFIG")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{p:?}");
        text += &format!(
            "$ {} --help\n",
            ["backproof".to_string()]
                .iter()
                .chain(p)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        );
        text += &String::from_utf8_lossy(&out.stdout);
        text += "\n";
    }
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/help.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&file, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 creates it)", file.display()));
    for (n, (e, a)) in expected.lines().zip(text.lines()).enumerate() {
        assert_eq!(
            e,
            a,
            "help.txt differs at line {} (UPDATE_SNAPSHOTS=1 to accept)",
            n + 1
        );
    }
    assert_eq!(
        expected.lines().count(),
        text.lines().count(),
        "help.txt length"
    );
}

#[test]
fn completions_and_man_page_are_generated() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_backproof"))
            .args(args)
            .env_remove("BACKPROOF_CONFIG")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        assert!(
            script.contains("check-config") && script.contains("limit"),
            "{shell}"
        );
    }
    let man = run(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH backproof"),
        "{man}"
    );
    assert!(man.contains("check\\-config"), "{man}");
}

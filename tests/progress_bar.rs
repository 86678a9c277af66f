//! The progress bar on a terminal (a pseudo-terminal from `script`): it shows the target
//! being worked on, and it is cleared before anything else is printed, so the message
//! after Ctrl-C has a line of its own.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Fixture;
use common::staller::Staller;

/// `text` without terminal escape sequences (`ESC [ ... letter`).
fn without_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn the_interrupted_message_gets_a_line_of_its_own() {
    // An S3 endpoint that never answers: the run stays at listing, the bar on screen.
    let silent = Staller::silent();
    let f = Fixture::empty();
    let secret = f.secret("s3.secret", "not-a-real-key");
    f.job_with_target(
        "",
        &format!(
            "name = \"offsite\"\nurl = \"s3://bucket/\"\nendpoint = \"http://127.0.0.1:{}\"\npath_style = true\naccess_key_id = \"AK\"\nsecret_access_key_file = \"{}\"\ntimeout = \"120s\"",
            silent.port,
            secret.display()
        ),
    );
    // The shell prints its pid, then becomes backproof (same pid).
    let inner = format!(
        "echo PID=$$; exec {} --config {} run acme",
        env!("CARGO_BIN_EXE_backproof"),
        f.config.display()
    );
    let mut script = Command::new("script")
        .args(["-qfec", &format!("sh -c '{inner}'"), "/dev/null"])
        .env_remove("BACKPROOF_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = script.stdout.take().unwrap();
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let text = || seen.lock().unwrap().clone();
    common::wait_for("the bar names the target", Duration::from_secs(30), || {
        text().contains("offsite")
    });
    let pid = text()
        .lines()
        .find_map(|l| l.trim().strip_prefix("PID=").map(str::to_string))
        .unwrap();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = script.wait().unwrap();
    reader.join().unwrap();
    let out = text();
    // `script -e` exits with the command's code: an interrupted run is not verified.
    assert_eq!(status.code(), Some(2), "{out:?}");
    // Nothing waits for a slot here: the bar never says queued.
    assert!(!out.contains("queued"), "{out:?}");
    let at = out
        .find("interrupted: run")
        .unwrap_or_else(|| panic!("no interrupted message: {out:?}"));
    // What is on the message's line before it (after the last line break or carriage
    // return) is at most escape sequences: the bar was cleared, not overwritten.
    let line_start = out[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    assert_eq!(
        without_escapes(&out[line_start..at]),
        "",
        "the message shares a line with the bar: {out:?}"
    );
}

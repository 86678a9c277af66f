//! The systemd unit: `systemd-analyze verify` accepts it and `systemd-analyze security`
//! rates its exposure at most 2.0 ("OK").

use std::process::Command;

fn unit() -> tempfile::TempDir {
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/backproof.service"
    ))
    .unwrap()
    .replace("/usr/local/bin/backproof", env!("CARGO_BIN_EXE_backproof"));
    std::fs::write(dir.path().join("backproof.service"), text).unwrap();
    dir
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let dir = unit();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("backproof.service"))
        .output()
        .expect("systemd-analyze (Debian package systemd; tests/run.sh installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("backproof.service:"),
        "warnings about the unit: {stderr}"
    );
}

#[test]
fn systemd_analyze_security_rates_it_ok() {
    let dir = unit();
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(dir.path().join("backproof.service"))
        .output()
        .expect("systemd-analyze");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure level in: {text}"));
    let level: f64 = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot read {line}"));
    assert!(level <= 2.0, "exposure {level} > 2.0: {text}");
}

//! Configuration files: the shipped examples parse; bad input names file, line and key.

mod common;

use std::path::{Path, PathBuf};

use backproof::config::{self, Location};
use common::backproof_with;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A configuration folder with the global file `global` and the given job files.
fn setup(global: &str, jobs: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs.d")).unwrap();
    let config = dir.path().join("backproof.toml");
    std::fs::write(&config, global).unwrap();
    for (name, text) in jobs {
        std::fs::write(dir.path().join("jobs.d").join(name), text).unwrap();
    }
    (dir, config)
}

const GOOD_JOB: &str = r#"client = "Good"
schedule = "0 3 * * *"
[[targets]]
name = "nas"
url = "file:///srv/good"
"#;

#[test]
fn shipped_examples_parse() {
    // The global example, pointed at the repository's jobs.d.
    let text = std::fs::read_to_string(repo("systemd/backproof.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let global = dir.path().join("backproof.toml");
    let text = text.replace(
        "# jobs_dir = \"/etc/backproof/jobs.d\"",
        &format!("jobs_dir = \"{}\"", repo("jobs.d").display()),
    );
    std::fs::write(&global, text).unwrap();
    let c = config::load(&global).unwrap_or_else(|e| panic!("{e}"));
    let shipped = std::fs::read_dir(repo("jobs.d")).unwrap().count();
    assert!(shipped >= 2);
    assert_eq!(c.jobs.len(), shipped, "every shipped job file loads");
    let acme = c.job("acme-dental").unwrap();
    assert_eq!(acme.client, "Acme Dental");
    assert_eq!(acme.targets.len(), 2);
    let usb = &acme.targets[1];
    assert_eq!(
        usb.location,
        Location::Local("/media/acme-usb/veeam".into())
    );
    assert_eq!(
        usb.policy.max_age,
        Some(std::time::Duration::from_secs(8 * 86400))
    );
    assert!(usb.policy.filter.matches("job/x.vbk"));
    assert!(!usb.policy.filter.matches("job/x.tmp"));
    // The job's [policy] applies to targets that do not override it.
    assert_eq!(acme.targets[0].policy.sample_bytes, 5 << 30);
    assert_eq!(
        acme.targets[0].policy.max_age,
        Some(std::time::Duration::from_secs(26 * 3600))
    );
}

fn errors(global: &str, jobs: &[(&str, &str)]) -> Vec<config::ConfigError> {
    let (_dir, path) = setup(global, jobs);
    match config::load(&path) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.0,
    }
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let job = "client = \"X\"\nschedule = \"0 3 * * *\"\n[policy]\nsampel_files = 3\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n";
    let errs = errors("", &[("x.toml", job)]);
    assert_eq!(errs.len(), 1);
    let e = &errs[0];
    assert!(e.file.ends_with("jobs.d/x.toml"));
    assert_eq!(e.line, Some(4));
    assert_eq!(e.key.as_deref(), Some("policy.sampel_files"));
    assert!(e.message.contains("unknown field"), "{e}");
    assert!(
        e.to_string()
            .contains("x.toml:4: key `policy.sampel_files`"),
        "{e}"
    );
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("schedule = \"every night\"", "schedule", "a schedule has 5"),
        ("schedule = \"0 25 * * *\"", "schedule", "not a valid cron"),
    ];
    for (line, key, words) in cases {
        let job =
            format!("client = \"X\"\n{line}\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n");
        let errs = errors("", &[("x.toml", &job)]);
        assert_eq!(errs[0].line, Some(2), "{}", errs[0]);
        assert_eq!(errs[0].key.as_deref(), Some(key), "{}", errs[0]);
        assert!(errs[0].message.contains(words), "{}", errs[0]);
    }
    let target_cases = [
        ("url = \"s3://\"", "targets[2].url", "no bucket"),
        ("url = \"smb://nas\"", "targets[2].url", "no share"),
        (
            "url = \"s3://bucket/acme\"",
            "targets[2].url",
            "needs `access_key_id`",
        ),
        (
            "url = \"backups/relative\"",
            "targets[2].url",
            "not a target URL",
        ),
    ];
    for (line, key, words) in target_cases {
        let job = format!(
            "client = \"X\"\nschedule = \"0 3 * * *\"\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n[[targets]]\nname = \"b\"\n{line}\n"
        );
        let errs = errors("", &[("x.toml", &job)]);
        assert_eq!(errs[0].line, Some(8), "{}", errs[0]);
        assert_eq!(errs[0].key.as_deref(), Some(key), "{}", errs[0]);
        assert!(errs[0].message.contains(words), "{}", errs[0]);
    }
    let policy_cases = [
        ("max_age = \"soon\"", "not a duration"),
        ("sample_bytes = \"lots\"", "not a size"),
        ("sample_files = 0", "at least 1"),
        ("count_drop_percent = 140", "between 0 and 100"),
        ("include = [\"[unclosed\"]", "not a valid glob"),
    ];
    for (line, words) in policy_cases {
        let job = format!(
            "client = \"X\"\nschedule = \"0 3 * * *\"\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n[targets.policy]\n{line}\n"
        );
        let errs = errors("", &[("x.toml", &job)]);
        let key = format!("targets[1].policy.{}", line.split(' ').next().unwrap());
        assert_eq!(errs[0].line, Some(7), "{}", errs[0]);
        assert_eq!(errs[0].key.as_deref(), Some(key.as_str()), "{}", errs[0]);
        assert!(errs[0].message.contains(words), "{}", errs[0]);
    }
}

#[test]
fn missing_and_cross_field_errors() {
    let no_client = "schedule = \"0 3 * * *\"\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n";
    let errs = errors("", &[("a.toml", no_client)]);
    assert_eq!(errs[0].key.as_deref(), Some("client"), "{}", errs[0]);

    let dup = "client = \"X\"\nschedule = \"0 3 * * *\"\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n[[targets]]\nname = \"a\"\nurl = \"file:///y\"\n";
    let errs = errors("", &[("b.toml", dup)]);
    assert_eq!(errs[0].line, Some(7));
    assert_eq!(errs[0].key.as_deref(), Some("targets[2].name"));
    assert!(errs[0].message.contains("already defined"));

    let no_targets = "client = \"X\"\nschedule = \"0 3 * * *\"\n";
    let errs = errors("", &[("c.toml", no_targets)]);
    assert_eq!(errs[0].key.as_deref(), Some("targets"));

    let bad_mail = "client = \"X\"\nschedule = \"0 3 * * *\"\ntechnicians = [\n  \"ok@msp.example\",\n  \"not-an-address\",\n]\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n";
    let errs = errors("", &[("d.toml", bad_mail)]);
    assert_eq!(errs[0].key.as_deref(), Some("technicians"), "{}", errs[0]);
    assert!(errs[0].message.contains("not-an-address"));

    let errs = errors("data_dir = \"d\"\nsmtp_host = \"x\"\n", &[]);
    assert!(errs[0].file.ends_with("backproof.toml"));
    assert_eq!(
        (errs[0].line, errs[0].key.as_deref()),
        (Some(2), Some("smtp_host"))
    );
}

#[test]
fn all_files_errors_are_reported_together() {
    let bad1 =
        "client = \"X\"\nschedule = \"bad\"\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n";
    let bad2 = "client = \"Y\"\nschedule = \"0 3 * * *\"\nextra = 1\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n";
    let (_dir, path) = setup(
        "data_dir = \"data\"\n",
        &[
            ("one.toml", bad1),
            ("two.toml", bad2),
            ("good.toml", GOOD_JOB),
        ],
    );
    let out = backproof_with(&path, &["check-config"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("2 configuration errors"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("one.toml:2: key `schedule`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("two.toml:3: key `extra`"),
        "{}",
        out.stderr
    );
    // `run` refuses a broken configuration too, with the same messages.
    let out = backproof_with(&path, &["run", "good"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("one.toml:2"), "{}", out.stderr);
}

#[test]
fn check_config_summarizes_jobs() {
    let (_dir, path) = setup("data_dir = \"data\"\n", &[("good.toml", GOOD_JOB)]);
    let out = backproof_with(&path, &["check-config"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out.stdout.lines().find(|l| l.starts_with("good:")).unwrap();
    assert!(
        line.contains("0 3 * * *") && line.contains("nas (file:///srv/good)"),
        "{line}"
    );
}

#[test]
fn config_path_from_environment_and_missing_file() {
    let (_dir, path) = setup("", &[("good.toml", GOOD_JOB)]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backproof"))
        .arg("check-config")
        .env("BACKPROOF_CONFIG", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = backproof_with(Path::new("/nonexistent/backproof.toml"), &["check-config"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("/nonexistent/backproof.toml: cannot read"),
        "{}",
        out.stderr
    );
}

fn remote_job(target: &str) -> String {
    format!("client = \"X\"\nschedule = \"0 3 * * *\"\n[[targets]]\nname = \"t\"\n{target}\n")
}

#[test]
fn remote_target_settings_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s3.secret");
    std::fs::write(&secret, "abc\n").unwrap();
    let ok = remote_job(&format!(
        "url = \"s3://bucket/acme\"\nendpoint = \"http://127.0.0.1:3900\"\naccess_key_id = \"GK1\"\nsecret_access_key_file = \"{}\"",
        secret.display()
    ));
    let (_d, path) = setup("", &[("ok.toml", &ok)]);
    let c = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    match &c.jobs[0].targets[0].location {
        Location::S3(s3) => {
            assert_eq!(
                s3.secret_access_key.expose(),
                "abc",
                "the newline is dropped"
            );
            assert_eq!((s3.bucket.as_str(), s3.prefix.as_str()), ("bucket", "acme"));
            assert!(!format!("{s3:?}").contains("abc"), "Debug hides the secret");
            assert!(!c.jobs[0].targets[0].location.to_string().contains("abc"));
        }
        other => panic!("{other:?}"),
    }
    assert!(c.warnings.is_empty());

    let cases = [
        // A key of another scheme.
        (
            remote_job("url = \"file:///x\"\nusername = \"bob\""),
            "targets[1].username",
            "smb:// targets only",
        ),
        (
            remote_job(
                "url = \"smb://nas/share\"\nusername = \"u\"\npassword_env = \"X\"\nendpoint = \"http://a\"",
            ),
            "targets[1].endpoint",
            "s3:// targets only",
        ),
        // Secrets missing, doubled, unreadable, unset.
        (
            remote_job("url = \"s3://b\"\naccess_key_id = \"k\""),
            "targets[1].secret_access_key",
            "exactly one",
        ),
        (
            remote_job(
                "url = \"s3://b\"\naccess_key_id = \"k\"\nsecret_access_key_file = \"/nonexistent/secret\"",
            ),
            "targets[1].secret_access_key_file",
            "cannot read",
        ),
        (
            remote_job(
                "url = \"smb://nas/share\"\nusername = \"u\"\npassword_env = \"BACKPROOF_TEST_UNSET_VARIABLE\"",
            ),
            "targets[1].password_env",
            "not set",
        ),
        (
            remote_job("url = \"smb://nas/share\"\npassword_env = \"X\""),
            "targets[1].url",
            "needs `username`",
        ),
        (
            remote_job(
                "url = \"smb://nas/share\"\nusername = \"u\"\npassword_env = \"X\"\nencryption = \"maybe\"",
            ),
            "targets[1].encryption",
            "unknown variant",
        ),
        (
            remote_job(
                "url = \"s3://b\"\naccess_key_id = \"k\"\nsecret_access_key = \"x\"\nendpoint = \"ftp://x\"",
            ),
            "targets[1].endpoint",
            "http://",
        ),
        (
            remote_job(
                "url = \"smb://nas/share\"\nusername = \"u\"\npassword = \"p\"\ntimeout = \"forever\"",
            ),
            "targets[1].timeout",
            "not a duration",
        ),
    ];
    for (job, key, words) in cases {
        let errs = errors("", &[("x.toml", &job)]);
        assert_eq!(errs[0].key.as_deref(), Some(key), "{}", errs[0]);
        assert!(errs[0].message.contains(words), "{}", errs[0]);
        assert!(errs[0].line.is_some(), "{}", errs[0]);
    }
}

#[test]
fn inline_secret_works_with_a_warning_that_does_not_show_it() {
    let job =
        remote_job("url = \"smb://nas/share\"\nusername = \"u\"\npassword = \"hunter2-inline\"");
    let (_d, path) = setup("", &[("x.toml", &job)]);
    let c = config::load(&path).unwrap();
    assert_eq!(c.warnings.len(), 1);
    let w = c.warnings[0].to_string();
    assert!(
        w.contains("targets[1].password") && w.contains("password_file"),
        "{w}"
    );
    assert!(!w.contains("hunter2"), "{w}");
    let out = backproof_with(&path, &["check-config"]);
    assert_eq!(out.code, 0);
    assert!(out.stderr.contains("warning:"), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2") && !out.stdout.contains("hunter2"));
}

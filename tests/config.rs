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
technicians = ["noc@msp.example"]
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
    assert!(e.message.contains("did you mean `sample_files`?"), "{e}");
    assert!(
        e.to_string()
            .contains("x.toml:4: key `policy.sampel_files`"),
        "{e}"
    );
}

#[test]
fn errors_of_every_kind_in_every_file_come_in_one_pass() {
    // Two unknown keys and a bad schedule in one file, a misspelt key in the global
    // file, a bad value in another job: all five at once.
    let one = "client = \"X\"\nschedule = \"every day\"\ntechnician = [\"a@b.example\"]\n[policy]\nsampel_files = 3\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n";
    let two = "client = \"Y\"\nschedule = \"0 3 * * *\"\n[policy]\nmax_age = \"soon\"\n[[targets]]\nname = \"a\"\nurl = \"file:///y\"\n";
    let (_dir, path) = setup(
        "data_dir = \"data\"\n[polcy]\nmax_age = \"2d\"\n",
        &[("one.toml", one), ("two.toml", two)],
    );
    let out = backproof_with(&path, &["check-config"]);
    assert_eq!(out.code, 2);
    for part in [
        "5 configuration errors",
        "backproof.toml:2: key `polcy`: unknown key `polcy`: did you mean `policy`?",
        "one.toml:2: key `schedule`",
        "one.toml:3: key `technician`: unknown key `technician`: did you mean `technicians`?",
        "one.toml:5: key `policy.sampel_files`: unknown key `sampel_files`: did you mean `sample_files`?",
        "two.toml:4: key `policy.max_age`",
    ] {
        assert!(
            out.stderr.contains(part),
            "{part:?} missing in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("schedule = \"every night\"", "schedule", "a schedule has 5"),
        (
            "schedule = \"0 25 * * *\"",
            "schedule",
            "hour 25 out of range 0-23",
        ),
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
        ("restore = \"sometimes\"", "unknown variant"),
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
            .contains("no configuration file at /nonexistent/backproof.toml"),
        "{}",
        out.stderr
    );
}

fn remote_job(target: &str) -> String {
    format!(
        "client = \"X\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"0 3 * * *\"\n[[targets]]\nname = \"t\"\n{target}\n"
    )
}

#[test]
fn remote_target_settings_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s3.secret");
    std::fs::write(&secret, "abc\n").unwrap();
    chmod(&secret, 0o600);
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
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

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

/// Runs the binary from folder `cwd`, as user `uid` (root: the current user).
fn backproof_at(config: &Path, args: &[&str], cwd: &Path, uid: Option<u32>) -> common::Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_backproof"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .current_dir(cwd)
        .env_remove("BACKPROOF_CONFIG");
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().expect("run backproof");
    common::Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn relative_paths_are_relative_to_the_file_that_names_them() {
    let job = r#"client = "X"
technicians = ["noc@msp.example"]
schedule = "0 3 * * *"
[[targets]]
name = "nas"
url = "smb://nas/share"
username = "u"
password_file = "secrets/nas"
[[targets.validate]]
files = "*.zip"
kind = "command"
command = ["checks/zip.sh", "{file}"]
"#;
    let global = "data_dir = \"data\"\n[smtp]\nhost = \"127.0.0.1\"\nfrom = \"bp@msp.example\"\nusername = \"bp\"\npassword_file = \"secrets/smtp\"\n";
    let (dir, path) = setup(global, &[("x.toml", job)]);
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/smtp"), "smtp-pw\n").unwrap();
    std::fs::create_dir(dir.path().join("jobs.d/secrets")).unwrap();
    std::fs::write(dir.path().join("jobs.d/secrets/nas"), "nas-pw\n").unwrap();

    // Under systemd the current folder is `/`.
    let out = backproof_at(&path, &["check-config"], Path::new("/"), None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    let c = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let job = c.job("x").unwrap();
    match &job.targets[0].location {
        Location::Smb(smb) => assert_eq!(smb.password.expose(), "nas-pw"),
        other => panic!("{other:?}"),
    }
    match &job.targets[0].validators[0].validator {
        config::Validator::Command { argv, .. } => {
            assert_eq!(Path::new(&argv[0]), dir.path().join("jobs.d/checks/zip.sh"))
        }
        other => panic!("{other:?}"),
    }
    let smtp = c.smtp.as_ref().unwrap();
    assert_eq!(smtp.credentials.as_ref().unwrap().1.expose(), "smtp-pw");

    // ca_file too: read beside backproof.toml.
    let global = "data_dir = \"data\"\n[smtp]\nhost = \"127.0.0.1\"\nfrom = \"bp@msp.example\"\nca_file = \"relay-ca.pem\"\n";
    let (dir, path) = setup(global, &[("good.toml", GOOD_JOB)]);
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=Relay-CA",
            "-keyout",
            "relay-ca.key",
            "-out",
            "relay-ca.pem",
        ])
        .current_dir(dir.path())
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{made:?}");
    let out = backproof_at(&path, &["check-config"], Path::new("/"), None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let c = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.smtp.unwrap().ca_pem.is_some());
}

#[test]
fn a_secret_file_every_user_can_read_warns_in_check_config_and_run() {
    let f = common::Fixture::new("");
    f.file("a.tar", 1000, common::hours(1));
    chmod(f.dir.path(), 0o755);
    let secret = f.secret("smtp.secret", "smtp-pw");
    chmod(&secret, 0o644);
    std::fs::write(
        &f.config,
        "data_dir = \"data\"\n[smtp]\nhost = \"127.0.0.1\"\nfrom = \"bp@msp.example\"\nusername = \"bp\"\npassword_file = \"smtp.secret\"\n",
    )
    .unwrap();
    let warned = |text: &str| {
        text.contains(&format!("{} can be read by every user", secret.display()))
            && text.contains("chmod 600")
            && text.contains("chmod 640")
    };
    let out = f.backproof(&["check-config"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(warned(&out.stderr), "{}", out.stderr);
    assert!(
        out.stderr.contains("warning: ") && out.stderr.contains("key `smtp.password_file`"),
        "{}",
        out.stderr
    );
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(warned(&out.stderr), "{}", out.stderr);

    // Readable by the owner (and a group) only: no warning.
    for mode in [0o600, 0o640] {
        chmod(&secret, mode);
        let out = f.backproof(&["check-config"]);
        assert_eq!(out.code, 0);
        assert!(!out.stderr.contains("warning"), "{mode:o}: {}", out.stderr);
    }
}

#[test]
fn secrets_never_appear_in_error_messages() {
    let smb = "url = \"smb://nas/share\"\nusername = \"u\"";
    let cases = [
        (
            remote_job("url = \"smb://u:S3cretA@host:99999/share\""),
            "",
            "S3cretA",
            "targets[1].url",
        ),
        (
            remote_job("url = \"s3://u:S3cretB@bad_bucket!/x\""),
            "",
            "S3cretB",
            "targets[1].url",
        ),
        (
            remote_job("url = \"file://u:S3cretC@localhost/x\""),
            "",
            "S3cretC",
            "targets[1].url",
        ),
        (
            remote_job(&format!("{smb}\npassword = 73105597")),
            "",
            "73105597",
            "targets[1].password",
        ),
        (
            remote_job("url = \"s3://b\"\naccess_key_id = \"k\"\nsecret_access_key = 73105598"),
            "",
            "73105598",
            "targets[1].secret_access_key",
        ),
        (
            remote_job(
                "url = \"s3://b\"\naccess_key_id = \"k\"\nsecret_access_key_env = \"HOME\"\nendpoint = \"https://k:S3cretD@s3.example\"",
            ),
            "",
            "S3cretD",
            "targets[1].endpoint",
        ),
        (
            remote_job(
                "url = \"file:///x\"\n[targets.source]\nurl = \"smb://u:S3cretE@fs01:99999/data\"",
            ),
            "",
            "S3cretE",
            "targets[1].source.url",
        ),
        (
            GOOD_JOB.to_string(),
            "[smtp]\nhost = \"h\"\nfrom = \"bp@msp.example\"\nusername = \"bp\"\npassword = 73105599\n",
            "73105599",
            "smtp.password",
        ),
    ];
    for (job, global, secret, key) in cases {
        let (_dir, path) = setup(
            &format!("data_dir = \"data\"\n{global}"),
            &[("x.toml", &job)],
        );
        for args in [&["check-config"][..], &["run", "x"][..]] {
            let out = backproof_with(&path, args);
            assert_eq!(out.code, 2, "{args:?} {secret}: {}", out.stderr);
            assert!(
                out.stderr.contains(&format!("key `{key}`")),
                "{args:?}: {}",
                out.stderr
            );
            assert!(
                !out.stderr.contains(secret) && !out.stdout.contains(secret),
                "{args:?} shows the secret: {}{}",
                out.stdout,
                out.stderr
            );
        }
    }
}

#[test]
fn schedules_that_never_fire_are_refused() {
    let job = |extra: &str| {
        format!(
            "client = \"X\"\ntechnicians = [\"noc@msp.example\"]\n{extra}\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n"
        )
    };
    let cases = [
        ("", job("schedule = \"0 0 30 2 *\""), "schedule", 3),
        (
            "",
            job("schedule = \"0 3 * * *\"\ndigest_schedule = \"0 7 31 4 *\""),
            "digest_schedule",
            4,
        ),
        (
            "[digest]\nschedule = \"0 7 30 2 *\"\n",
            job("schedule = \"0 3 * * *\""),
            "digest.schedule",
            2,
        ),
    ];
    for (global, job, key, line) in cases {
        let errs = errors(global, &[("x.toml", &job)]);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].key.as_deref(), Some(key), "{}", errs[0]);
        assert_eq!(errs[0].line, Some(line), "{}", errs[0]);
        assert!(errs[0].message.contains("never fires"), "{}", errs[0]);
        let (_dir, path) = setup(global, &[("x.toml", &job)]);
        let out = backproof_with(&path, &["check-config"]);
        assert_eq!(out.code, 2);
        assert!(out.stderr.contains("never fires"), "{}", out.stderr);
    }
}

#[test]
fn a_job_nobody_hears_about_warns_in_check_config_and_at_daemon_start() {
    let quiet = "client = \"Quiet\"\nschedule = \"0 3 * * *\"\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n";
    let owners_only = "client = \"Owners\"\nowners = [\"boss@client.example\"]\nschedule = \"0 3 * * *\"\n[[targets]]\nname = \"a\"\nurl = \"file:///x\"\n";
    let (_dir, path) = setup(
        "data_dir = \"data\"\n",
        &[
            ("quiet.toml", quiet),
            ("owners.toml", owners_only),
            ("good.toml", GOOD_JOB),
        ],
    );
    let c = config::load(&path).unwrap();
    assert!(c.job("quiet").unwrap().is_unheard());
    assert!(!c.job("owners").unwrap().is_unheard());
    assert!(c.job("owners").unwrap().alert_recipients().is_empty());
    let out = backproof_with(&path, &["check-config"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let warning = |file: &str| {
        out.stderr
            .lines()
            .find(|l| l.starts_with("warning:") && l.contains(file))
            .map(str::to_string)
    };
    let quiet_line = warning("jobs.d/quiet.toml").expect(&out.stderr);
    assert!(
        quiet_line.contains("nobody hears about this job"),
        "{quiet_line}"
    );
    let owners_line = warning("jobs.d/owners.toml").expect(&out.stderr);
    assert!(owners_line.contains("no technicians"), "{owners_line}");
    assert!(warning("jobs.d/good.toml").is_none(), "{}", out.stderr);

    let f = common::Fixture::empty();
    f.write_job(
        "quiet",
        &format!(
            "client = \"Quiet\"\nschedule = \"0 3 * * *\"\n[[targets]]\nname = \"a\"\nurl = \"file://{}\"\n",
            f.backups.display()
        ),
    );
    let daemon = common::daemon::Daemon::start(&f, "");
    let log = daemon.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("jobs.d/quiet.toml") && l.contains("nobody hears about this job")),
        "{log}"
    );
}

const NOBODY: u32 = 65534;

fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test acts as root and as user nobody: run the tests as root"
    );
}

/// A fixture every user can read, with its data folder given to `nobody`.
fn nobodys_fixture() -> common::Fixture {
    let f = common::Fixture::new("");
    f.file("a.tar", 1000, common::hours(1));
    chmod(f.dir.path(), 0o755);
    std::fs::create_dir(f.data_dir()).unwrap();
    std::os::unix::fs::chown(f.data_dir(), Some(NOBODY), Some(NOBODY)).unwrap();
    f
}

#[test]
fn root_refuses_to_write_in_a_data_dir_of_another_user() {
    assert_root();
    let f = nobodys_fixture();
    let data = f.data_dir();
    for args in [
        &["run", "acme"][..],
        &["daemon"][..],
        &["digest", "acme"][..],
    ] {
        let out = f.backproof(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr
                .contains(&format!("{} belongs to user nobody", data.display()))
                && out.stderr.contains("`sudo -u nobody "),
            "{args:?}: {}",
            out.stderr
        );
        let left: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left files: {left:?}");
    }
    // check-config warns, and says what to do.
    let out = f.backproof(&["check-config"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning:") && out.stderr.contains("sudo -u nobody"),
        "{}",
        out.stderr
    );
    // What it says works.
    let out = backproof_at(&f.config, &["run", "acme"], Path::new("/"), Some(NOBODY));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn check_config_reports_folders_this_user_cannot_write() {
    assert_root();
    let f = nobodys_fixture();
    // A data folder of root's, for user nobody.
    std::os::unix::fs::chown(f.data_dir(), Some(0), Some(0)).unwrap();
    let out = backproof_at(&f.config, &["check-config"], Path::new("/"), Some(NOBODY));
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        !out.stdout.contains("configuration is valid"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(&format!(
            "data_dir: {} is not writable by user nobody",
            f.data_dir().display()
        )) && out.stderr.contains("sudo chown -R nobody: "),
        "{}",
        out.stderr
    );
    // The same for a scratch folder.
    std::os::unix::fs::chown(f.data_dir(), Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::create_dir(f.dir.path().join("scratch")).unwrap();
    std::fs::write(
        &f.config,
        "data_dir = \"data\"\nscratch_dir = \"scratch\"\n",
    )
    .unwrap();
    let out = backproof_at(&f.config, &["check-config"], Path::new("/"), Some(NOBODY));
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("scratch_dir: ") && out.stderr.contains("not writable by user nobody"),
        "{}",
        out.stderr
    );
}

#[test]
fn files_left_by_root_in_the_service_users_folder_are_explained() {
    assert_root();
    let f = nobodys_fixture();
    // What an old `sudo backproof run` left: a scratch folder of root's.
    let orphan = f
        .data_dir()
        .join("scratch")
        .join("run-20260101-000000-abcd");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("0-a.tar"), "x").unwrap();
    std::os::unix::fs::chown(f.data_dir().join("scratch"), Some(NOBODY), Some(NOBODY)).unwrap();
    for args in [&["check-config"][..], &["daemon"][..]] {
        let out = backproof_at(&f.config, args, Path::new("/"), Some(NOBODY));
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("holds files of user root")
                && out.stderr.contains(&orphan.display().to_string())
                && out
                    .stderr
                    .contains(&format!("sudo chown -R nobody: {}", f.data_dir().display())),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn root_reads_through_the_daemon_of_the_service_user_and_writes_nothing() {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    assert_root();
    let f = nobodys_fixture();
    let port = common::servers::free_port();
    std::fs::write(
        &f.config,
        format!("data_dir = \"data\"\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let log = f.dir.path().join("daemon.log");
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_backproof"))
        .arg("--config")
        .arg(&f.config)
        .arg("daemon")
        .current_dir("/")
        .uid(NOBODY)
        .gid(NOBODY)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !(f.data_dir().join("api.token").exists()
        && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
    {
        assert!(
            daemon.try_wait().unwrap().is_none(),
            "the daemon stopped: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        if std::time::Instant::now() > deadline {
            let _ = daemon.kill();
            panic!(
                "daemon not ready: {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // As root: the run and the chain check are done by the daemon.
    let run = f.backproof(&["run", "acme"]);
    let chain = f.backproof(&["verify-evidence", "acme"]);
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("started by the daemon"),
        "{}",
        run.stderr
    );
    assert_eq!(chain.code, 0, "{}{}", chain.stdout, chain.stderr);
    assert!(
        chain.stdout.contains("intact: 1 document,"),
        "{}",
        chain.stdout
    );
    // Nothing in the data folder belongs to root.
    let mut stack = vec![f.data_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let meta = entry.path().symlink_metadata().unwrap();
            assert_eq!(meta.uid(), NOBODY, "{} is root's", entry.path().display());
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
}

//! SMB targets against a real Samba server (`smbd`) on 127.0.0.1.
#![cfg(feature = "smb")]

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use backproof::config::{Encryption, Secret, SmbLocation};
use common::servers::{SMB_USER, Samba};
use common::*;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn location(s: &Samba, share: &str, path: &str, password: &str) -> SmbLocation {
    SmbLocation {
        host: "127.0.0.1".into(),
        port: s.port,
        share: share.into(),
        path: path.into(),
        username: SMB_USER.into(),
        domain: "WORKGROUP".into(),
        password: Secret::new(password),
        encryption: Encryption::Preferred,
        timeout: Duration::from_secs(5),
    }
}

fn write(root: &Path, rel: &str, bytes: &[u8], age: Duration) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    set_mtime(&p, SystemTime::now() - age);
}

#[test]
fn smb_share_passes_the_target_suite() {
    let s = Samba::start();
    let root = s.share_dir("backups").join("clients/acme");
    for (path, bytes) in suite::fixture_files() {
        write(&root, &path, &bytes, Duration::from_secs(60));
    }
    // Outside the target's folder: not listed.
    write(
        &s.share_dir("backups"),
        "clients/other/x.bin",
        b"x",
        Duration::ZERO,
    );
    block_on(async {
        let target =
            backproof::storage::smb::open(&location(&s, "backups", "clients/acme", &s.password))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        suite::run(&target).await;
    });
}

#[test]
fn share_requiring_encryption_works_with_encryption_required() {
    let s = Samba::start();
    write(
        &s.share_dir("secure"),
        "a.bin",
        b"secret backup",
        Duration::from_secs(60),
    );
    block_on(async {
        let mut loc = location(&s, "secure", "", &s.password);
        loc.encryption = Encryption::Required;
        let target = backproof::storage::smb::open(&loc)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        use backproof::storage::Target;
        use futures::TryStreamExt;
        let listed: Vec<_> = target.list().try_collect().await.unwrap();
        assert_eq!(listed.len(), 1);
        let bytes: Vec<bytes::Bytes> = target
            .read("a.bin")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(bytes.concat(), b"secret backup");
    });
}

/// A fixture whose job `acme` verifies folder `acme` of the share `backups`.
fn smb_fixture(s: &Samba, policy: &str, password: &str, extra: &str) -> Fixture {
    let f = Fixture::empty();
    let pw = f.secret("smb.secret", password);
    f.job_with_target(
        policy,
        &format!(
            "name = \"nas\"\nurl = \"smb://127.0.0.1:{}/backups/acme\"\nusername = \"{SMB_USER}\"\npassword_file = \"{}\"\ntimeout = \"3s\"\n{extra}",
            s.port,
            pw.display()
        ),
    );
    f
}

const NAMES: &[&str] = &[
    "daily/mon.tar",
    "daily/tue.tar",
    "weekly/w46.tar",
    "Client Files/Q4 report (final).xlsx",
    "ünïcødé/文件 100%.bin",
    "hash/#1 backup #2.tar",
];

fn seed(s: &Samba, size: usize) {
    let root = s.share_dir("backups").join("acme");
    for (i, n) in NAMES.iter().enumerate() {
        write(&root, n, &suite::content(n, size + i), hours(2 + i as u64));
    }
}

#[test]
fn healthy_share_passes_and_names_survive() {
    let s = Samba::start();
    seed(&s, 30_000);
    let f = smb_fixture(&s, "sample_files = 100", &s.password, "");
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "nas");
    assert_eq!(t["inventory"]["files"], NAMES.len());
    assert_eq!(t["files"][0]["path"], "daily/mon.tar", "newest first");
    for (i, n) in NAMES.iter().enumerate() {
        let file = sampled(t, n).unwrap_or_else(|| panic!("{n} not sampled: {t:#}"));
        assert_eq!(file["verdict"], "pass");
        let expected = blake3::hash(&suite::content(n, 30_000 + i));
        assert_eq!(file["streamed_blake3"], expected.to_hex().as_str());
    }
}

#[test]
fn corruption_and_truncation_in_place_fail_and_deletion_is_reported() {
    let s = Samba::start();
    seed(&s, 30_000);
    let f = smb_fixture(
        &s,
        "sample_files = 100\ncount_drop_percent = 50\nsize_drop_percent = 50",
        &s.password,
        "",
    );
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let root = s.share_dir("backups").join("acme");
    corrupt_in_place(&root.join("daily/tue.tar"));
    truncate_in_place(&root.join("weekly/w46.tar"));
    std::fs::remove_file(root.join("Client Files/Q4 report (final).xlsx")).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = target(&ev, "nas");
    let tue = sampled(t, "daily/tue.tar").unwrap();
    assert_eq!(tue["verdict"], "fail");
    assert!(reason_of(tue).contains("corruption"), "{tue}");
    let w46 = sampled(t, "weekly/w46.tar").unwrap();
    assert_eq!(w46["verdict"], "fail");
    assert!(reason_of(w46).contains("size changed"), "{w46}");
    assert_eq!(
        t["drift"]["vanished"][0]["path"],
        "Client Files/Q4 report (final).xlsx"
    );
    assert_eq!(sampled(t, "daily/mon.tar").unwrap()["verdict"], "pass");
}

#[test]
fn stale_share_fails_freshness() {
    let s = Samba::start();
    let root = s.share_dir("backups").join("acme");
    write(&root, "old.tar", b"old backup", hours(80));
    let f = smb_fixture(&s, "max_age = \"26h\"", &s.password, "");
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    assert_eq!(check(target(&ev, "nas"), "freshness")["verdict"], "fail");
}

#[test]
fn wrong_password_fails_clearly_and_never_falls_back_to_guest() {
    let s = Samba::start();
    seed(&s, 1000);
    let f = smb_fixture(&s, "", "not-the-password", "");
    let out = f.backproof(&["run", "acme", "--json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let ev = out.json();
    let reason = reason_of(check(target(&ev, "nas"), "access")).to_string();
    assert!(
        reason.contains(&format!("logon failure for user {SMB_USER}")),
        "{reason}"
    );
    assert!(!out.stdout.contains("not-the-password") && !out.stderr.contains("not-the-password"));
    assert!(!out.stdout.contains(&s.password));
}

#[test]
fn missing_share_and_missing_folder_are_errors() {
    let s = Samba::start();
    seed(&s, 1000);
    let f = smb_fixture(&s, "", &s.password, "");
    let job = std::fs::read_to_string(f.dir.path().join("jobs.d/acme.toml")).unwrap();
    f.write_job("acme", &job.replace("/backups/acme", "/nosuchshare/acme"));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    let reason = reason_of(check(target(&ev, "nas"), "access")).to_string();
    assert!(reason.contains("nosuchshare"), "{reason}");
    f.write_job(
        "acme",
        &job.replace("/backups/acme", "/backups/no-such-folder"),
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    let reason = reason_of(check(target(&ev, "nas"), "access")).to_string();
    assert!(
        reason.contains("no-such-folder") && reason.contains("does not exist"),
        "{reason}"
    );
}

#[test]
fn server_down_or_silent_is_an_error_within_the_timeout() {
    let mut s = Samba::start();
    seed(&s, 1000);
    let f = smb_fixture(&s, "", &s.password, "");
    // Silent: the process is there but answers nothing.
    s.pause();
    let started = std::time::Instant::now();
    let (code, ev) = f.run_json("acme", &[]);
    let took = started.elapsed();
    s.resume();
    assert_eq!(code, 2, "{ev:#}");
    assert!(
        took < Duration::from_secs(30),
        "a silent server held the run for {took:?}"
    );
    // Down: nothing listens.
    s.stop();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    let reason = reason_of(check(target(&ev, "nas"), "access")).to_string();
    assert!(
        reason.contains("cannot connect") || reason.contains("connection"),
        "{reason}"
    );
}

#[test]
fn server_stopped_mid_restore_is_an_error() {
    let mut s = Samba::start();
    let root = s.share_dir("backups").join("acme");
    // Sparse, so it costs nothing to write and takes long to read.
    let big = root.join("big.img");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::File::create(&big)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    write(&root, "small.bin", b"small", hours(5));
    // Disk mode, to see bytes of the restore arrive in the scratch folder.
    let f = smb_fixture(
        &s,
        "sample_bytes = \"20GB\"\nrestore = \"disk\"",
        &s.password,
        "",
    );
    let child = spawn_run(&f, "acme");
    wait_restoring(&f);
    // Mid-transfer: bytes of the big file have arrived in the scratch folder.
    wait_for("bytes restored", Duration::from_secs(30), || {
        scratch_bytes(&f) > 0
    });
    s.stop();
    let stopped = std::time::Instant::now();
    let (code, ev) = finish_run(child);
    let took = stopped.elapsed();
    assert_eq!(code, 2, "{ev:#}");
    let t = target(&ev, "nas");
    let big = sampled(t, "big.img").unwrap();
    assert_eq!(big["verdict"], "error", "{big:#}");
    assert!(big["bytes"].as_u64().unwrap() > 0, "{big:#}");
    let small = sampled(t, "small.bin").unwrap();
    assert!(reason_of(small).contains("not attempted"), "{small:#}");
    assert!(
        took < Duration::from_secs(30),
        "took {took:?} after the server stopped"
    );
}

#[test]
fn check_config_connect_reports_each_target() {
    let s = Samba::start();
    seed(&s, 100);
    let f = smb_fixture(&s, "", &s.password, "");
    let pw = f.secret("bad.secret", "wrong");
    f.write_job(
        "other",
        &format!(
            "client = \"Other\"\nschedule = \"0 3 * * *\"\n[[targets]]\nname = \"nas\"\nurl = \"smb://127.0.0.1:{}/backups/acme\"\nusername = \"{SMB_USER}\"\npassword_file = \"{}\"\ntimeout = \"3s\"\n",
            s.port,
            pw.display()
        ),
    );
    let out = f.backproof(&["check-config", "--connect"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("acme/nas: reachable"), "{}", out.stdout);
    assert!(
        out.stdout.contains("other/nas: ERROR: SMB: logon failure"),
        "{}",
        out.stdout
    );
    std::fs::remove_file(f.dir.path().join("jobs.d/other.toml")).unwrap();
    let out = f.backproof(&["check-config", "--connect"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn permission_denied_on_one_file_is_an_error_for_that_file() {
    use std::os::unix::fs::PermissionsExt;
    let s = Samba::start();
    let root = s.share_dir("plain").join("acme");
    write(&root, "readable.bin", b"fine", hours(2));
    write(&root, "locked.bin", b"locked away", hours(3));
    std::fs::set_permissions(
        root.join("locked.bin"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // The test user must be able to traverse the folders.
    for d in [
        s.dir.path().to_path_buf(),
        s.share_dir("plain"),
        root.clone(),
    ] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let f = smb_fixture(&s, "sample_files = 10", &s.password, "");
    let job = std::fs::read_to_string(f.dir.path().join("jobs.d/acme.toml")).unwrap();
    f.write_job("acme", &job.replace("/backups/acme", "/plain/acme"));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    let t = target(&ev, "nas");
    let locked = sampled(t, "locked.bin").unwrap();
    assert_eq!(locked["verdict"], "error", "{locked:#}");
    assert!(
        reason_of(locked).contains("permission denied"),
        "{locked:#}"
    );
    assert_eq!(sampled(t, "readable.bin").unwrap()["verdict"], "pass");
}

/// Runs the binary with this fixture's configuration and extra environment variables.
fn backproof_env(f: &Fixture, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_backproof"));
    cmd.arg("--config").arg(&f.config).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.env_remove("BACKPROOF_CONFIG").output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The encryption column of `smbstatus` for each open connection to `share`.
fn share_encryption(s: &Samba, share: &str) -> Vec<String> {
    let out = std::process::Command::new("smbstatus")
        .arg("-s")
        .arg(s.dir.path().join("smb.conf"))
        .arg("-S")
        .output()
        .unwrap();
    // Service, pid, machine, connected at (several words), encryption, signing.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(share))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols[cols.len() - 2].to_string()
        })
        .collect()
}

#[test]
fn encryption_required_means_an_encrypted_session_or_an_error() {
    // A server that encrypts: the run passes, and the server sees an encrypted session.
    let s = Samba::start();
    seed(&s, 1000);
    let f = smb_fixture(
        &s,
        "sample_files = 100",
        &s.password,
        "encryption = \"required\"",
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    assert_eq!(
        sampled(target(&ev, "nas"), "daily/mon.tar").unwrap()["verdict"],
        "pass"
    );
    block_on(async {
        let mut loc = location(&s, "backups", "acme", &s.password);
        loc.encryption = Encryption::Required;
        let target = backproof::storage::smb::open(&loc)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let seen = share_encryption(&s, "backups");
        assert!(
            !seen.is_empty() && seen.iter().all(|e| e.starts_with("AES")),
            "the server sees {seen:?}"
        );
        drop(target);
    });

    // A server that does not encrypt: could not verify, nothing restored, and the
    // message says why.
    let s = Samba::start_with("server smb encrypt = off");
    seed(&s, 1000);
    let f = smb_fixture(
        &s,
        "sample_files = 100",
        &s.password,
        "encryption = \"required\"",
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    let t = target(&ev, "nas");
    let reason = reason_of(check(t, "access")).to_string();
    assert!(
        reason.contains(&format!("127.0.0.1:{} does not encrypt", s.port))
            && reason.contains("no SMB3 encryption"),
        "{reason}"
    );
    assert!(sampled(t, "daily/mon.tar").is_none(), "{t:#}");
}

#[test]
fn a_session_libsmbclient_leaves_in_clear_is_refused_when_encryption_is_required() {
    // The server encrypts, but the client's smb.conf stops at SMB 2.1, which cannot:
    // libsmbclient says so and goes on in clear.
    let s = Samba::start();
    seed(&s, 1000);
    let f = smb_fixture(
        &s,
        "sample_files = 100",
        &s.password,
        "encryption = \"required\"",
    );
    let home = f.dir.path().join("home");
    std::fs::create_dir_all(home.join(".smb")).unwrap();
    std::fs::write(
        home.join(".smb/smb.conf"),
        "[global]\nclient max protocol = SMB2_10\n",
    )
    .unwrap();
    let out = backproof_env(&f, &["run", "acme", "--json"], &[("HOME", &home)]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let ev = out.json();
    let t = target(&ev, "nas");
    let reason = reason_of(check(t, "access")).to_string();
    assert!(
        reason.contains("is not encrypted") && reason.contains("doesn't support SMB3 encryption"),
        "{reason}"
    );
    assert!(sampled(t, "daily/mon.tar").is_none(), "{t:#}");
}

#[test]
fn library_chatter_stays_off_stdout_and_out_of_the_terminal_without_v() {
    // Encryption preferred (the default) against a server that cannot encrypt: files are
    // read in clear, and libsmbclient says so on its own.
    let s = Samba::start_with("server smb encrypt = off");
    seed(&s, 1000);
    let f = smb_fixture(&s, "sample_files = 100", &s.password, "");
    let out = f.backproof(&["run", "acme", "--json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let mut docs = serde_json::Deserializer::from_str(&out.stdout).into_iter::<serde_json::Value>();
    assert!(matches!(docs.next(), Some(Ok(_))), "{}", out.stdout);
    assert!(
        docs.next().is_none(),
        "more than one JSON document:\n{}",
        out.stdout
    );
    assert!(
        !out.stderr.contains("Encryption required"),
        "{}",
        out.stderr
    );
    // With -v it is in the log.
    let out = f.backproof(&["-v", "run", "acme", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.json();
    assert!(
        out.stderr.contains("libsmbclient") && out.stderr.contains("Encryption required"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_closed_port_is_told_in_plain_words_without_library_lines() {
    let port = common::servers::free_port();
    let f = Fixture::empty();
    let pw = f.secret("smb.secret", "whatever");
    f.job_with_target(
        "",
        &format!(
            "name = \"nas\"\nurl = \"smb://127.0.0.1:{port}/backups/acme\"\nusername = \"{SMB_USER}\"\npassword_file = \"{}\"\ntimeout = \"3s\"\n",
            pw.display()
        ),
    );
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "SMB: cannot connect to 127.0.0.1:{port}: connection refused"
        )),
        "{}",
        out.stdout
    );
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !all.contains("pavao") && !all.contains("os error"),
        "library wording reached the user:\n{all}"
    );
}

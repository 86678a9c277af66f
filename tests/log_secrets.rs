//! No log level prints a secret: `check-config --connect` and `run` with
//! `BACKPROOF_LOG=trace` against real servers (smbd, Garage, aiosmtpd), every output
//! searched for every configured secret.
#![cfg(all(feature = "s3", feature = "smb"))]

mod common;

use std::process::Command;

use common::servers::{Garage, SMB_USER, SMTP_PASSWORD, Samba, Smtp};
use common::*;

#[test]
fn trace_logging_prints_no_secret() {
    let samba = Samba::start();
    let garage = Garage::start();
    let smtp = Smtp::start();
    let share = samba.share_dir("backups").join("acme");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("mon.tar"), b"monday's backup").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use object_store::ObjectStoreExt;
        garage
            .store()
            .put(
                &object_store::path::Path::parse("acme/mon.tar").unwrap(),
                b"monday's offsite copy".to_vec().into(),
            )
            .await
            .unwrap();
    });

    let f = Fixture::empty();
    let smtp_pw = f.secret("smtp.secret", SMTP_PASSWORD);
    let smb_pw = f.secret("smb.secret", &samba.password);
    let s3_secret = f.secret("s3.secret", &garage.secret);
    std::fs::write(
        &f.config,
        format!("data_dir = \"data\"\n{}", smtp.config(&smtp_pw)),
    )
    .unwrap();
    f.write_job(
        "acme",
        &format!(
            r#"client = "Acme Dental"
technicians = ["noc@msp.example"]
schedule = "30 2 * * *"
notify = "always"

[[targets]]
name = "nas"
url = "smb://127.0.0.1:{}/backups/acme"
username = "{SMB_USER}"
password_file = "{}"
encryption = "required"
timeout = "5s"

[[targets]]
name = "offsite"
url = "s3://{}/acme/"
endpoint = "{}"
path_style = true
access_key_id = "{}"
secret_access_key_file = "{}"
timeout = "5s"
"#,
            samba.port,
            smb_pw.display(),
            garage.bucket,
            garage.endpoint(),
            garage.key_id,
            s3_secret.display()
        ),
    );

    let secrets = [
        ("SMB password", samba.password.as_str()),
        ("S3 secret key", garage.secret.as_str()),
        ("SMTP password", SMTP_PASSWORD),
    ];
    let mut traced = false;
    for args in [
        &["check-config", "--connect"][..],
        &["run", "acme"],
        &["run", "acme", "--json"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_backproof"))
            .arg("--config")
            .arg(&f.config)
            .args(args)
            .env("BACKPROOF_LOG", "trace")
            .env_remove("BACKPROOF_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}:\n{stdout}\n{stderr}");
        // The libraries that talk to servers are capped at DEBUG: their lines prove the
        // fine levels were on.
        traced |= stderr.contains("TRACE") || stderr.contains("DEBUG");
        for (what, secret) in secrets {
            for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
                assert!(
                    !text.contains(secret),
                    "{what} printed on {name} of {args:?}:\n{}",
                    text.lines()
                        .filter(|l| l.contains(secret))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
    }
    // The trace log was really on: the test would prove nothing otherwise.
    assert!(traced, "no trace output at all");
    assert!(
        smtp.messages().len() >= 2,
        "the runs did not log on to the SMTP server"
    );
}

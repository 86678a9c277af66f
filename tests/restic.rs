//! restic repositories made by the real `restic` (Debian package), verified without the
//! password: on a local folder, on the S3 server and on the Samba share.

mod common;

use std::path::Path;
use std::process::Command;

use common::servers::{Garage, SMB_USER, Samba};
use common::*;

const PASSWORD: &str = "correct horse battery staple";

/// Runs restic on `repo` with `args`; `env` adds variables (S3 credentials).
fn restic(repo: &str, args: &[&str], env: &[(&str, &str)]) {
    let out = Command::new("restic")
        .arg("--repo")
        .arg(repo)
        .args(["--quiet", "--no-cache"])
        .args(args)
        .env("RESTIC_PASSWORD", PASSWORD)
        .env_remove("AWS_CA_BUNDLE")
        .envs(env.iter().copied())
        .output()
        .expect("restic (Debian package restic; tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "restic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Some data to back up: a few files, one large enough to make several blobs.
fn data() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("ledger.db"),
        suite::content("ledger", 3_000_000),
    )
    .unwrap();
    std::fs::write(d.path().join("letter.txt"), b"Dear client,\n").unwrap();
    std::fs::create_dir(d.path().join("scans")).unwrap();
    std::fs::write(
        d.path().join("scans/x-ray.png"),
        suite::content("xray", 500_000),
    )
    .unwrap();
    d
}

/// The pack files (`data/xx/<sha256>`) of a repository folder.
fn packs(repo: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(repo.join("data")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

fn check_healthy(f: &Fixture) {
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = &ev["targets"][0];
    let repo = check(t, "repository");
    assert_eq!(repo["verdict"], "pass", "{repo}");
    assert!(reason_of(repo).contains("1 snapshots"), "{repo}");
    // Every content-addressed file restored was checked against its name.
    let named: Vec<_> = t["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["manifest"].is_null())
        .collect();
    assert!(named.len() >= 4, "{t:#}");
    for f in named {
        assert_eq!(f["manifest"]["actual"], f["manifest"]["expected"], "{f}");
    }
    assert!(
        t["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"].as_str().unwrap().starts_with("snapshots/"))
    );
}

fn check_damaged(f: &Fixture) {
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = &ev["targets"][0];
    let repo = check(t, "repository");
    assert_eq!(repo["verdict"], "fail", "{repo}");
    assert!(
        reason_of(repo).contains("do not match their name"),
        "{repo}"
    );
    assert!(
        problem_kinds(t).contains(&"repository".to_string()),
        "{t:#}"
    );
}

#[test]
fn a_local_repository_passes_and_a_corrupted_pack_fails() {
    let f = Fixture::new("sample_files = 100");
    let repo = f.backups.to_str().unwrap().to_string();
    let job = std::fs::read_to_string(f.dir.path().join("jobs.d/acme.toml")).unwrap();
    f.write_job("acme", &format!("{job}format = \"restic\"\n"));
    restic(&repo, &["init"], &[]);
    let d = data();
    restic(&repo, &["backup", d.path().to_str().unwrap()], &[]);
    check_healthy(&f);
    // Damage one pack on disk, keeping its size and date.
    corrupt_in_place(&packs(&f.backups)[0]);
    check_damaged(&f);
}

#[test]
fn a_repository_on_the_s3_server() {
    let g = Garage::start();
    let endpoint = g.endpoint();
    let env = [
        ("AWS_ACCESS_KEY_ID", g.key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", g.secret.as_str()),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ];
    let repo = format!("s3:{endpoint}/{}/acme-repo", g.bucket);
    restic(&repo, &["init"], &env);
    let d = data();
    restic(&repo, &["backup", d.path().to_str().unwrap()], &env);

    let f = Fixture::empty();
    let secret = f.secret("s3.secret", &g.secret);
    f.job_with_target(
        "sample_files = 100",
        &format!(
            "name = \"bucket\"\nurl = \"s3://{}/acme-repo/\"\nformat = \"restic\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\npath_style = true\naccess_key_id = \"{}\"\nsecret_access_key_file = \"{}\"",
            g.bucket,
            g.key_id,
            secret.display()
        ),
    );
    check_healthy(&f);

    // Replace one pack object with other bytes under the same name.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use futures::TryStreamExt;
        use object_store::{ObjectStore, ObjectStoreExt};
        let store = g.store();
        let prefix = object_store::path::Path::from("acme-repo/data");
        let packs: Vec<_> = store.list(Some(&prefix)).try_collect().await.unwrap();
        let victim = &packs[0].location;
        let mut bytes = store
            .get(victim)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        bytes[100] ^= 0xff;
        store.put(victim, bytes.into()).await.unwrap();
    });
    check_damaged(&f);
}

#[test]
fn a_repository_on_the_samba_share() {
    let s = Samba::start();
    let on_disk = s.share_dir("backups").join("acme-repo");
    restic(on_disk.to_str().unwrap(), &["init"], &[]);
    let d = data();
    restic(
        on_disk.to_str().unwrap(),
        &["backup", d.path().to_str().unwrap()],
        &[],
    );

    let f = Fixture::empty();
    let pw = f.secret("smb.secret", &s.password);
    f.job_with_target(
        "sample_files = 100",
        &format!(
            "name = \"nas\"\nurl = \"smb://127.0.0.1:{}/backups/acme-repo\"\nformat = \"restic\"\nusername = \"{SMB_USER}\"\npassword_file = \"{}\"",
            s.port,
            pw.display()
        ),
    );
    check_healthy(&f);
    corrupt_in_place(&packs(&on_disk)[0]);
    check_damaged(&f);
}

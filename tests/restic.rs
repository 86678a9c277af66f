//! restic repositories made by the real `restic` (Debian package), verified without the
//! password: on a local folder, on the S3 server and on the Samba share; and with it
//! (keyed mode) on the S3 server and the Samba share (more in `restic_keyed.rs`).

mod common;

use common::restic::{PASSWORD, data, files_in, packs, rel, restic, three_backups};
use common::servers::{Garage, SMB_USER, Samba};
use common::*;

fn check_healthy(f: &Fixture) -> serde_json::Value {
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = &ev["targets"][0];
    let repo = check(t, "repository");
    assert_eq!(repo["verdict"], "pass", "{repo}");
    assert!(
        reason_of(repo).contains("1 snapshot") && !reason_of(repo).contains("1 snapshots"),
        "{repo}"
    );
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
    ev
}

fn check_damaged(f: &Fixture) {
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = &ev["targets"][0];
    let repo = check(t, "repository");
    assert_eq!(repo["verdict"], "fail", "{repo}");
    assert!(
        reason_of(repo).contains("1 restored file does not match its name"),
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
    // On an s3:// target, `password_file` is the repository's password: keyed mode.
    let password = f.secret("restic.password", PASSWORD);
    f.job_with_target(
        "sample_files = 100",
        &format!(
            "name = \"bucket\"\nurl = \"s3://{}/acme-repo/\"\nformat = \"restic\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\npath_style = true\naccess_key_id = \"{}\"\nsecret_access_key_file = \"{}\"\npassword_file = \"{}\"",
            g.bucket,
            g.key_id,
            secret.display(),
            password.display()
        ),
    );
    let ev = check_healthy(&f);
    common::restic::check_keyed(&ev, d.path());

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
    // On an smb:// target `password_file` is the share's: the repository's has its own key.
    let password = f.secret("restic.password", PASSWORD);
    f.job_with_target(
        "sample_files = 100",
        &format!(
            "name = \"nas\"\nurl = \"smb://127.0.0.1:{}/backups/acme-repo\"\nformat = \"restic\"\nusername = \"{SMB_USER}\"\npassword_file = \"{}\"\nrestic_password_file = \"{}\"",
            s.port,
            pw.display(),
            password.display()
        ),
    );
    let ev = check_healthy(&f);
    common::restic::check_keyed(&ev, d.path());
    corrupt_in_place(&packs(&on_disk)[0]);
    check_damaged(&f);
}

/// A job on the local repository `f.backups` with `policy`, named `name`.
fn repository_job(f: &Fixture, name: &str, policy: &str) {
    f.write_job(
        name,
        &format!(
            "client = \"Acme Dental\"\ntechnicians = [\"noc@msp.example\"]\nschedule = \"30 2 * * *\"\n\n[policy]\n{policy}\n\n[[targets]]\nname = \"nas\"\nurl = \"file://{}\"\nformat = \"restic\"\n",
            f.backups.display()
        ),
    );
}

/// A local repository after three backups, and a first run that takes its inventory.
fn three_nights() -> (Fixture, tempfile::TempDir) {
    let f = Fixture::empty();
    repository_job(&f, "acme", "sample_files = 100");
    let d = three_backups(f.backups.to_str().unwrap(), &[]);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    assert_eq!(check(&ev["targets"][0], "repository")["verdict"], "pass");
    (f, d)
}

/// The run after `gone` was deleted fails in the repository check, which names it.
fn vanished_fails(f: &Fixture, gone: &str) {
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = &ev["targets"][0];
    let repo = check(t, "repository");
    assert_eq!(repo["verdict"], "fail", "{repo}");
    let why = reason_of(repo);
    assert!(why.contains("1 repository file vanished"), "{why}");
    assert!(why.contains(gone), "{why}");
    assert!(why.contains("no prune"), "{why}");
    // Less than the drift thresholds, yet a proven problem in a repository: the drift
    // check fails too, and the vanished files stay an open problem.
    assert_eq!(check(t, "drift")["verdict"], "fail", "{t:#}");
    let vanished = |t: &serde_json::Value| {
        t["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == "vanished")
            .cloned()
    };
    assert!(vanished(t).is_some(), "{t:#}");
    // The next run compares with the shrunken listing: the repository check alone would
    // pass, but the problem is still open until the file is back.
    let (code, ev) = f.run_json("acme", &[]);
    let t = &ev["targets"][0];
    assert_eq!(code, 1, "{t:#}");
    assert_eq!(check(t, "problems")["verdict"], "fail", "{t:#}");
    let open = vanished(t).expect("still open");
    assert!(open["paths"][0].as_str().unwrap().contains(gone), "{open}");
}

#[test]
fn a_vanished_newest_index_file_fails_without_the_password() {
    let (f, _d) = three_nights();
    let newest = files_in(&f.backups, "index")
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .unwrap();
    std::fs::remove_file(&newest).unwrap();
    vanished_fails(&f, &rel(&f.backups, &newest));
    // restic agrees that the repository is damaged.
    let (code, out) = common::restic::restic_bounded(
        f.backups.to_str().unwrap(),
        &["check"],
        std::time::Duration::from_secs(120),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("repository contains errors"), "{out}");
}

#[test]
fn a_vanished_smallest_pack_fails_without_the_password() {
    let (f, _d) = three_nights();
    let smallest = packs(&f.backups)
        .into_iter()
        .min_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    std::fs::remove_file(&smallest).unwrap();
    vanished_fails(&f, &rel(&f.backups, &smallest));
}

#[test]
fn a_prune_passes_only_where_allow_prune_is_set() {
    let f = Fixture::empty();
    // A prune shrinks the repository: both jobs tolerate that in the drift check.
    let drops = "sample_files = 100\ncount_drop_percent = 100\nsize_drop_percent = 100";
    repository_job(&f, "strict", drops);
    repository_job(&f, "lenient", &format!("{drops}\nallow_prune = true"));
    let repo = f.backups.to_str().unwrap().to_string();
    let _d = three_backups(&repo, &[]);
    for job in ["strict", "lenient"] {
        let (code, ev) = f.run_json(job, &[]);
        assert_eq!(code, 0, "{job}: {ev:#}");
    }
    restic(&repo, &["forget", "--keep-last", "1", "--prune"], &[]);

    let (code, ev) = f.run_json("strict", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let repo_check = check(&ev["targets"][0], "repository");
    assert_eq!(repo_check["verdict"], "fail", "{repo_check}");
    let why = reason_of(repo_check);
    assert!(why.contains("set allow_prune = true"), "{why}");
    assert!(why.contains("index/"), "{why}");

    let (code, ev) = f.run_json("lenient", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let repo_check = check(&ev["targets"][0], "repository");
    assert_eq!(repo_check["verdict"], "pass", "{repo_check}");
    assert!(
        reason_of(repo_check).contains("removed by a prune"),
        "{repo_check}"
    );
}

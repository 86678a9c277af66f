//! S3 targets against a real Garage server on 127.0.0.1.
#![cfg(feature = "s3")]

mod common;

use std::time::Duration;

use chrono::Timelike;

use backproof::config::{S3Location, Secret};
use backproof::storage::Target;
use common::servers::Garage;
use common::*;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

fn location(g: &Garage, prefix: &str) -> S3Location {
    S3Location {
        bucket: g.bucket.clone(),
        prefix: prefix.into(),
        endpoint: Some(g.endpoint()),
        region: "us-east-1".into(),
        path_style: true,
        access_key_id: g.key_id.clone(),
        secret_access_key: Secret::new(g.secret.clone()),
        timeout: Duration::from_secs(5),
    }
}

async fn put(store: &dyn ObjectStore, key: &str, bytes: Vec<u8>) {
    // `Path::parse` keeps a real UTF-8 key; `Path::from` would percent-encode it.
    store
        .put(&Key::parse(key).unwrap(), PutPayload::from(bytes))
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e}"));
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn s3_bucket_passes_the_target_suite() {
    let g = Garage::start();
    block_on(async {
        let store = g.store();
        for (path, bytes) in suite::fixture_files() {
            put(&*store, &format!("clients/acme/{path}"), bytes).await;
        }
        // Something outside the prefix must not be listed.
        put(&*store, "clients/other/x.bin", vec![1; 10]).await;
        let target = backproof::storage::s3::open(&location(&g, "clients/acme")).unwrap();
        assert_eq!(target.default_concurrency(), 4);
        suite::run(&target).await;
    });
}

/// A fixture whose job `acme` verifies prefix `acme/` of the Garage bucket.
fn s3_fixture(g: &Garage, policy: &str, secret: &str) -> Fixture {
    let f = Fixture::empty();
    let secret_file = f.secret("s3.secret", secret);
    f.job_with_target(
        policy,
        &format!(
            "name = \"bucket\"\nurl = \"s3://{}/acme/\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\npath_style = true\naccess_key_id = \"{}\"\nsecret_access_key_file = \"{}\"\ntimeout = \"3s\"",
            g.bucket,
            g.endpoint(),
            g.key_id,
            secret_file.display()
        ),
    );
    f
}

async fn seed(g: &Garage, names: &[&str], size: usize) {
    let store = g.store();
    for n in names {
        put(&*store, &format!("acme/{n}"), suite::content(n, size)).await;
    }
}

const NAMES: &[&str] = &[
    "daily/mon.tar",
    "daily/tue.tar",
    "weekly/w46.tar",
    "Client Files/Q4 report (final).xlsx",
    "ünïcødé/文件 100%.bin",
];

#[test]
fn healthy_bucket_passes_and_names_survive() {
    let g = Garage::start();
    block_on(seed(&g, NAMES, 20_000));
    let f = s3_fixture(&g, "sample_files = 100", &g.secret);
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "bucket");
    assert_eq!(t["inventory"]["files"], NAMES.len());
    for n in NAMES {
        let file = sampled(t, n).unwrap_or_else(|| panic!("{n} not sampled: {t:#}"));
        assert_eq!(file["verdict"], "pass");
        assert_eq!(
            file["streamed_blake3"],
            blake3::hash(&suite::content(n, 20_000)).to_hex().as_str()
        );
    }
}

/// The file under `dir` whose content starts with `head`.
fn find_block(dir: &std::path::Path, head: &[u8]) -> std::path::PathBuf {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).unwrap().starts_with(head) {
                return p;
            }
        }
    }
    panic!(
        "no block starting with the object's bytes under {}",
        dir.display()
    );
}

#[test]
fn damaged_block_on_the_servers_disk_fails_the_restore() {
    let g = Garage::start();
    block_on(seed(&g, &["daily/mon.tar", "daily/tue.tar"], 200_000));
    let f = s3_fixture(&g, "sample_files = 100", &g.secret);
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let content = suite::content("daily/tue.tar", 200_000);
    let block = find_block(&g.data_dir(), &content[..4096]);
    let mut bytes = std::fs::read(&block).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&block, bytes).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    let t = target(&ev, "bucket");
    let bad = sampled(t, "daily/tue.tar").unwrap();
    assert_eq!(bad["verdict"], "fail", "{bad:#}");
    assert_eq!(sampled(t, "daily/mon.tar").unwrap()["verdict"], "pass");
}

#[test]
fn overwritten_object_is_a_new_version_and_deletion_is_reported() {
    let g = Garage::start();
    block_on(seed(&g, &["a.bin", "b.bin", "c.bin"], 5_000));
    let f = s3_fixture(
        &g,
        "sample_files = 100\ncount_drop_percent = 50\nsize_drop_percent = 50",
        &g.secret,
    );
    assert_eq!(f.run_json("acme", &[]).0, 0);
    // S3 dates have whole seconds: the new version must get a later one.
    wait_past(chrono::Utc::now().with_nanosecond(0).unwrap() + chrono::Duration::seconds(1));
    block_on(async {
        let store = g.store();
        put(&*store, "acme/a.bin", vec![9u8; 6_000]).await;
        store
            .delete(&Key::parse("acme/c.bin").unwrap())
            .await
            .unwrap();
    });
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 0, "{ev:#}");
    let t = target(&ev, "bucket");
    let a = sampled(t, "a.bin").unwrap();
    assert_eq!(a["expected"]["kind"], "new_version", "{a:#}");
    assert_eq!(a["verdict"], "pass");
    assert_eq!(t["drift"]["vanished"][0]["path"], "c.bin");
}

#[test]
fn stale_bucket_fails_freshness() {
    let g = Garage::start();
    block_on(seed(&g, &["a.bin"], 1_000));
    let written = chrono::Utc::now();
    let f = s3_fixture(&g, "max_age = \"2s\"", &g.secret);
    // Older than max_age (S3 dates have whole seconds).
    wait_past(written + chrono::Duration::seconds(3));
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1, "{ev:#}");
    assert_eq!(check(target(&ev, "bucket"), "freshness")["verdict"], "fail");
}

#[test]
fn wrong_secret_is_an_error_naming_the_key() {
    let g = Garage::start();
    block_on(seed(&g, &["a.bin"], 1_000));
    let f = s3_fixture(
        &g,
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    );
    let out = f.backproof(&["run", "acme", "--json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let ev = out.json();
    let t = target(&ev, "bucket");
    let reason = reason_of(check(t, "access")).to_string();
    assert!(
        reason.contains("refused for access key") && reason.contains(&g.key_id),
        "{reason}"
    );
    // The secret itself appears nowhere.
    assert!(!out.stdout.contains(&g.secret) && !out.stderr.contains(&g.secret));
}

#[test]
fn missing_bucket_and_empty_prefix_are_errors() {
    let g = Garage::start();
    block_on(seed(&g, &["a.bin"], 1_000));
    let f = s3_fixture(&g, "", &g.secret);
    let job = std::fs::read_to_string(f.dir.path().join("jobs.d/acme.toml")).unwrap();
    f.write_job(
        "acme",
        &job.replace("s3://backups/acme/", "s3://no-such-bucket/acme/"),
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    let reason = reason_of(check(target(&ev, "bucket"), "access")).to_string();
    assert!(reason.contains("no-such-bucket"), "{reason}");
    f.write_job(
        "acme",
        &job.replace("s3://backups/acme/", "s3://backups/nothing-here/"),
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    assert_eq!(
        check(target(&ev, "bucket"), "inventory")["verdict"],
        "error"
    );
}

#[test]
fn unreachable_server_is_an_error() {
    let mut g = Garage::start();
    let f = s3_fixture(&g, "", &g.secret);
    g.stop();
    let started = std::time::Instant::now();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 2, "{ev:#}");
    let reason = reason_of(check(target(&ev, "bucket"), "access")).to_string();
    assert!(reason.contains("cannot connect"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn server_stopped_mid_run_is_an_error_within_the_timeout() {
    let mut g = Garage::start();
    block_on(async {
        let store = g.store();
        put(&*store, "acme/big.bin", suite::content("big", 192 << 20)).await;
        for n in ["a.bin", "b.bin", "c.bin"] {
            put(&*store, &format!("acme/{n}"), suite::content(n, 1000)).await;
        }
    });
    // The newest object is restored first: make it the big one (S3 dates have whole
    // seconds: it must get a later one).
    wait_past(chrono::Utc::now().with_nanosecond(0).unwrap() + chrono::Duration::seconds(1));
    block_on(async {
        let store = g.store();
        put(&*store, "acme/big.bin", suite::content("big2", 192 << 20)).await;
    });
    let f = s3_fixture(&g, "sample_files = 10\nsample_bytes = \"1GB\"", &g.secret);
    let child = spawn_run(&f, "acme");
    wait_restoring(&f);
    g.stop();
    let stopped = std::time::Instant::now();
    let (code, ev) = finish_run(child);
    let took = stopped.elapsed();
    assert_eq!(code, 2, "{ev:#}");
    let t = target(&ev, "bucket");
    assert_eq!(check(t, "restore")["verdict"], "error", "{t:#}");
    let big = sampled(t, "big.bin").unwrap();
    assert_eq!(big["verdict"], "error", "{big:#}");
    // Retries and timeouts are bounded: 3 s timeout, 3 retries.
    assert!(
        took < Duration::from_secs(45),
        "took {took:?} after the server stopped"
    );
}

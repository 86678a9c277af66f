//! `backproof demo`: the whole pipeline on a throwaway backup set, with no configuration.
//!
//! It writes a small backup set and a configuration into a folder, verifies it (pass),
//! then flips bytes in the newest backup file while keeping its size and modification
//! time (what bit rot or tampering looks like to `ls`), verifies again and shows the
//! failure being caught.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use crate::evidence::{Trigger, Verdict};
use crate::verify::RunRequest;

use super::commands;

const JOB: &str = "acme-dental";

/// Files of the demo backup set: path, size in KiB, age in hours.
const FILES: &[(&str, u64, u64)] = &[
    ("daily/acme-2026-11-20.tar.zst", 640, 7 * 24 + 3),
    ("daily/acme-2026-11-21.tar.zst", 700, 6 * 24 + 3),
    ("daily/acme-2026-11-22.tar.zst", 660, 5 * 24 + 3),
    ("daily/acme-2026-11-23.tar.zst", 720, 4 * 24 + 3),
    ("daily/acme-2026-11-24.tar.zst", 690, 3 * 24 + 3),
    ("daily/acme-2026-11-25.tar.zst", 710, 2 * 24 + 3),
    ("daily/acme-2026-11-26.tar.zst", 730, 24 + 3),
    ("daily/acme-2026-11-27.tar.zst", 750, 3),
    ("weekly/acme-week-46.tar.zst", 2048, 12 * 24),
    ("weekly/acme-week-47.tar.zst", 2100, 5 * 24),
    ("sql/practice-db.bak", 1536, 4),
    ("sql/practice-db-log.trn", 256, 4),
];

pub async fn demo(dir: Option<PathBuf>) -> Result<u8> {
    let root = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            d.canonicalize()?
        }
        None => tempfile::Builder::new()
            .prefix("backproof-demo-")
            .tempdir()?
            .keep(),
    };
    println!("backproof demo in {}\n", root.display());
    let backups = root.join("backups").join(JOB);
    let newest = write_backup_set(&backups)?;
    let config_path = write_config(&root, &backups)?;
    println!(
        "Wrote a backup set of {} files to {} and a configuration to {}.\n",
        FILES.len(),
        backups.display(),
        config_path.display()
    );

    let config = crate::app::setup::load(&config_path)?;
    let req = || RunRequest {
        target: None,
        seed: None,
        trigger: Trigger::Demo,
        run_id: None,
        progress: None,
    };

    println!("== Step 1: verify the healthy backup set ==\n");
    let first = commands::run(&config, JOB, req(), false).await?;

    println!("\n== Step 2: corrupt {} in place ==\n", newest.display());
    corrupt_keeping_size_and_mtime(&newest)?;
    println!(
        "Flipped 16 bytes in the middle of the file; its size and modification time are unchanged,\nso `ls -l` and any size/date check see nothing.\n"
    );

    println!("== Step 3: verify again ==\n");
    let second = commands::run(&config, JOB, req(), false).await?;

    let caught = first == Verdict::Pass.exit_code() && second == Verdict::Fail.exit_code();
    println!();
    if caught {
        println!("The corruption was caught: the first run passed, the second failed.");
    } else {
        println!(
            "Unexpected: the first run exited {first} and the second {second} (expected 0 then 1)."
        );
    }
    println!(
        "Look around: backproof --config {} history {JOB}",
        config_path.display()
    );
    println!("Remove the demo with: rm -rf {}", root.display());
    Ok(if caught { 0 } else { 1 })
}

/// Writes the files with their ages; returns the newest file's path.
fn write_backup_set(root: &Path) -> Result<PathBuf> {
    let now = SystemTime::now();
    let mut newest = (u64::MAX, PathBuf::new());
    for (name, kib, hours) in FILES {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().expect("has parent"))?;
        let mut content = vec![0u8; (*kib * 1024) as usize];
        blake3::Hasher::new()
            .update(name.as_bytes())
            .finalize_xof()
            .fill(&mut content);
        std::fs::write(&path, &content).with_context(|| format!("writing {}", path.display()))?;
        let mtime = now - Duration::from_secs(hours * 3600);
        std::fs::File::options()
            .write(true)
            .open(&path)?
            .set_modified(mtime)?;
        if *hours < newest.0 {
            newest = (*hours, path);
        }
    }
    Ok(newest.1)
}

fn write_config(root: &Path, backups: &Path) -> Result<PathBuf> {
    let jobs = root.join("jobs.d");
    std::fs::create_dir_all(&jobs)?;
    let config = root.join("backproof.toml");
    std::fs::write(
        &config,
        "# backproof demo configuration\ndata_dir = \"data\"\n\n[policy]\nmax_age = \"26h\"\n",
    )?;
    let url = url::Url::from_directory_path(backups)
        .map_err(|()| anyhow::anyhow!("{} is not an absolute path", backups.display()))?;
    std::fs::write(
        jobs.join(format!("{JOB}.toml")),
        format!(
            r#"client = "Acme Dental"
owners = ["owner@acme-dental.example"]
technicians = ["noc@msp.example"]
schedule = "30 2 * * *"

[policy]
sample_files = 5
sample_bytes = "100MB"

[[targets]]
name = "nas"
url = "{url}"
"#
        ),
    )?;
    Ok(config)
}

fn corrupt_keeping_size_and_mtime(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path)?;
    let mtime = meta.modified()?;
    let mut f = std::fs::File::options().read(true).write(true).open(path)?;
    f.seek(SeekFrom::Start(meta.len() / 2))?;
    f.write_all(&[0xA5; 16])?;
    f.set_modified(mtime)?;
    f.sync_all()?;
    Ok(())
}

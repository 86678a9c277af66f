//! One process at a time per `data_dir`: an advisory lock file holding a small record of
//! its holder (pid, kind, the daemon's API address, since when).
//!
//! Other processes read the record to decide how to reach the catalog: when its holder is
//! a daemon, they talk to the daemon's API at the address it gives.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CatalogError;

/// What kind of process holds the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolderKind {
    /// `backproof daemon`: it serves the API named in the record.
    Daemon,
    /// Any other command (`run`, `status`...), for as long as it runs.
    Command,
}

/// The record written in the lock file by the process holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    pub pid: u32,
    pub kind: HolderKind,
    /// The command line, for people.
    pub command: String,
    /// The daemon's API address (`127.0.0.1:7341`), for a daemon.
    #[serde(default)]
    pub api: Option<String>,
    pub since: DateTime<Utc>,
}

impl LockRecord {
    /// This process, as a command.
    pub fn command() -> LockRecord {
        LockRecord {
            pid: std::process::id(),
            kind: HolderKind::Command,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            api: None,
            since: Utc::now(),
        }
    }

    /// This process, as the daemon serving its API at `api`.
    pub fn daemon(api: impl ToString) -> LockRecord {
        LockRecord {
            kind: HolderKind::Daemon,
            api: Some(api.to_string()),
            ..LockRecord::command()
        }
    }
}

impl std::fmt::Display for LockRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}, command {}", self.pid, self.command)?;
        if let Some(api) = &self.api {
            write!(f, ", API {api}")?;
        }
        write!(
            f,
            ", since {}",
            self.since
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }
}

/// Held for as long as the catalog is open; released when dropped (or when the process
/// dies, since the kernel drops the lock with the file descriptor).
#[derive(Debug)]
pub struct ProcessLock {
    _file: File,
    pub path: PathBuf,
}

fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("backproof.lock")
}

/// The holder's record, as people read it: the record, else the file's text, else
/// "an unknown process".
fn describe(text: &str) -> String {
    match serde_json::from_str::<LockRecord>(text) {
        Ok(record) => record.to_string(),
        Err(_) if text.trim().is_empty() => "an unknown process".into(),
        Err(_) => text.trim().replace('\n', ", "),
    }
}

/// The record of the process holding the lock of `data_dir` now, if one holds it and its
/// record can be read. Takes nothing: a free lock is released again at once.
pub fn holder(data_dir: &Path) -> Option<LockRecord> {
    let mut file = File::open(lock_path(data_dir)).ok()?;
    match file.try_lock_shared() {
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            file.read_to_string(&mut text).ok()?;
            serde_json::from_str(&text).ok()
        }
        // Free (released when `file` is dropped) or not lockable: no holder.
        _ => None,
    }
}

impl ProcessLock {
    /// Takes the lock of `data_dir` for `me`, or says who holds it.
    pub fn acquire(data_dir: &Path, me: &LockRecord) -> Result<ProcessLock, CatalogError> {
        let path = lock_path(data_dir);
        let io = |e| CatalogError::Io {
            path: path.clone(),
            source: e,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(CatalogError::Locked {
                    data_dir: data_dir.to_path_buf(),
                    lock_file: path,
                    holder: describe(&text),
                    record: serde_json::from_str(&text).ok().map(Box::new),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let record = serde_json::to_string(me).map_err(|e| io(std::io::Error::other(e)))?;
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(record.as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(ProcessLock { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_read_from_its_record_while_it_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let me = LockRecord::daemon("127.0.0.1:7341");
        let lock = ProcessLock::acquire(dir.path(), &me).unwrap();
        let seen = holder(dir.path()).expect("a holder");
        assert_eq!(seen.kind, HolderKind::Daemon);
        assert_eq!(seen.api.as_deref(), Some("127.0.0.1:7341"));
        assert_eq!(seen.pid, std::process::id());
        drop(lock);
        // Released: the record left in the file names nobody.
        assert_eq!(holder(dir.path()), None);
    }
}

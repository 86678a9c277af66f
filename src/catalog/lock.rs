//! One process at a time per `data_dir`: an advisory lock file that names its holder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::CatalogError;

/// Held for as long as the catalog is open; released when dropped (or when the process
/// dies, since the kernel drops the lock with the file descriptor).
#[derive(Debug)]
pub struct ProcessLock {
    _file: File,
    pub path: PathBuf,
}

impl ProcessLock {
    pub fn acquire(data_dir: &Path) -> Result<ProcessLock, CatalogError> {
        let path = data_dir.join("backproof.lock");
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
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim().replace('\n', ", ");
                return Err(CatalogError::Locked {
                    data_dir: data_dir.to_path_buf(),
                    lock_file: path,
                    holder: if holder.is_empty() {
                        "an unknown process".into()
                    } else {
                        holder
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let me = format!(
            "pid {}\ncommand {}\nsince {}\n",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" "),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(me.as_bytes()).map_err(io)?;
        Ok(ProcessLock { _file: file, path })
    }
}

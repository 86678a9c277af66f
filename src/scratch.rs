//! Per-run scratch folders, and safe file names for restores into them.
//!
//! Object names are untrusted. A restored file is never written at a path built from its
//! name: it is written as a direct child of the run's scratch folder under a name made of
//! its sample index and a sanitized copy of the last name component. `..`, absolute
//! paths, backslashes, drive letters, NUL and control characters and over-long names
//! therefore cannot place a file anywhere else, and files are created with `create_new`
//! so an existing file or symbolic link is never followed or overwritten.
//!
//! Each run folder carries a marker naming the catalog (installation) and the run it
//! belongs to. Clean-up removes only folders with this installation's marker whose run is
//! over: a person's `run-payroll-2026` folder, or the restores in progress of another
//! installation sharing the same scratch folder, are never touched.

use std::io;
use std::path::{Path, PathBuf};

/// Prefix of scratch folder names, used to find leftovers of interrupted runs.
const RUN_PREFIX: &str = "run-";
/// The marker file in a run folder: `installation <id>` and `run <run id>` lines. Restored
/// files never start with a dot, so it cannot collide with one.
const MARKER: &str = ".backproof-run";

/// Who a scratch folder belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The catalog's installation id ([`crate::catalog::Catalog::installation`]).
    pub installation: &'a str,
    pub run_id: &'a str,
}
/// Longest sanitized name part kept, in bytes.
const MAX_NAME: usize = 96;

/// A scratch folder that exists for one run and is removed when dropped, also when the
/// run fails or is cancelled.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `base/run-<name>` (and `base` if needed), readable only by us, marked as
    /// `owner`'s.
    pub fn create(base: &Path, name: &str, owner: Owner<'_>) -> io::Result<ScratchDir> {
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{name}` is not a scratch folder name"),
            ));
        }
        create_private_dir_all(base)?;
        let path = base.join(format!("{RUN_PREFIX}{name}"));
        if path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", path.display()),
            ));
        }
        // The folder gets its final name only once its marker is whole: a run folder is
        // never without it. A process killed before the rename leaves `run-<name>.new`
        // with its marker, which clean-up removes as well; one killed while writing the
        // marker leaves that folder empty of data, and clean-up cannot tell whose it is.
        let staged = base.join(format!("{RUN_PREFIX}{name}.new"));
        create_private_dir(&staged)?;
        // Removed again if the marker cannot be written or the rename fails.
        let mut dir = ScratchDir { path: staged };
        std::fs::write(
            dir.path.join(MARKER),
            format!(
                "installation {}\nrun {}\n",
                owner.installation, owner.run_id
            ),
        )?;
        std::fs::rename(&dir.path, &path)?;
        dir.path = path;
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the `index`-th sampled file, named `untrusted` by its storage, is restored.
    pub fn file_for(&self, index: usize, untrusted: &str) -> PathBuf {
        self.path.join(safe_file_name(index, untrusted))
    }

    /// Removes the scratch folders `installation` left behind for runs that are over
    /// (`running` says which run is still going on). Folders without this installation's
    /// marker are left alone, whatever their name.
    pub fn sweep_orphans(
        base: &Path,
        installation: &str,
        running: impl Fn(&str) -> bool,
    ) -> io::Result<usize> {
        let entries = match std::fs::read_dir(base) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            if !entry.file_name().to_string_lossy().starts_with(RUN_PREFIX)
                || !entry.file_type()?.is_dir()
            {
                continue;
            }
            let marker = std::fs::read_to_string(entry.path().join(MARKER)).unwrap_or_default();
            let field = |name: &str| {
                marker
                    .lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                    .map(str::to_string)
            };
            match (field("installation"), field("run")) {
                (Some(i), Some(run)) if i == installation && !running(&run) => {
                    std::fs::remove_dir_all(entry.path())?;
                    removed += 1;
                }
                _ => tracing::debug!(
                    folder = %entry.path().display(),
                    "scratch folder not left by a finished run of this installation: left alone"
                ),
            }
        }
        Ok(removed)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::error!(path = %self.path.display(), error = %e, "could not remove scratch folder");
        }
    }
}

/// A single, harmless file name for the `index`-th restore of an object named
/// `untrusted`: `00007-name.ext`, with only ASCII letters, digits, `.`, `-` and `_`.
pub fn safe_file_name(index: usize, untrusted: &str) -> String {
    let last = untrusted
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let mut name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = name.trim_start_matches('.').len();
    name = name.split_off(name.len() - trimmed);
    if name.len() > MAX_NAME {
        // Keep the end: it holds the extension.
        name = name.split_off(name.len() - MAX_NAME);
    }
    if name.is_empty() {
        name.push_str("file");
    }
    format!("{index:05}-{name}")
}

fn create_private_dir_all(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &[&str] = &[
        "../../etc/passwd",
        "/etc/passwd",
        "..",
        ".",
        "a/../../../b",
        "..\\..\\Windows\\System32\\config",
        "C:\\Users\\x.txt",
        "C:",
        "nul\0byte",
        "ctl\x01\x1b[31m\n",
        "",
        "/",
        "////",
        "...",
        ".hidden",
        "ünïcødé 文件.tar",
    ];

    #[test]
    fn names_stay_one_harmless_component() {
        let long = "x".repeat(5000) + ".tar.gz";
        for (i, evil) in EVIL.iter().copied().chain([long.as_str()]).enumerate() {
            let name = safe_file_name(i, evil);
            assert!(name.len() <= MAX_NAME + 6, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
                "{name:?}"
            );
            assert!(!name.starts_with('.'));
            let base = Path::new("/scratch/run-1");
            let joined = base.join(&name);
            assert_eq!(joined.parent(), Some(base), "{evil:?} -> {name}");
        }
        assert!(safe_file_name(1, &long).ends_with(".tar.gz"));
    }

    #[test]
    fn same_name_different_index_differs() {
        assert_ne!(safe_file_name(1, "a/x"), safe_file_name(2, "b/x"));
    }

    const US: &str = "a1";

    fn owner(run_id: &str) -> Owner<'_> {
        Owner {
            installation: US,
            run_id,
        }
    }

    #[test]
    fn scratch_is_removed_on_drop_and_only_our_finished_orphans_swept() {
        let base = tempfile::tempdir().unwrap();
        let path = {
            let s = ScratchDir::create(base.path(), "r1-0", owner("r1")).unwrap();
            std::fs::write(s.file_for(0, "../x"), b"data").unwrap();
            s.path().to_path_buf()
        };
        assert!(!path.exists());
        let leak = |name, owner| {
            let d = ScratchDir::create(base.path(), name, owner).unwrap();
            let p = d.path().to_path_buf();
            std::mem::forget(d);
            p
        };
        let ours = leak("r2-0", owner("r2"));
        let going_on = leak("r3-0", owner("r3"));
        let theirs = leak(
            "r4-0",
            Owner {
                installation: "someone-else",
                run_id: "r4",
            },
        );
        // Killed between writing the marker and the rename: ours, swept. Killed while
        // writing it: nobody can tell whose it is, left alone.
        let staged = |name: &str, marker: &str| {
            let p = base.path().join(name);
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join(MARKER), marker).unwrap();
            p
        };
        let ours_staged = staged("run-r5-0.new", "installation a1\nrun r5\n");
        let torn = staged("run-r6-0.new", "install");
        let person = base.path().join("run-payroll-2026");
        std::fs::create_dir(&person).unwrap();
        std::fs::create_dir(base.path().join("unrelated")).unwrap();
        let swept = ScratchDir::sweep_orphans(base.path(), US, |run| run == "r3").unwrap();
        assert_eq!(swept, 2);
        assert!(!ours.exists() && !ours_staged.exists());
        assert!(going_on.exists() && theirs.exists() && person.exists() && torn.exists());
        assert!(base.path().join("unrelated").exists());
    }

    #[test]
    fn a_scratch_folder_appears_with_its_whole_marker_and_never_twice() {
        let base = tempfile::tempdir().unwrap();
        let first = ScratchDir::create(base.path(), "r1-0", owner("r1")).unwrap();
        assert_eq!(
            std::fs::read_to_string(first.path().join(MARKER)).unwrap(),
            "installation a1\nrun r1\n"
        );
        let again = ScratchDir::create(base.path(), "r1-0", owner("r1")).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        let names: Vec<_> = std::fs::read_dir(base.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["run-r1-0"], "nothing staged is left behind");
        assert!(
            first.path().join(MARKER).exists(),
            "the first one is untouched"
        );
    }
}

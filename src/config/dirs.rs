//! Whether this process may write in `data_dir` and `scratch_dir`, and whether it should.
//!
//! Two traps end in a service that cannot start: a folder the service user cannot write,
//! and root running a command in a folder that belongs to the service user, which leaves
//! root-owned files there (the daemon then fails on them, again and again under systemd).
//! Commands that write check this first and refuse with the fix; `check-config` reports it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, Uid, User, access};

use super::Config;

/// What is wrong with a folder for the user running backproof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderProblem {
    /// This user cannot create files in it (permissions, read-only file system).
    NotWritable { key: &'static str, message: String },
    /// Root would create files in a folder that belongs to another user.
    OtherOwner { key: &'static str, message: String },
    /// Files in it belong to another user (left by a command run as root): this user
    /// cannot replace or remove them.
    Leftovers { key: &'static str, message: String },
}

impl FolderProblem {
    pub fn message(&self) -> &str {
        match self {
            FolderProblem::NotWritable { message, .. }
            | FolderProblem::OtherOwner { message, .. }
            | FolderProblem::Leftovers { message, .. } => message,
        }
    }
}

impl std::fmt::Display for FolderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = match self {
            FolderProblem::NotWritable { key, .. }
            | FolderProblem::OtherOwner { key, .. }
            | FolderProblem::Leftovers { key, .. } => key,
        };
        write!(f, "{key}: {}", self.message())
    }
}

/// How many files of another user are named at most.
const SHOWN_LEFTOVERS: usize = 3;

/// Checks `data_dir` and `scratch_dir` for the user running this process. `command` is
/// how to repeat what the user asked, for the `sudo -u USER ...` hint.
pub fn check_folders(config: &Config, command: &str) -> Vec<FolderProblem> {
    let me = Uid::effective();
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for (key, dir) in [
        ("data_dir", &config.data_dir),
        ("scratch_dir", &config.scratch_dir),
    ] {
        // A scratch folder still to be made inside data_dir has data_dir's problem.
        let existing = nearest_existing(dir);
        if seen.contains(&existing) {
            continue;
        }
        seen.push(existing);
        if let Some(p) = check_one(key, dir, me, command) {
            problems.push(p);
        }
    }
    problems
}

/// `dir`, or the nearest folder above it that exists (where it would be created).
fn nearest_existing(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|p| p.symlink_metadata().is_ok())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

fn check_one(key: &'static str, dir: &Path, me: Uid, command: &str) -> Option<FolderProblem> {
    let existing = nearest_existing(dir);
    let existing = existing.as_path();
    let meta = std::fs::metadata(existing).ok()?;
    // Messages name the folder that decides: `dir`, or the one it would be created in.
    let created = if existing == dir {
        String::new()
    } else {
        format!(" (where {} would be created)", dir.display())
    };
    if !meta.is_dir() {
        return Some(FolderProblem::NotWritable {
            key,
            message: format!("{} is not a folder{created}", existing.display()),
        });
    }
    let owner = Uid::from_raw(meta.uid());
    if me.is_root() && !owner.is_root() {
        let name = user_name(owner);
        return Some(FolderProblem::OtherOwner {
            key,
            message: format!(
                "{}{created} belongs to user {name}; run as root, backproof would leave files there that {name} cannot change, and the service (running as {name}) would fail on them. Run it as that user: `sudo -u {name} {command}`",
                existing.display()
            ),
        });
    }
    if let Err(errno) = access(existing, AccessFlags::W_OK | AccessFlags::X_OK) {
        let (me_name, owner_name) = (user_name(me), user_name(owner));
        let fix = if errno == nix::errno::Errno::EROFS {
            "it is on a read-only file system: choose a writable folder (under systemd with ProtectSystem=strict, list it in ReadWritePaths=)".to_string()
        } else if owner.is_root() {
            format!(
                "give it to {me_name}: `sudo chown -R {me_name}: {}`",
                existing.display()
            )
        } else {
            format!(
                "run backproof as its owner (`sudo -u {owner_name} {command}`), or give it to {me_name}: `sudo chown -R {me_name}: {}`",
                existing.display()
            )
        };
        return Some(FolderProblem::NotWritable {
            key,
            message: format!(
                "{}{created} is not writable by user {me_name} ({}; owner {owner_name}, mode {:04o}); {fix}",
                existing.display(),
                errno.desc(),
                meta.permissions().mode() & 0o7777,
            ),
        });
    }
    if me.is_root() || existing != dir {
        return None;
    }
    let foreign = foreign_files(dir, me);
    let first = foreign.first()?;
    let owner_name = std::fs::symlink_metadata(first)
        .map(|m| user_name(Uid::from_raw(m.uid())))
        .unwrap_or_else(|_| "another user".into());
    let me_name = user_name(me);
    let shown: Vec<String> = foreign
        .iter()
        .take(SHOWN_LEFTOVERS)
        .map(|p| p.display().to_string())
        .collect();
    Some(FolderProblem::Leftovers {
        key,
        message: format!(
            "{} holds files of user {owner_name} that {me_name} cannot replace or remove ({}{}), probably left by a command run as {owner_name}. Give them back: `sudo chown -R {me_name}: {}`",
            dir.display(),
            shown.join(", "),
            if foreign.len() > shown.len() {
                ", ..."
            } else {
                ""
            },
            dir.display()
        ),
    })
}

/// Entries of `dir` and of its sub-folders one level down (the catalog, the evidence
/// folders of the jobs, the scratch folders of runs) that belong to another user; at
/// most `SHOWN_LEFTOVERS + 1` of them.
fn foreign_files(dir: &Path, me: Uid) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mine = |m: &std::fs::Metadata| m.uid() == me.as_raw();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if !mine(&meta) {
            found.push(entry.path());
        }
        if meta.is_dir()
            && let Ok(inner) = std::fs::read_dir(entry.path())
        {
            for e in inner.flatten() {
                if e.path().symlink_metadata().is_ok_and(|m| !mine(&m)) {
                    found.push(e.path());
                }
                if found.len() > SHOWN_LEFTOVERS {
                    return found;
                }
            }
        }
        if found.len() > SHOWN_LEFTOVERS {
            break;
        }
    }
    found
}

/// The user's name, else `#uid` (which `sudo -u` accepts too).
fn user_name(uid: Uid) -> String {
    match User::from_uid(uid) {
        Ok(Some(u)) => u.name,
        _ => format!("'#{uid}'"),
    }
}

//! Local folders and mounted storage (NAS, USB), through object_store's `LocalFileSystem`.
//!
//! Known limits of `LocalFileSystem` listings, stated so nothing is skipped unknowingly:
//! it follows symbolic links, leaves out broken links, and leaves out files whose name
//! ends in `#` and digits (its own marker for unfinished uploads). A name with a control
//! character makes the listing fail, which gives the target an error verdict.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::local::LocalFileSystem;

use super::store::StoreTarget;
use super::{ErrorKind, TargetError, io_kind};

/// Opens the folder `root`. It must exist, be a folder and be readable: a missing
/// mount point is a "could not verify", never an empty pass.
pub async fn open(root: &Path) -> Result<StoreTarget, TargetError> {
    let root: PathBuf = root.to_path_buf();
    let checked = root.clone();
    tokio::task::spawn_blocking(move || check_root(&checked))
        .await
        .map_err(|e| TargetError::new(ErrorKind::Other, e.to_string()))??;
    let fs = LocalFileSystem::new_with_prefix(&root).map_err(|e| {
        TargetError::new(
            ErrorKind::Other,
            format!("cannot open {}: {e}", root.display()),
        )
    })?;
    Ok(StoreTarget::new(
        format!("file://{}", root.display()),
        Arc::new(fs),
        None,
        1,
    ))
}

fn check_root(root: &Path) -> Result<(), TargetError> {
    let shown = root.display();
    let meta = std::fs::metadata(root).map_err(|e| {
        let kind = io_kind(&e);
        let msg = match kind {
            ErrorKind::NotFound => {
                format!("folder {shown} does not exist (is the disk or share mounted?)")
            }
            ErrorKind::PermissionDenied => format!("permission denied on folder {shown}"),
            _ => format!("cannot open folder {shown}: {e}"),
        };
        TargetError::new(kind, msg)
    })?;
    if !meta.is_dir() {
        return Err(TargetError::new(
            ErrorKind::NotFound,
            format!("{shown} is not a folder"),
        ));
    }
    std::fs::read_dir(root)
        .map_err(|e| TargetError::new(io_kind(&e), format!("cannot read folder {shown}: {e}")))?;
    Ok(())
}

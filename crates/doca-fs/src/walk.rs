//! A walk over a tree inside a root, parents before children, in name order: each entry is
//! reached by name from its parent's descriptor and never followed, so a container renaming
//! directories or swapping them for symlinks meanwhile cannot lead the walk out of the tree.

use crate::{Dir, Entry, FsError, Kind};

/// Calls `visit` for every entry below `dir`. Entries that disappear while the walk runs
/// (a running container) are skipped.
pub fn walk<E: From<FsError>>(dir: &Dir, visit: &mut dyn FnMut(&Entry) -> Result<(), E>) -> Result<(), E> {
    for name in dir.names()? {
        let Some(entry) = dir.entry(&name)? else { continue };
        visit(&entry)?;
        if entry.kind() == Kind::Dir {
            match entry.open_dir() {
                Ok(sub) => walk(&sub, visit)?,
                Err(FsError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

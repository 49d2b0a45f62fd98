//! Private scratch directories under `<run-root>/tmp` for untrusted input that must be
//! unpacked before it is used (`cp -` archives, API build contexts): root's alone (0700), and
//! removed when dropped.

use crate::EngineError;
use std::path::{Path, PathBuf};

pub(crate) struct Staging(pub PathBuf);

impl Staging {
    pub(crate) fn new(run_root: &Path, prefix: &str) -> Result<Staging, EngineError> {
        use std::os::unix::fs::DirBuilderExt;
        let parent = run_root.join("tmp");
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&parent).map_err(EngineError::io("create", &parent))?;
        let dir = parent.join(format!("{prefix}-{}", crate::containers::ContainerId::random()?.short()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(EngineError::io("create", &dir))?;
        Ok(Staging(dir))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Unpacks an untrusted tar stream into `dst` (a fresh staging directory). Every entry must
/// stay inside: a path that climbs out (`..` above the top) is refused, as docker's
/// archive.Unpack refuses a breakout, rather than skipped; tar's own checks refuse links and
/// entries that lead out through a symlink the archive planted. `what` names the archive in
/// messages ("the archive", "the build context").
pub(crate) fn unpack_untrusted(input: &mut dyn std::io::Read, dst: &Path, keep_owner: bool, what: &str) -> Result<(), EngineError> {
    let bad = |e: std::io::Error| {
        // tar names the entry; its cause (an entry leading outside, a bad header) is below.
        let cause = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
        EngineError::InvalidArgument(format!("extract {what}: {e}{cause}"))
    };
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(keep_owner);
    archive.set_unpack_xattrs(false);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let mut depth = 0i32;
        for c in path.components() {
            match c {
                std::path::Component::ParentDir => depth -= 1,
                std::path::Component::Normal(_) => depth += 1,
                _ => {}
            }
            if depth < 0 {
                return Err(EngineError::InvalidArgument(format!(
                    "extract {what}: {:?} is outside of the destination",
                    path.display().to_string()
                )));
            }
        }
        if !entry.unpack_in(dst).map_err(bad)? {
            return Err(EngineError::InvalidArgument(format!(
                "extract {what}: {:?} is outside of the destination",
                path.display().to_string()
            )));
        }
    }
    Ok(())
}

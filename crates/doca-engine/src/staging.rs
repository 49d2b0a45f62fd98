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

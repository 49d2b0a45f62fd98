//! A container's root filesystem: overlayfs with the image's snapshots as read-only lower
//! layers (top first) and the container's own upper and work directories. The writable layer is
//! the container's volatile filesystem; removing the container removes it.

use crate::{Engine, EngineError};
use std::path::{Path, PathBuf};

/// A mounted container rootfs.
#[derive(Debug)]
pub struct Rootfs {
    pub merged: PathBuf,
    pub upper: PathBuf,
}

fn lower_dirs(dirs: &[PathBuf]) -> String {
    dirs.iter().map(|d| d.display().to_string().replace(':', "\\:")).collect::<Vec<_>>().join(":")
}

impl Engine {
    /// Mounts `image`'s layers with a fresh writable layer in `dir` (`upper/`, `work/`,
    /// `merged/`). An image of one layer still gets an overlay, so every container writes only
    /// to its own upper directory.
    pub fn mount_rootfs(&mut self, image: &doca_store::Digest, dir: &Path) -> Result<Rootfs, EngineError> {
        let layers = self.store.db.read(|tx| tx.layers(image))?;
        if layers.is_empty() {
            return Err(EngineError::InvalidArgument(format!("image {image} has no layers")));
        }
        let lowers: Vec<PathBuf> = layers.iter().rev().map(|l| self.store.snapshots.path(&l.chain_id)).collect();
        for l in &lowers {
            if !l.is_dir() {
                return Err(EngineError::InvalidArgument(format!(
                    "image {image}: snapshot {} is missing (run `doca system check`)",
                    l.display()
                )));
            }
        }
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).map_err(|e| EngineError::InvalidArgument(format!("create {}: {e}", d.display())))?;
        }
        // The upper directory's root is the container's "/" (overlayfs takes the root's
        // attributes from the upper layer): 0755, so that every user of the container reaches
        // its files. Above it, the container's directory stays root's alone.
        std::fs::set_permissions(&upper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(|e| EngineError::InvalidArgument(format!("chmod {}: {e}", upper.display())))?;
        let data = format!("lowerdir={},upperdir={},workdir={}", lower_dirs(&lowers), upper.display(), work.display());
        // mount(2) takes one page of options (overlayfs.rst): with very many layers, docker's
        // overlay2 shortens the paths; doca says so rather than failing obscurely.
        if data.len() >= 4096 {
            return Err(EngineError::InvalidArgument(format!("image {image}: {} layers do not fit in one overlay mount", lowers.len())));
        }
        nix::mount::mount(Some("overlay"), &merged, Some("overlay"), nix::mount::MsFlags::empty(), Some(data.as_str()))
            .map_err(|e| EngineError::InvalidArgument(format!("mount overlay on {}: {}", merged.display(), e.desc().to_lowercase())))?;
        Ok(Rootfs { merged, upper })
    }
}

impl Rootfs {
    pub fn unmount(&self) -> Result<(), EngineError> {
        match nix::mount::umount2(&self.merged, nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()),
            Err(e) => Err(EngineError::InvalidArgument(format!("unmount {}: {}", self.merged.display(), e.desc().to_lowercase()))),
        }
    }
}

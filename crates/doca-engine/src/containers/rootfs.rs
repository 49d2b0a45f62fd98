//! A container's root filesystem: overlayfs with the image's snapshots as read-only lower
//! layers (top first) and the container's own upper and work directories. The writable layer is
//! the container's volatile filesystem; removing the container removes it. A container (not a
//! build step) also gets docker's init layer between the image and its writable layer.

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

/// What docker's init layer holds (moby daemon/initlayer/setup_unix.go), made only where the
/// image has nothing at that path: `/.dockerenv`, by which tools tell they run in a container,
/// `/etc/mtab` as a link to `/proc/mounts`, and the mount points the runtime and the engine
/// mount over (so that they never appear in the writable layer: `diff` and `commit` leave
/// them out as docker's do, `export` has them as docker's has).
#[derive(Debug, Clone, Copy)]
enum InitEntry {
    Dir,
    File,
    Link(&'static str),
}

const INIT_LAYER: [(&str, InitEntry); 10] = [
    ("dev/pts", InitEntry::Dir),
    ("dev/shm", InitEntry::Dir),
    ("proc", InitEntry::Dir),
    ("sys", InitEntry::Dir),
    (".dockerenv", InitEntry::File),
    ("etc/resolv.conf", InitEntry::File),
    ("etc/hosts", InitEntry::File),
    ("etc/hostname", InitEntry::File),
    ("dev/console", InitEntry::File),
    ("etc/mtab", InitEntry::Link("/proc/mounts")),
];

/// The init layer of a container whose directory is `dir`, over the image layers `lowers` (top
/// first): `dir/init`, made once (in a temp directory renamed into place, so a killed start
/// leaves no half layer). Its directories take the modes and owners the image's have; a path
/// below something that is not a directory in the image is left alone (a directory here would
/// hide the image's symlink).
fn init_layer(lowers: &[PathBuf], dir: &Path) -> Result<PathBuf, EngineError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let init = dir.join("init");
    if init.is_dir() {
        return Ok(init);
    }
    let tmp = dir.join("init.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let roots: Vec<doca_fs::Root> = lowers.iter().map(|l| doca_fs::Root::open(l)).collect::<Result<_, _>>()?;
    // The topmost layer's entry at `rel` (a whiteout counts as something there).
    let in_image = |rel: &Path| roots.iter().find_map(|r| r.resolve(rel, false).ok());
    let mkdir = |p: &Path, mode: u32, owner: Option<(u32, u32)>| -> Result<(), EngineError> {
        if p.exists() {
            return Ok(());
        }
        std::fs::DirBuilder::new().mode(mode).create(p).map_err(EngineError::io("create", p))?;
        // Explicitly: doca's umask (0077) must not narrow what every user of the container reads.
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(EngineError::io("chmod", p))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(p, Some(uid), Some(gid)).map_err(EngineError::io("chown", p))?;
        }
        Ok(())
    };
    mkdir(&tmp, 0o755, None)?;
    'paths: for (path, entry) in INIT_LAYER {
        let rel = Path::new(path);
        if in_image(rel).is_some() {
            continue;
        }
        let parents: Vec<&Path> = rel.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()).collect();
        for parent in parents.into_iter().rev() {
            match in_image(parent) {
                Some(e) if e.kind() != doca_fs::Kind::Dir => continue 'paths,
                Some(e) => mkdir(&tmp.join(parent), e.stat().st_mode & 0o7777, Some((e.stat().st_uid, e.stat().st_gid)))?,
                None => mkdir(&tmp.join(parent), 0o755, None)?,
            }
        }
        let target = tmp.join(rel);
        match entry {
            InitEntry::Dir => mkdir(&target, 0o755, None)?,
            // docker creates these files 0755 (os.OpenFile(..., O_CREATE, 0755)).
            InitEntry::File => std::fs::File::create(&target)
                .and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(0o755)))
                .map_err(EngineError::io("create", &target))?,
            InitEntry::Link(to) => std::os::unix::fs::symlink(to, &target).map_err(EngineError::io("create", &target))?,
        }
    }
    std::fs::rename(&tmp, &init).map_err(EngineError::io("rename", &tmp))?;
    Ok(init)
}

impl Engine {
    /// A container's rootfs: its image, docker's init layer, its own writable layer.
    pub fn mount_container_rootfs(&mut self, image: &doca_store::Digest, dir: &Path) -> Result<Rootfs, EngineError> {
        self.mount_layers(image, dir, true)
    }

    /// Mounts `image`'s layers with a fresh writable layer in `dir` (`upper/`, `work/`,
    /// `merged/`), as a build step runs on them. An image of one layer still gets an overlay,
    /// so every container writes only to its own upper directory.
    pub fn mount_rootfs(&mut self, image: &doca_store::Digest, dir: &Path) -> Result<Rootfs, EngineError> {
        self.mount_layers(image, dir, false)
    }

    fn mount_layers(&mut self, image: &doca_store::Digest, dir: &Path, with_init: bool) -> Result<Rootfs, EngineError> {
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
        let mut lowers = lowers;
        if with_init {
            lowers.insert(0, init_layer(&lowers, dir)?);
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

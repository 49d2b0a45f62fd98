//! A container's root filesystem: overlayfs with the image's snapshots as read-only lower
//! layers (top first) and the container's own upper and work directories. The writable layer is
//! the container's volatile filesystem; removing the container removes it. A container (not a
//! build step) also gets docker's init layer between the image and its writable layer.

use super::keepid::KeepId;
use crate::{Engine, EngineError};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// How the owners of a rootfs's files are seen.
#[derive(Clone, Copy)]
pub(crate) enum Ids<'a> {
    /// As they are on disk.
    Disk,
    /// Through a user namespace's map: each layer idmapped by the kernel (root's
    /// `--userns=auto`, userns.rs).
    Idmapped(&'a OwnedFd),
    /// Through a keep-id container's map, by fuse-overlayfs (keepid.rs).
    KeepId(&'a KeepId),
}

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
fn init_layer(lowers: &[PathBuf], dir: &Path, targets: &[(String, InitEntry)]) -> Result<PathBuf, EngineError> {
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
    let extra = targets.iter().map(|(p, e)| (p.trim_start_matches('/'), *e));
    'paths: for (path, entry) in INIT_LAYER.into_iter().chain(extra) {
        let rel = Path::new(path);
        if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            continue;
        }
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

/// What the runtime mounts over in a container with a user namespace: made in its init layer
/// (owned as the image's parents are, root's otherwise), because the runtime, which would
/// create a missing one, writes as the host's root, whom the container's idmapped writable
/// layer records as an id the container does not have.
fn mount_targets(c: &super::Container) -> Vec<(String, InitEntry)> {
    use super::mounts::MountKind;
    let mut out = Vec::new();
    for m in &c.config.mounts {
        let file = m.kind == MountKind::Bind && std::fs::metadata(&m.source).is_ok_and(|md| !md.is_dir());
        out.push((m.target.clone(), if file { InitEntry::File } else { InitEntry::Dir }));
    }
    out.extend(c.config.tmpfs.keys().map(|t| (t.clone(), InitEntry::Dir)));
    out.extend(c.config.files.iter().map(|f| (f.target.clone(), InitEntry::File)));
    if c.config.init {
        out.push((super::spec::INIT_PATH.to_string(), InitEntry::File));
    }
    out
}

impl Engine {
    /// A container's rootfs: its image, docker's init layer, its own writable layer, as the
    /// files are on disk (what `cp`, `diff` and `export` of a stopped container read).
    pub fn mount_container_rootfs(&mut self, c: &super::Container) -> Result<Rootfs, EngineError> {
        self.mount_container_rootfs_as(c, Ids::Disk)
    }

    /// The same rootfs seen through the container's user namespace (`ids`): every layer, and
    /// the writable one, idmapped (`userns::mount_userns`) or mapped by fuse-overlayfs (keep-id),
    /// so the container's root owns what the image's root owns, and what it writes is stored
    /// under its own ids.
    pub(crate) fn mount_container_rootfs_as(&mut self, c: &super::Container, ids: Ids<'_>) -> Result<Rootfs, EngineError> {
        let dir = self.container_paths(&c.id).dir;
        let targets = if c.config.id_map.is_some() { mount_targets(c) } else { Vec::new() };
        self.mount_layers(&c.image_id, &dir, Some(&targets), ids)
    }

    /// Mounts `image`'s layers with a fresh writable layer in `dir` (`upper/`, `work/`,
    /// `merged/`), as a build step runs on them. An image of one layer still gets an overlay,
    /// so every container writes only to its own upper directory.
    pub fn mount_rootfs(&mut self, image: &doca_store::Digest, dir: &Path) -> Result<Rootfs, EngineError> {
        self.mount_layers(image, dir, None, Ids::Disk)
    }

    /// The overlay of `image`'s layers (with the init layer and its extra mount targets when
    /// `init` is given) and `dir`'s writable layer, its owners seen as `ids` says.
    fn mount_layers(
        &mut self,
        image: &doca_store::Digest,
        dir: &Path,
        init: Option<&[(String, InitEntry)]>,
        ids: Ids<'_>,
    ) -> Result<Rootfs, EngineError> {
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
        if let Some(targets) = init {
            lowers.insert(0, init_layer(&lowers, dir, targets)?);
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
        let keep_id = match ids {
            Ids::KeepId(k) => Some(k),
            _ => None,
        };
        let program = mount_program(keep_id.is_some())?;
        // Through a user namespace's map: each layer and the directory holding the writable
        // layer and its work directory (which overlayfs wants on one mount) idmapped at
        // `dir/idmap/`, the overlay made of those, then they are detached (the overlay holds
        // its layers).
        let (lowers, rw) = match ids {
            Ids::Disk | Ids::KeepId(_) => (lowers, dir.to_path_buf()),
            Ids::Idmapped(ns) => {
                let idmap = dir.join("idmap");
                detach_all(&idmap);
                let mut mapped = Vec::new();
                for (i, l) in lowers.iter().enumerate() {
                    let at = idmap.join(format!("l{i}"));
                    std::fs::create_dir_all(&at).map_err(EngineError::io("create", &at))?;
                    if let Err(e) = super::userns::mount_idmapped(l, &at, ns) {
                        detach_all(&idmap);
                        return Err(e);
                    }
                    mapped.push(at);
                }
                let at = idmap.join("rw");
                std::fs::create_dir_all(&at).map_err(EngineError::io("create", &at))?;
                if let Err(e) = super::userns::mount_idmapped(dir, &at, ns) {
                    detach_all(&idmap);
                    return Err(e);
                }
                (mapped, at)
            }
        };
        let (upper_dir, work_dir) = (rw.join("upper"), rw.join("work"));
        let layers = OverlayDirs { image, lowers: &lowers, upper: &upper_dir, work: &work_dir, merged: &merged };
        let mounted = match program {
            Some(program) => fuse_overlay(&program, &layers, keep_id),
            None => match kernel_overlay(&layers) {
                // The kernel refuses overlayfs in this user namespace (before Linux 5.11, or
                // a distribution's policy): fuse-overlayfs where it is installed.
                Err(e) if !doca_mount::userns::in_initial() => match crate::rootless::tool("fuse-overlayfs") {
                    Some(program) => fuse_overlay(&program, &layers, None),
                    None => Err(e),
                },
                r => r,
            },
        };
        if matches!(ids, Ids::Idmapped(_)) {
            detach_all(&dir.join("idmap"));
        }
        mounted?;
        Ok(Rootfs { merged, upper })
    }
}

/// The directories of one overlay mount.
struct OverlayDirs<'a> {
    image: &'a doca_store::Digest,
    lowers: &'a [PathBuf],
    upper: &'a Path,
    work: &'a Path,
    merged: &'a Path,
}

/// The FUSE program to mount overlays with: the configured `mount-program`, or, for a keep-id
/// container (whose map the kernel cannot give a filesystem it does not own), fuse-overlayfs.
/// None: the kernel's overlayfs.
pub(crate) fn mount_program(keep_id: bool) -> Result<Option<PathBuf>, EngineError> {
    if let Some(p) = super::userns::Settings::load()?.mount_program {
        return Ok(Some(p));
    }
    if !keep_id {
        return Ok(None);
    }
    crate::rootless::tool("fuse-overlayfs").map(Some).ok_or_else(|| {
        EngineError::InvalidArgument(
            "--userns=keep-id needs fuse-overlayfs (Debian's fuse-overlayfs package) to map the image's owners".into(),
        )
    })
}

/// The kernel's overlayfs.
fn kernel_overlay(d: &OverlayDirs<'_>) -> Result<(), EngineError> {
    let data = format!(
        "lowerdir={},upperdir={},workdir={}{}",
        lower_dirs(d.lowers),
        d.upper.display(),
        d.work.display(),
        doca_mount::userns::overlay_options()
    );
    // mount(2) takes one page of options (overlayfs.rst): with very many layers, docker's
    // overlay2 shortens the paths; doca says so rather than failing obscurely.
    if data.len() >= 4096 {
        return Err(EngineError::InvalidArgument(format!("image {}: {} layers do not fit in one overlay mount", d.image, d.lowers.len())));
    }
    nix::mount::mount(Some("overlay"), d.merged, Some("overlay"), nix::mount::MsFlags::empty(), Some(data.as_str()))
        .map_err(|e| EngineError::InvalidArgument(format!("mount overlay on {}: {}", d.merged.display(), e.desc().to_lowercase())))
}

/// fuse-overlayfs(1): the same layers, and with a keep-id map, owners shifted as its user
/// namespace shifts them back (`uidmapping=`, `gidmapping=`: keepid.rs). It reads the layers'
/// whiteouts and `user.overlay.opaque` as the kernel does, and marks opaque directories of the
/// upper layer with `user.fuseoverlayfs.opaque` (diff.rs reads both). The program returns
/// once the mount is made, leaving a daemon that ends when it is unmounted; its output goes to
/// a file, not a pipe the daemon would hold open.
fn fuse_overlay(program: &Path, d: &OverlayDirs<'_>, keep_id: Option<&KeepId>) -> Result<(), EngineError> {
    let mut opts = format!("lowerdir={},upperdir={},workdir={}", lower_dirs(d.lowers), d.upper.display(), d.work.display());
    if let Some(k) = keep_id {
        opts.push_str(&format!(
            ",uidmapping={},gidmapping={}",
            super::keepid::fuse_option(&k.uid_map),
            super::keepid::fuse_option(&k.gid_map)
        ));
    }
    // Beside the work directory (root's alone, as the container's directory is).
    let log_path = d.work.with_extension("fuse.log");
    let log = std::fs::File::create(&log_path).map_err(EngineError::io("create", &log_path))?;
    let status = std::process::Command::new(program)
        .arg("-o")
        .arg(&opts)
        .arg(d.merged)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .status()
        .map_err(|e| EngineError::InvalidArgument(format!("run {}: {e}", program.display())));
    let said = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    let status = status?;
    if status.success() {
        return Ok(());
    }
    // "unknown argument ignored" lines are its noise about the mount's flags.
    let said: Vec<&str> = said.lines().filter(|l| !l.starts_with("unknown argument ignored")).collect();
    Err(EngineError::InvalidArgument(format!("mount {} on {}: {}: {}", program.display(), d.merged.display(), status, said.join("; "))))
}

/// Detaches whatever is mounted on the entries of `dir` (idmapped layers and volumes): a
/// crashed start may have left some.
pub(crate) fn detach_all(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        // Stacked attachments come off one at a time.
        while nix::mount::umount2(&e.path(), nix::mount::MntFlags::MNT_DETACH).is_ok() {}
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

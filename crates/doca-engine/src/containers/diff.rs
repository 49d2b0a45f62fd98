//! `doca diff` and `doca export`: what a container changed (its overlay upper directory) and
//! its whole filesystem as a tar stream.
//!
//! A running container can replace any directory of its filesystem with a symlink at any
//! moment, so both walk with directory descriptors: every entry is opened relative to its
//! parent with O_NOFOLLOW, and no path is ever resolved on the host (docker's export chroots
//! into the rootfs for the same reason).

use crate::{Engine, EngineError};
use rustix::fs::FileType;
use std::io::Read;
use std::path::{Path, PathBuf};

/// docker's change kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Changed,
    Added,
    Deleted,
}

impl ChangeKind {
    pub fn letter(&self) -> char {
        match self {
            ChangeKind::Changed => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// Calls `visit` for every entry under `root` (a host directory doca owns: a mounted rootfs,
/// an upper directory), parents before children, in name order, through doca-fs.
fn walk(root: &Path, visit: &mut dyn FnMut(&doca_fs::Entry) -> Result<(), EngineError>) -> Result<(), EngineError> {
    let top = doca_fs::Root::open(root)?.resolve(Path::new("/"), true)?.open_dir()?;
    doca_fs::walk(&top, visit)
}

impl Engine {
    /// `doca diff`: every path of the writable layer, sorted; a whiteout is a deletion, a path
    /// that an image layer has too is a change, any other an addition.
    pub fn container_changes(&mut self, name: &str) -> Result<Vec<(ChangeKind, PathBuf)>, EngineError> {
        let c = self.container(name)?;
        let upper = self.container_paths(&c.id).dir.join("upper");
        let layers = self.store.db.read(|tx| tx.layers(&c.image_id))?;
        let lowers: Vec<PathBuf> = layers.iter().rev().map(|l| self.store.snapshots.path(&l.chain_id)).collect();
        let mut out = Vec::new();
        if !upper.is_dir() {
            return Ok(out);
        }
        let lowers: Vec<doca_fs::Root> = lowers.iter().map(|l| doca_fs::Root::open(l)).collect::<Result<_, _>>()?;
        walk(&upper, &mut |e| {
            let rel = e.path();
            if is_fuse_opaque_marker(e) {
                return Ok(());
            }
            let is_whiteout = is_whiteout(e);
            let in_image = lowers.iter().any(|l| l.resolve(rel, false).is_ok());
            let kind = if is_whiteout {
                ChangeKind::Deleted
            } else if in_image {
                ChangeKind::Changed
            } else {
                ChangeKind::Added
            };
            out.push((kind, rel.to_path_buf()));
            Ok(())
        })?;
        Ok(out)
    }

    /// `doca export`: the container's filesystem (image and changes) as a tar stream. A
    /// stopped container's filesystem is mounted for the time of the export.
    pub fn export_container(&mut self, name: &str, out: &mut dyn std::io::Write) -> Result<(), EngineError> {
        let c = self.container(name)?;
        let paths = self.container_paths(&c.id);
        let mounted_here = !c.state.status.is_live();
        if mounted_here {
            self.unmount_container(&c.id)?;
            self.mount_container_rootfs(&c)?;
        }
        // A running container with a user namespace has its rootfs idmapped.
        let ids = if mounted_here { None } else { self.seen_ids(&c)? };
        let result = write_tar(&paths.merged(), TarKind::Filesystem, None, ids, out);
        if mounted_here {
            self.unmount_container(&c.id)?;
        }
        result
    }
}

/// An overlay whiteout: a 0/0 character device (overlayfs.rst "whiteouts and opaque
/// directories").
fn is_whiteout(e: &doca_fs::Entry) -> bool {
    e.kind() == doca_fs::Kind::CharDevice && e.stat().st_rdev == 0
}

/// fuse-overlayfs's opaque markers in an upper layer it wrote, beside its xattr: a
/// `.wh..wh..opq` file and a `.wh..opq` whiteout.
fn is_fuse_opaque_marker(e: &doca_fs::Entry) -> bool {
    match e.path().file_name().and_then(|n| n.to_str()) {
        Some(".wh..wh..opq") => e.kind() == doca_fs::Kind::File,
        Some(".wh..opq") => is_whiteout(e),
        _ => false,
    }
}

/// fuse-overlayfs's opaque-directory attribute (its main.c `OPAQUE_XATTR`), where it may not
/// write `trusted.overlay.opaque`.
const FUSE_OPAQUE_XATTR: &str = "user.fuseoverlayfs.opaque";

/// What a tar of a directory is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TarKind<'a> {
    /// A whole filesystem (`export`).
    Filesystem,
    /// An overlay upper directory as an image layer (`commit`): whiteouts (0/0 character
    /// devices) become `.wh.NAME` files and opaque directories get `.wh..wh..opq`, the OCI
    /// layer format (image-spec layer.md "Whiteouts"); hard links stay links. The layers
    /// below it (top first) tell which opaque markers hide something (`write_tar`).
    Layer(&'a [PathBuf]),
}

/// `clamp`: no mtime later than this (a reproducible build's SOURCE_DATE_EPOCH).
/// `ids`: `root` is seen through a user namespace's id map (a running container's idmapped
/// or fuse-mapped rootfs): owners are written as the container's ids.
pub(crate) fn write_tar(
    root: &Path,
    kind: TarKind,
    clamp: Option<i64>,
    ids: Option<doca_fs::IdShift>,
    out: &mut dyn std::io::Write,
) -> Result<(), EngineError> {
    let owner = |uid: u32, gid: u32| ids.map_or((uid, gid), |m| doca_fs::IdShift { into: false, ..m }.owner(uid, gid));
    let mut b = tar::Builder::new(out);
    let werr = |e: std::io::Error| EngineError::Internal(format!("write the archive: {e}"));
    // (device, inode) → the first path archived: a file's other names are link entries, as
    // docker's archives keep them (an export once held each Debian perl link as a full copy).
    let mut links: std::collections::HashMap<(u64, u64), PathBuf> = std::collections::HashMap::new();
    let names = OwnerNames::of_host();
    let (layer, lowers) = match kind {
        TarKind::Layer(l) => (true, l.iter().map(|p| doca_fs::Root::open(p)).collect::<Result<Vec<_>, _>>()?),
        TarKind::Filesystem => (false, Vec::new()),
    };
    // An opaque marker is written once per directory, and only where the layers below have
    // something there to hide: fuse-overlayfs marks every directory it creates opaque (with
    // its xattr, a `.wh..wh..opq` file and a `.wh..opq` whiteout), the kernel only one made
    // where a deleted entry was; without it, the layer is the kernel's (and root's) byte for
    // byte, and means the same.
    let mut opaque_written: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let mut opaque = |b: &mut tar::Builder<&mut dyn std::io::Write>, dir: &Path| -> Result<(), EngineError> {
        let abs = Path::new("/").join(dir);
        let hides = lowers.iter().find_map(|l| l.resolve(&abs, false).ok()).is_some_and(|e| !is_whiteout(&e));
        if !hides || !opaque_written.insert(abs) {
            return Ok(());
        }
        let mut o = tar::Header::new_gnu();
        o.set_entry_type(tar::EntryType::Regular);
        o.set_mode(0o600);
        o.set_size(0);
        b.append_data(&mut o, dir.join(".wh..wh..opq"), std::io::empty()).map_err(werr)
    };
    walk(root, &mut |e| {
        let (rel, st) = (e.path(), e.stat());
        let name = rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let rel_name = rel.strip_prefix("/").unwrap_or(rel);
        let ft = FileType::from_raw_mode(st.st_mode);
        if layer && is_fuse_opaque_marker(e) {
            return opaque(&mut b, rel_name.parent().unwrap_or(Path::new("")));
        }
        if layer && is_whiteout(e) {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o600);
            h.set_size(0);
            let wh = rel_name.with_file_name(format!(".wh.{name}"));
            return b.append_data(&mut h, wh, std::io::empty()).map_err(werr);
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        let (uid, gid) = owner(st.st_uid, st.st_gid);
        h.set_uid(u64::from(uid));
        h.set_gid(u64::from(gid));
        names.label(&mut h, uid, gid);
        if ft == FileType::RegularFile && st.st_nlink > 1 {
            if let Some(first) = links.get(&(st.st_dev, st.st_ino)) {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                h.set_mtime(clamp.map_or(st.st_mtime, |c| st.st_mtime.min(c)).max(0) as u64);
                return b.append_link(&mut h, rel_name, first).map_err(werr);
            }
            links.insert((st.st_dev, st.st_ino), rel_name.to_path_buf());
        }
        h.set_mtime(clamp.map_or(st.st_mtime, |c| st.st_mtime.min(c)).max(0) as u64);
        h.set_size(0);
        match ft {
            FileType::Directory => {
                h.set_entry_type(tar::EntryType::Directory);
                // Directories are named with a trailing slash, as docker's and GNU tar's are.
                let dir_name = format!("{}/", rel_name.display());
                b.append_data(&mut h, &dir_name, std::io::empty()).map_err(werr)?;
                // The kernel's marker, or fuse-overlayfs's (rootfs.rs) in an upper layer it wrote.
                let marked = |x: &str| e.xattr(x).as_deref() == Some(b"y");
                if layer && (marked(doca_mount::userns::overlay_opaque_xattr()) || marked(FUSE_OPAQUE_XATTR)) {
                    opaque(&mut b, rel_name)?;
                }
            }
            FileType::RegularFile => {
                let f = match e.open_file() {
                    Ok(f) => f,
                    Err(doca_fs::FsError::NotFound(_)) => return Ok(()),
                    Err(e) => return Err(e.into()),
                };
                // The size of what is read, not of the stat: a growing file is cut there.
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(st.st_size as u64);
                b.append_data(&mut h, rel_name, f.take(st.st_size as u64).chain(std::io::repeat(0)).take(st.st_size as u64))
                    .map_err(werr)?;
            }
            FileType::Symlink => {
                let target = e.readlink()?;
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, rel_name, target.to_string_lossy().as_ref()).map_err(werr)?;
            }
            kind @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                h.set_entry_type(match kind {
                    FileType::CharacterDevice => tar::EntryType::Char,
                    FileType::BlockDevice => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                });
                h.set_device_major(rustix::fs::major(st.st_rdev)).map_err(werr)?;
                h.set_device_minor(rustix::fs::minor(st.st_rdev)).map_err(werr)?;
                b.append_data(&mut h, rel_name, std::io::empty()).map_err(werr)?;
            }
            // Sockets do not go into archives (tar(1) skips them too).
            _ => {}
        }
        Ok(())
    })?;
    b.finish().map_err(werr)
}

/// Owner names for archive headers, as docker's archives carry them (Go's tar.FileInfoHeader
/// looks the ids up on the host): read once from the host's /etc/passwd and /etc/group.
struct OwnerNames {
    users: std::collections::HashMap<u32, String>,
    groups: std::collections::HashMap<u32, String>,
}

impl OwnerNames {
    fn of_host() -> OwnerNames {
        let read = |path: &str| -> std::collections::HashMap<u32, String> {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    let id = f.nth(1)?.parse().ok()?;
                    Some((id, name.to_string()))
                })
                .collect()
        };
        OwnerNames { users: read("/etc/passwd"), groups: read("/etc/group") }
    }

    fn label(&self, h: &mut tar::Header, uid: u32, gid: u32) {
        // Names longer than the header's 32 bytes are left out, as Go leaves them unset.
        if let Some(u) = self.users.get(&uid) {
            let _ = h.set_username(u);
        }
        if let Some(g) = self.groups.get(&gid) {
            let _ = h.set_groupname(g);
        }
    }
}

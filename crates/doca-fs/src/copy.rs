//! Copies a tree from one root into another, on descriptors at both ends: what is read is
//! what was type-checked, what is written is created with `O_EXCL | O_NOFOLLOW` below
//! directories opened with `O_NOFOLLOW`.

use crate::{finish, Dir, Entry, FsError, Kind, Result};
use std::ffi::OsStr;
use std::os::fd::AsFd;

#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// Keep owners (docker cp's `-a`; a volume's copy-up); else the copier's (root).
    pub owner: bool,
    /// Create character and block devices. Off when copying out of a container: a device node
    /// a container made (any major and minor, any mode) must not appear on the host, where a
    /// local user could open it outside the container's device cgroup.
    pub devices: bool,
    /// The destination is a container's: refuse to write into its /proc, /sys and the like,
    /// where a write as host root sets the host kernel's state.
    pub confined_dest: bool,
    /// The container's side is seen through its user namespace's id map (its idmapped
    /// rootfs): owners move between the container's ids and the host's on the way.
    pub ids: Option<IdShift>,
}

/// A container's ids on the host: its id N is `uid + N` (gids: `gid + N`), for N < `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdShift {
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
    /// Copying into the container (else out of it).
    pub into: bool,
}

impl IdShift {
    /// `uid`:`gid` moved to the other side: into the container, a container id to its host id;
    /// out, a host id to the container's. The overflow id (65534) for what the container's map
    /// does not cover, as the kernel shows it.
    pub fn owner(&self, uid: u32, gid: u32) -> (u32, u32) {
        let shift = |id: u32, base: u32| match self.into {
            true if id < self.size => base + id,
            true => base + 65534.min(self.size - 1),
            false if id >= base && id - base < self.size => id - base,
            false => 65534,
        };
        (shift(uid, self.uid), shift(gid, self.gid))
    }
}

/// The owner to give a copy of a file owned by `uid`:`gid`, or None to leave the copier's.
fn owner(uid: u32, gid: u32, opts: CopyOptions) -> Option<(u32, u32)> {
    match (opts.owner, opts.ids) {
        (true, None) => Some((uid, gid)),
        (true, Some(m)) => Some(m.owner(uid, gid)),
        // The copier's owner is root: the container's root, into a container.
        (false, Some(m)) if m.into => Some((m.uid, m.gid)),
        (false, _) => None,
    }
}

/// Copies every entry of directory `src` into `dst` (docker's `SRC/.`).
pub fn copy_contents(src: &Entry, dst: &Dir, opts: CopyOptions) -> Result<()> {
    let from = src.open_dir()?;
    for n in from.names()? {
        if let Some(e) = from.entry(&n)? {
            copy(&e, dst, &n, opts)?;
        }
    }
    Ok(())
}

/// Copies `src` to `name` in `dst`: directories recursively (merged into an existing one),
/// files, symlinks (as links), FIFOs and (with `devices`) device nodes; modes and times kept.
/// Sockets are not copied (tar(1) skips them too).
pub fn copy(src: &Entry, dst: &Dir, name: &OsStr, opts: CopyOptions) -> Result<()> {
    if opts.confined_dest {
        dst.check_writable()?;
    }
    let st = src.stat();
    match src.kind() {
        Kind::Dir => {
            let to = dst.mkdir(name, 0o700)?;
            copy_contents(src, &to, opts)?;
            to.finish(st, owner(st.st_uid, st.st_gid, opts))
        }
        Kind::File => {
            let mut from = src.open_file()?;
            dst.remove_nondir(name)?;
            let mut to = dst.create_file(name, 0o600)?;
            let path = dst.path().join(name);
            std::io::copy(&mut from, &mut to).map_err(|source| FsError::Write { path: path.clone(), source })?;
            finish(to.as_fd(), st, owner(st.st_uid, st.st_gid, opts), &path)
        }
        Kind::Symlink => {
            let target = src.readlink()?;
            dst.remove_nondir(name)?;
            dst.symlink(name, &target)?;
            if let Some((u, g)) = owner(st.st_uid, st.st_gid, opts) {
                dst.chown(name, u, g)?;
            }
            Ok(())
        }
        Kind::CharDevice | Kind::BlockDevice if !opts.devices => Ok(()),
        kind @ (Kind::Fifo | Kind::CharDevice | Kind::BlockDevice) => {
            dst.remove_nondir(name)?;
            dst.mknod(name, kind, st.st_mode & 0o7777, st.st_rdev)?;
            if let Some((u, g)) = owner(st.st_uid, st.st_gid, opts) {
                dst.chown(name, u, g)?;
            }
            Ok(())
        }
        Kind::Socket => Ok(()),
    }
}

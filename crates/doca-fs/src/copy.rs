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
            to.finish(st, opts.owner)
        }
        Kind::File => {
            let mut from = src.open_file()?;
            dst.remove_nondir(name)?;
            let mut to = dst.create_file(name, 0o600)?;
            let path = dst.path().join(name);
            std::io::copy(&mut from, &mut to).map_err(|source| FsError::Write { path: path.clone(), source })?;
            finish(to.as_fd(), st, opts.owner, &path)
        }
        Kind::Symlink => {
            let target = src.readlink()?;
            dst.remove_nondir(name)?;
            dst.symlink(name, &target)?;
            if opts.owner {
                dst.chown(name, st.st_uid, st.st_gid)?;
            }
            Ok(())
        }
        Kind::CharDevice | Kind::BlockDevice if !opts.devices => Ok(()),
        kind @ (Kind::Fifo | Kind::CharDevice | Kind::BlockDevice) => {
            dst.remove_nondir(name)?;
            dst.mknod(name, kind, st.st_mode & 0o7777, st.st_rdev)?;
            if opts.owner {
                dst.chown(name, st.st_uid, st.st_gid)?;
            }
            Ok(())
        }
        Kind::Socket => Ok(()),
    }
}

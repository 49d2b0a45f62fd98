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

/// One run of a user namespace's map: the container's ids `inside..inside + size` are
/// `outside..outside + size` where the copier sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub size: u32,
}

/// At most this many runs per map: a range of its own is one (`--userns=auto`), a rootless
/// keep-id map three.
pub const MAX_RANGES: usize = 3;

/// A container's ids as the copier sees them (through an idmapped or fuse-mapped rootfs), for
/// owners to move between the two sides on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdShift {
    pub uids: [IdRange; MAX_RANGES],
    pub gids: [IdRange; MAX_RANGES],
    /// Copying into the container (else out of it).
    pub into: bool,
}

impl IdShift {
    /// One range: the container's id N is `uid + N` (gids: `gid + N`), for N < `size`.
    pub fn range(uid: u32, gid: u32, size: u32, into: bool) -> IdShift {
        let one = |outside| {
            let mut r = [IdRange::default(); MAX_RANGES];
            r[0] = IdRange { inside: 0, outside, size };
            r
        };
        IdShift { uids: one(uid), gids: one(gid), into }
    }

    /// The runs of a map (at most `MAX_RANGES`; None for more).
    pub fn ranges(uids: &[IdRange], gids: &[IdRange], into: bool) -> Option<IdShift> {
        let fill = |from: &[IdRange]| {
            let mut r = [IdRange::default(); MAX_RANGES];
            (from.len() <= MAX_RANGES).then(|| {
                r[..from.len()].copy_from_slice(from);
                r
            })
        };
        Some(IdShift { uids: fill(uids)?, gids: fill(gids)?, into })
    }

    /// `uid`:`gid` moved to the other side: into the container, a container id to the id the
    /// copier sees; out, the other way. The overflow id (65534) for what the map does not
    /// cover, as the kernel shows it.
    pub fn owner(&self, uid: u32, gid: u32) -> (u32, u32) {
        // Unused runs have size 0 and match nothing (called for every file copied: nothing
        // is allocated).
        let to_outside =
            |rs: &[IdRange], id: u32| rs.iter().find(|r| id >= r.inside && id - r.inside < r.size).map(|r| r.outside + (id - r.inside));
        let to_inside =
            |rs: &[IdRange], id: u32| rs.iter().find(|r| id >= r.outside && id - r.outside < r.size).map(|r| r.inside + (id - r.outside));
        let shift = |rs: &[IdRange], id: u32| match self.into {
            // An id the container has not: its overflow id, else its first.
            true => to_outside(rs, id)
                .or_else(|| to_outside(rs, 65534))
                .unwrap_or_else(|| rs.iter().find(|r| r.size > 0).map_or(id, |r| r.outside)),
            false => to_inside(rs, id).unwrap_or(65534),
        };
        (shift(&self.uids, uid), shift(&self.gids, gid))
    }
}

/// The owner to give a copy of a file owned by `uid`:`gid`, or None to leave the copier's.
fn owner(uid: u32, gid: u32, opts: CopyOptions) -> Option<(u32, u32)> {
    match (opts.owner, opts.ids) {
        (true, None) => Some((uid, gid)),
        (true, Some(m)) => Some(m.owner(uid, gid)),
        // The copier's owner is root: the container's root, into a container.
        (false, Some(m)) if m.into => Some(m.owner(0, 0)),
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

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn owners_move_through_every_run_of_a_map() {
        // A range of its own: container N is 100000 + N.
        let auto = IdShift::range(100000, 200000, 65536, true);
        assert_eq!(auto.owner(0, 5), (100000, 200005));
        assert_eq!(auto.owner(70000, 70000), (100000 + 65534, 200000 + 65534), "beyond the map: the overflow id");
        assert_eq!(IdShift { into: false, ..auto }.owner(100007, 7), (7, 65534));
        // keep-id for uid 1001: container 0..1001 are 1..1002, 1001 is 0, the rest in place.
        let runs = [
            IdRange { inside: 0, outside: 1, size: 1001 },
            IdRange { inside: 1001, outside: 0, size: 1 },
            IdRange { inside: 1002, outside: 1002, size: 64535 },
        ];
        let keep = IdShift::ranges(&runs, &runs, false).unwrap();
        assert_eq!(keep.owner(1, 0), (0, 1001));
        assert_eq!(keep.owner(1002, 5000), (1002, 5000));
        assert_eq!(IdShift { into: true, ..keep }.owner(0, 1001), (1, 0));
        assert!(IdShift::ranges(&[IdRange::default(); 4], &runs, true).is_none());
    }
}

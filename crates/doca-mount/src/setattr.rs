//! mount_setattr(2) (Linux 5.12), which neither rustix nor nix wraps yet: a detached or
//! attached mount made read-only recursively, or idmapped through a user namespace.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};

/// `struct mount_attr` (include/uapi/linux/mount.h).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

fn setattr(fd: BorrowedFd<'_>, flags: i32, attr: &MountAttr) -> std::io::Result<()> {
    // SAFETY: mount_setattr reads `attr`, whose size is given, for the mount `fd` refers to
    // (an empty path with AT_EMPTY_PATH); nothing is written back.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The mount and every mount below it read-only (MOUNT_ATTR_RDONLY with AT_RECURSIVE).
pub fn recursive_read_only(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    setattr(fd, libc::AT_RECURSIVE, &MountAttr { attr_set: MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 })
}

/// A detached mount (open_tree(2) with OPEN_TREE_CLONE) idmapped through `userns`'s id maps:
/// a file's owner on disk is read as the id `userns` maps it to, and a writer's id is written
/// back as the one it maps from (mount_setattr(2), "ID-mapped mounts").
pub fn idmap(fd: BorrowedFd<'_>, userns: BorrowedFd<'_>) -> std::io::Result<()> {
    setattr(fd, 0, &MountAttr { attr_set: MOUNT_ATTR_IDMAP, attr_clr: 0, propagation: 0, userns_fd: userns.as_raw_fd() as u64 })
}

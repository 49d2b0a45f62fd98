//! The container's filesystem, set up inside its new mount namespace before the process runs:
//! propagation, the spec's mounts, the default devices, pivot_root, masked and read-only paths.
//!
//! Mount targets are resolved inside the rootfs as if it were `/` (symlinks included, never
//! leaving it: securejoin semantics), then opened O_PATH|O_NOFOLLOW and checked through
//! /proc/self/fd before mounting onto that descriptor, so a symlink swapped in between cannot
//! redirect a mount to the host (CVE-2019-19921, CVE-2021-30465).

use crate::cgroups::Cgroup;
use crate::error::{Result, RuntimeError};
pub use doca_mount::{parse_options, MountOptions};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{mknod, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// Resolves `unsafe_path` inside `root` as if `root` were `/`: `..` stops at the root and
/// symlinks are followed within it.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> Result<PathBuf> {
    let mut resolved = PathBuf::new();
    let mut todo: std::collections::VecDeque<std::ffi::OsString> = unsafe_path.components().filter_map(|c| comp(&c)).collect();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&c);
        let full = root.join(&candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(RuntimeError::Sys(format!(
                        "resolve {} in {}: too many levels of symbolic links",
                        unsafe_path.display(),
                        root.display()
                    )));
                }
                let target = std::fs::read_link(&full).map_err(RuntimeError::io("readlink", &full))?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                for (i, t) in target.components().filter_map(|c| comp(&c)).enumerate() {
                    todo.insert(i, t);
                }
            }
            _ => resolved = candidate,
        }
    }
    Ok(root.join(resolved))
}

fn comp(c: &Component) -> Option<std::ffi::OsString> {
    match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some("..".into()),
        _ => None,
    }
}

/// Opens a mount target and checks it is still inside the rootfs: the mount goes onto the
/// descriptor, not the path.
fn open_target(rootfs: &Path, target: &Path) -> Result<OwnedFd> {
    let fd =
        nix::fcntl::open(target, nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_CLOEXEC, Mode::empty())
            .map_err(RuntimeError::sys(format!("open mount target {}", target.display())))?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(RuntimeError::io("readlink", target))?;
    if !real.starts_with(rootfs) {
        return Err(RuntimeError::Sys(format!("mount target {} resolves to {} outside the rootfs", target.display(), real.display())));
    }
    Ok(fd)
}

fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Everything up to pivot_root. Runs in the container's mount namespace.
pub fn prepare(spec: &Spec, rootfs: &Path, cgroup: &Cgroup) -> Result<()> {
    let linux = spec.linux().as_ref();
    // Nothing we mount may propagate back to the host; runc's default is rslave.
    let prop = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        Some("shared") | Some("rshared") => MsFlags::MS_SHARED,
        Some("private") | Some("rprivate") => MsFlags::MS_PRIVATE,
        Some("unbindable") | Some("runbindable") => MsFlags::MS_UNBINDABLE,
        Some("slave") | Some("rslave") | None => MsFlags::MS_SLAVE,
        Some(other) => return Err(RuntimeError::Spec(format!("linux.rootfsPropagation: unknown value {other:?}"))),
    };
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | prop, None::<&str>).map_err(RuntimeError::sys("set propagation of /"))?;
    // pivot_root needs the new root to be a mount point.
    mount(Some(rootfs), rootfs, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(RuntimeError::sys(format!("bind {} onto itself", rootfs.display())))?;
    let mut dev_is_tmpfs = false;
    for m in spec.mounts().iter().flatten() {
        mount_one(rootfs, m, cgroup)?;
        if m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs") {
            dev_is_tmpfs = true;
        }
    }
    create_devices(rootfs, linux.and_then(|l| l.devices().as_ref()).map(|d| d.as_slice()).unwrap_or(&[]), dev_is_tmpfs)
}

/// Makes the rootfs `/`: pivot_root, or for ramfs roots MS_MOVE and chroot.
pub fn enter(rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        move_root(rootfs)
    } else {
        pivot(rootfs)
    }
}

fn mount_one(rootfs: &Path, m: &Mount, cgroup: &Cgroup) -> Result<()> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(RuntimeError::Spec(format!("mounts: destination {} is not absolute", dest.display())));
    }
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    let is_bind = opts.flags.contains(MsFlags::MS_BIND) || typ == "bind";
    let target = secure_join(rootfs, dest)?;
    let source = m.source().clone();
    // Create the target: a file for a bind mount of a file, else a directory.
    let src_is_file = is_bind && source.as_ref().and_then(|s| std::fs::metadata(s).ok()).is_some_and(|md| !md.is_dir());
    if src_is_file {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(RuntimeError::io("create mount target", parent))?;
        }
        if !target.exists() {
            std::fs::File::create(&target).map_err(RuntimeError::io("create mount target", &target))?;
        }
    } else {
        std::fs::create_dir_all(&target).map_err(RuntimeError::io("create mount target", &target))?;
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(rootfs, &target, &opts, cgroup);
    }
    let fd = open_target(rootfs, &target)?;
    let data = opts.data.join(",");
    let data = (!data.is_empty()).then_some(data.as_str());
    let what = format!("mount {} on {} ({typ})", source.as_deref().unwrap_or(Path::new("none")).display(), dest.display());
    if is_bind {
        let src = source.ok_or_else(|| RuntimeError::Spec(format!("mounts: bind mount on {} has no source", dest.display())))?;
        mount(Some(&src), fd_path(&fd).as_str(), None::<&str>, MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC), None::<&str>)
            .map_err(RuntimeError::sys(&what))?;
        // Bind mounts take their flags only on a remount (mount(2) "MS_REMOUNT | MS_BIND").
        let remount = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !remount.is_empty() {
            // `fd` still names the directory the bind now covers: open the new mount.
            let fd = open_target(rootfs, &target)?;
            mount(None::<&str>, fd_path(&fd).as_str(), None::<&str>, MsFlags::MS_REMOUNT | MsFlags::MS_BIND | remount, None::<&str>)
                .map_err(RuntimeError::sys(format!("remount {}", dest.display())))?;
        }
    } else {
        let flags = opts.flags & !MsFlags::MS_REMOUNT;
        match mount(source.as_deref().or(Some(Path::new(typ))), fd_path(&fd).as_str(), Some(typ), flags, data) {
            // A user namespace may mount sysfs only for a network namespace it owns; a container
            // that joins one made outside it (the engine's) gets the host's /sys, read-only, as
            // runc gives it (libcontainer/rootfs_linux.go, "sysfs" in a user namespace).
            Err(nix::Error::EPERM) if typ == "sysfs" && in_user_namespace() => {
                mount(Some("/sys"), fd_path(&fd).as_str(), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                    .map_err(RuntimeError::sys(format!("bind /sys on {}", dest.display())))?;
                let fd = open_target(rootfs, &target)?;
                recursive_read_only(&fd).map_err(|e| RuntimeError::Sys(format!("make {} read-only: {e}", dest.display())))?;
            }
            r => r.map_err(RuntimeError::sys(&what))?,
        }
    }
    if !opts.propagation.is_empty() {
        // The descriptor still names the covered directory; the new mount sits on the path.
        let fd = open_target(rootfs, &target)?;
        mount(None::<&str>, fd_path(&fd).as_str(), None::<&str>, opts.propagation, None::<&str>)
            .map_err(RuntimeError::sys(format!("set propagation of {}", dest.display())))?;
    }
    if opts.recursive_ro {
        let fd = open_target(rootfs, &target)?;
        recursive_read_only(&fd).map_err(|e| RuntimeError::Sys(format!("make {} recursively read-only: {e}", dest.display())))?;
    }
    Ok(())
}

/// Whether this process is in a user namespace other than the initial one (whose map is the
/// whole id space, user_namespaces(7)).
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

/// mount_setattr(2) with MOUNT_ATTR_RDONLY and AT_RECURSIVE (Linux 5.12+).
fn recursive_read_only(fd: &OwnedFd) -> std::io::Result<()> {
    doca_mount::setattr::recursive_read_only(fd.as_fd())
}

/// The container sees its own cgroup: a tmpfs with one bind mount per hierarchy of the
/// container's directories (v1), or the container's unified directory (v2 only hosts).
fn mount_cgroup(rootfs: &Path, target: &Path, opts: &MountOptions, cgroup: &Cgroup) -> Result<()> {
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    let bind_ro = |src: &Path, dst: &Path| -> Result<()> {
        let fd = open_target(rootfs, dst)?;
        mount(Some(src), fd_path(&fd).as_str(), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(RuntimeError::sys(format!("bind cgroup {}", src.display())))?;
        let extra = if ro { MsFlags::MS_RDONLY } else { MsFlags::empty() };
        let fd = open_target(rootfs, dst)?;
        mount(
            None::<&str>,
            fd_path(&fd).as_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | extra,
            None::<&str>,
        )
        .map_err(RuntimeError::sys(format!("remount cgroup {}", dst.display())))
    };
    if cgroup.dirs.iter().all(|(h, _)| h.v2) {
        if let Some((_, d)) = cgroup.dirs.first() {
            bind_ro(d, target)?;
        }
        return Ok(());
    }
    let fd = open_target(rootfs, target)?;
    mount(
        Some("tmpfs"),
        fd_path(&fd).as_str(),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )
    .map_err(RuntimeError::sys("mount tmpfs for cgroups"))?;
    for (h, dir) in &cgroup.dirs {
        let name = h.mountpoint.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let dst = target.join(&name);
        std::fs::create_dir_all(&dst).map_err(RuntimeError::io("create", &dst))?;
        bind_ro(dir, &dst)?;
        // "cpu,cpuacct" is also reachable as cpu and cpuacct, as on the host.
        let n = name.to_string_lossy();
        if n.contains(',') {
            for c in n.split(',') {
                let _ = symlink(&*n, target.join(c));
            }
        }
    }
    if ro {
        let fd = open_target(rootfs, target)?;
        mount(
            None::<&str>,
            fd_path(&fd).as_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(RuntimeError::sys("remount cgroup tmpfs read-only"))?;
    }
    Ok(())
}

fn create_devices(rootfs: &Path, devices: &[LinuxDevice], dev_is_tmpfs: bool) -> Result<()> {
    let mut all: Vec<(PathBuf, SFlag, u64, u64, u32, u32, u32)> = crate::devices::DEFAULT_DEVICES
        .iter()
        .map(|d| (PathBuf::from(d.path), SFlag::S_IFCHR, u64::from(d.major), u64::from(d.minor), 0o666, 0, 0))
        .collect();
    for d in devices {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(RuntimeError::Spec(format!(
                    "linux.devices: {} has type \"a\", which is only for cgroup rules",
                    d.path().display()
                )))
            }
        };
        if !d.path().starts_with("/dev") {
            return Err(RuntimeError::Spec(format!("linux.devices: {} is not under /dev", d.path().display())));
        }
        all.retain(|x| x.0 != *d.path());
        all.push((
            d.path().clone(),
            kind,
            d.major() as u64,
            d.minor() as u64,
            d.file_mode().unwrap_or(0o666),
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
        ));
    }
    for (path, kind, major, minor, mode, uid, gid) in all {
        let target = secure_join(rootfs, &path)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(RuntimeError::io("create", parent))?;
        }
        match std::fs::symlink_metadata(&target) {
            Ok(m) if m.rdev() == nix::sys::stat::makedev(major, minor) && !m.is_dir() => continue,
            Ok(_) => std::fs::remove_file(&target).map_err(RuntimeError::io("replace device", &target))?,
            Err(_) => {}
        }
        match mknod(&target, kind, Mode::from_bits_truncate(mode & 0o777), nix::sys::stat::makedev(major, minor)) {
            Ok(()) => {}
            // In a user namespace mknod(2) is not allowed: bind the host's node instead (runc
            // does the same). The node then keeps the host's owner and mode.
            Err(nix::Error::EPERM) if path.exists() => {
                std::fs::File::create(&target).map_err(RuntimeError::io("create device mount point", &target))?;
                let fd = open_target(rootfs, &target)?;
                mount(Some(&path), fd_path(&fd).as_str(), None::<&str>, MsFlags::MS_BIND, None::<&str>)
                    .map_err(RuntimeError::sys(format!("bind device {}", path.display())))?;
                continue;
            }
            Err(e) => return Err(RuntimeError::sys(format!("mknod {}", path.display()))(e)),
        }
        // mknod(2) applies the umask; the spec's mode is exact.
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            &target,
            Mode::from_bits_truncate(mode & 0o7777),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(RuntimeError::sys(format!("chmod {}", path.display())))?;
        nix::unistd::chown(&target, Some(uid.into()), Some(gid.into())).map_err(RuntimeError::sys(format!("chown {}", path.display())))?;
    }
    if dev_is_tmpfs {
        let dev = secure_join(rootfs, Path::new("/dev"))?;
        for (link, to) in
            [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")]
        {
            let _ = symlink(to, dev.join(link));
        }
        if dev.join("pts/ptmx").exists() || dev.join("pts").is_dir() {
            let _ = symlink("pts/ptmx", dev.join("ptmx"));
        }
        if Path::new("/proc/kcore").exists() {
            let _ = symlink("/proc/kcore", dev.join("core"));
        }
    }
    Ok(())
}

/// pivot_root(".", ".") then detach the old root from under us: runc's way, which needs no
/// directory for the old root inside the rootfs.
fn pivot(rootfs: &Path) -> Result<()> {
    let old =
        nix::fcntl::open("/", nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC, Mode::empty())
            .map_err(RuntimeError::sys("open /"))?;
    let new = nix::fcntl::open(
        rootfs,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RuntimeError::sys(format!("open {}", rootfs.display())))?;
    nix::unistd::fchdir(&new).map_err(RuntimeError::sys("chdir to rootfs"))?;
    nix::unistd::pivot_root(".", ".").map_err(RuntimeError::sys(format!("pivot_root {}", rootfs.display())))?;
    nix::unistd::fchdir(&old).map_err(RuntimeError::sys("chdir to old root"))?;
    // The old root must not propagate the unmount to the host.
    mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)
        .map_err(RuntimeError::sys("make old root rslave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(RuntimeError::sys("detach old root"))?;
    nix::unistd::chdir("/").map_err(RuntimeError::sys("chdir /"))?;
    Ok(())
}

/// For roots that cannot be pivoted (ramfs, initramfs): move the rootfs over / and chroot.
fn move_root(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).map_err(RuntimeError::sys("chdir to rootfs"))?;
    mount(Some(rootfs), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>).map_err(RuntimeError::sys("move rootfs to /"))?;
    nix::unistd::chroot(".").map_err(RuntimeError::sys("chroot"))?;
    nix::unistd::chdir("/").map_err(RuntimeError::sys("chdir /"))?;
    Ok(())
}

/// After pivot_root: maskedPaths, readonlyPaths and a read-only root.
pub fn finish(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    for p in linux.and_then(|l| l.masked_paths().as_ref()).into_iter().flatten() {
        match std::fs::metadata(p) {
            Err(_) => continue,
            Ok(m) if m.is_dir() => mount(Some("tmpfs"), p.as_str(), Some("tmpfs"), MsFlags::MS_RDONLY, None::<&str>)
                .map_err(RuntimeError::sys(format!("mask {p}")))?,
            Ok(_) => mount(Some("/dev/null"), p.as_str(), None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .map_err(RuntimeError::sys(format!("mask {p}")))?,
        }
    }
    for p in linux.and_then(|l| l.readonly_paths().as_ref()).into_iter().flatten() {
        if std::fs::symlink_metadata(p).is_err() {
            continue;
        }
        mount(Some(p.as_str()), p.as_str(), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(RuntimeError::sys(format!("bind {p} read-only")))?;
        mount(
            None::<&str>,
            p.as_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(RuntimeError::sys(format!("remount {p} read-only")))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY, None::<&str>)
            .map_err(RuntimeError::sys("remount / read-only"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_join_stays_inside() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../../../..", r.join("a/up")).unwrap();
        symlink("b", r.join("a/rel")).unwrap();
        assert_eq!(secure_join(r, Path::new("/abs/passwd")).unwrap(), r.join("etc/passwd"));
        assert_eq!(secure_join(r, Path::new("/a/up/etc")).unwrap(), r.join("etc"));
        assert_eq!(secure_join(r, Path::new("/../../x")).unwrap(), r.join("x"));
        assert_eq!(secure_join(r, Path::new("/a/rel/c")).unwrap(), r.join("a/b/c"));
        symlink("loop", r.join("loop")).unwrap();
        assert!(secure_join(r, Path::new("/loop")).is_err());
    }
}

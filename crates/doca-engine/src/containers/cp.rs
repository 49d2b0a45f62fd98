//! `doca cp`: files between a container and the host, both ways.
//!
//! The container's side is untrusted (a running container can replace any directory with a
//! symlink at any time), so paths in it are resolved with openat2(RESOLVE_IN_ROOT) from its root
//! and everything below is opened relative to directory descriptors with O_NOFOLLOW: no copy
//! ever reaches outside the container's root. Docker's path rules apply: a file onto a
//! directory goes inside it; `SRC/.` copies a directory's content; a missing destination is
//! created with the source's name.

use super::record::Status;
use crate::{Engine, EngineError};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub enum CopyRequest {
    /// `CONTAINER:SRC DEST`
    FromContainer { src: String, dest: PathBuf },
    /// `SRC CONTAINER:DEST`
    ToContainer { src: PathBuf, dest: String },
}

fn err(what: &str, p: &Path, e: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArgument(format!("{what} {}: {e}", p.display()))
}

/// The parent directory and last name of `path` under `root_fd` (the container's root, or
/// the host's "/"), opened inside the root when `in_root`.
fn open_parent(root: &OwnedFd, path: &Path, in_root: bool) -> Result<(OwnedFd, String), EngineError> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let name = rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| ".".into());
    let parent = rel.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let how = if in_root { ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS } else { ResolveFlags::empty() };
    let fd = rfs::openat2(root, parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty(), how)
        .map_err(|e| err("open", path, e))?;
    Ok((fd, name))
}

/// Copies `(sdir, sname)` to `(ddir, dname)`: files, directories (recursively), symlinks,
/// devices and fifos; modes and times kept; ownership kept only with `keep_owner` (docker's
/// `-a`), else root's.
fn copy_entry(sdir: &OwnedFd, sname: &str, ddir: &OwnedFd, dname: &str, keep_owner: bool) -> Result<(), EngineError> {
    let st = rfs::statat(sdir, sname, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| err("stat", Path::new(sname), e))?;
    let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
    let p = Path::new(dname);
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            match rfs::mkdirat(ddir, dname, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(err("create directory", p, e)),
            }
            let src = rfs::openat(sdir, sname, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| err("open", Path::new(sname), e))?;
            let dst = rfs::openat(ddir, dname, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| err("open", p, e))?;
            let mut names = Vec::new();
            for e in rfs::Dir::read_from(&src).map_err(|e| err("read", Path::new(sname), e))? {
                let n = e.map_err(|e| err("read", Path::new(sname), e))?.file_name().to_string_lossy().into_owned();
                if n != "." && n != ".." {
                    names.push(n);
                }
            }
            for n in names {
                copy_entry(&src, &n, &dst, &n, keep_owner)?;
            }
            rfs::fchmod(&dst, mode).map_err(|e| err("chmod", p, e))?;
            finish(&dst, &st, keep_owner, p)
        }
        FileType::RegularFile => {
            let src = rfs::openat(sdir, sname, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| err("open", Path::new(sname), e))?;
            // An existing file is replaced; a symlink in its place is not followed.
            let _ = rfs::unlinkat(ddir, dname, AtFlags::empty());
            let dst = rfs::openat(ddir, dname, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC, mode)
                .map_err(|e| err("create", p, e))?;
            let (mut from, mut to) = (std::fs::File::from(src), std::fs::File::from(dst));
            std::io::copy(&mut from, &mut to).map_err(|e| err("copy to", p, e))?;
            to.flush().map_err(|e| err("write", p, e))?;
            rfs::fchmod(&to, mode).map_err(|e| err("chmod", p, e))?;
            finish(&OwnedFd::from(to), &st, keep_owner, p)
        }
        FileType::Symlink => {
            let target = rfs::readlinkat(sdir, sname, Vec::new()).map_err(|e| err("readlink", Path::new(sname), e))?;
            let _ = rfs::unlinkat(ddir, dname, AtFlags::empty());
            rfs::symlinkat(target.as_c_str(), ddir, dname).map_err(|e| err("create symlink", p, e))?;
            if keep_owner {
                let _ = rfs::chownat(
                    ddir,
                    dname,
                    Some(rfs::Uid::from_raw(st.st_uid)),
                    Some(rfs::Gid::from_raw(st.st_gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                );
            }
            Ok(())
        }
        kind => {
            let ft = match kind {
                FileType::CharacterDevice => FileType::CharacterDevice,
                FileType::BlockDevice => FileType::BlockDevice,
                FileType::Fifo => FileType::Fifo,
                // Sockets are not copied (docker's archive skips them too).
                _ => return Ok(()),
            };
            let _ = rfs::unlinkat(ddir, dname, AtFlags::empty());
            rfs::mknodat(ddir, dname, ft, mode, st.st_rdev).map_err(|e| err("create", p, e))
        }
    }
}

fn finish(fd: &OwnedFd, st: &rfs::Stat, keep_owner: bool, p: &Path) -> Result<(), EngineError> {
    if keep_owner {
        rfs::fchown(fd, Some(rfs::Uid::from_raw(st.st_uid)), Some(rfs::Gid::from_raw(st.st_gid))).map_err(|e| err("chown", p, e))?;
    }
    let times = rfs::Timestamps {
        last_access: rfs::Timespec { tv_sec: st.st_atime, tv_nsec: st.st_atime_nsec as _ },
        last_modification: rfs::Timespec { tv_sec: st.st_mtime, tv_nsec: st.st_mtime_nsec as _ },
    };
    let _ = rfs::futimens(fd, &times);
    Ok(())
}

/// Copies `src` (under `src_root`) to `dest` (under `dst_root`) with docker's path rules.
/// `doca cp`'s options.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// `-a`: keep uid/gid.
    pub keep_owner: bool,
    /// `-L`: a symlink given as the source is followed (inside the container's root for a
    /// container path).
    pub follow_link: bool,
}

/// How many symlinks `-L` follows before giving up, as the kernel's ELOOP limit.
const MAX_LINKS: u32 = 40;

pub(crate) fn copy(
    src_root: (&OwnedFd, bool),
    src: &Path,
    dst_root: (&OwnedFd, bool),
    dest: &Path,
    opts: CopyOptions,
) -> Result<(), EngineError> {
    copy_following(src_root, src, dst_root, dest, opts, 0)
}

fn copy_following(
    src_root: (&OwnedFd, bool),
    src: &Path,
    dst_root: (&OwnedFd, bool),
    dest: &Path,
    opts: CopyOptions,
    links: u32,
) -> Result<(), EngineError> {
    let keep_owner = opts.keep_owner;
    // `SRC/.` copies the directory's content. (Path::parent would drop the "." and give the
    // directory's own parent: the string is cut instead.)
    let text = src.as_os_str().to_string_lossy();
    let contents_only = text.ends_with("/.");
    let src_path: PathBuf =
        if contents_only { PathBuf::from(text.trim_end_matches("/.").to_string()).components().collect() } else { src.to_path_buf() };
    let src_path = if src_path.as_os_str().is_empty() { PathBuf::from("/") } else { src_path };
    let (sdir, sname) = open_parent(src_root.0, &src_path, src_root.1)?;
    let st = match rfs::statat(&sdir, sname.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(rustix::io::Errno::NOENT) => return Err(EngineError::NoSuchPath(src.display().to_string())),
        Err(e) => return Err(err("stat", src, e)),
    };
    if opts.follow_link && FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        if links >= MAX_LINKS {
            return Err(err("follow", src, "too many levels of symbolic links"));
        }
        let target = rfs::readlinkat(&sdir, sname.as_str(), Vec::new()).map_err(|e| err("readlink", src, e))?;
        let target = PathBuf::from(target.to_string_lossy().into_owned());
        // A relative target is relative to the link's directory; an absolute one to the root
        // the source lives in (the container's, for a container path).
        let next = if target.is_absolute() { target } else { src_path.parent().unwrap_or(Path::new("/")).join(target) };
        return copy_following(src_root, &next, dst_root, dest, opts, links + 1);
    }
    let src_is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
    let (ddir, dname) = open_parent(dst_root.0, dest, dst_root.1)?;
    let dest_dir = rfs::openat(&ddir, dname.as_str(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok();
    let dest_ends_slash = dest.as_os_str().to_string_lossy().ends_with('/');
    match (src_is_dir, dest_dir) {
        (true, Some(d)) if contents_only => {
            let from = rfs::openat(&sdir, sname.as_str(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| err("open", src, e))?;
            let mut names = Vec::new();
            for e in rfs::Dir::read_from(&from).map_err(|e| err("read", src, e))? {
                let n = e.map_err(|e| err("read", src, e))?.file_name().to_string_lossy().into_owned();
                if n != "." && n != ".." {
                    names.push(n);
                }
            }
            for n in names {
                copy_entry(&from, &n, &d, &n, keep_owner)?;
            }
            Ok(())
        }
        (_, Some(d)) => copy_entry(&sdir, &sname, &d, &sname, keep_owner),
        (false, None) if dest_ends_slash => {
            Err(EngineError::InvalidArgument(format!("destination directory {} does not exist", dest.display())))
        }
        (_, None) => copy_entry(&sdir, &sname, &ddir, &dname, keep_owner),
    }
}

impl Engine {
    pub fn copy_files(&mut self, name: &str, req: &CopyRequest, opts: CopyOptions) -> Result<(), EngineError> {
        let c = self.container(name)?;
        let paths = self.container_paths(&c.id);
        let mounted_here = !matches!(c.state.status, Status::Running | Status::Paused);
        if mounted_here {
            self.unmount_container(&c.id)?;
            self.mount_rootfs(&c.image_id, &paths.dir)?;
        }
        let result = (|| {
            let open =
                |p: &Path| rfs::open(p, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| err("open", p, e));
            let root = open(&paths.merged())?;
            let host = open(Path::new("/"))?;
            match req {
                CopyRequest::FromContainer { src, dest } => {
                    let dest = if dest.is_absolute() { dest.clone() } else { std::env::current_dir().unwrap_or_default().join(dest) };
                    copy((&root, true), Path::new(src), (&host, false), &dest, opts)
                }
                CopyRequest::ToContainer { src, dest } => {
                    let src = if src.is_absolute() { src.clone() } else { std::env::current_dir().unwrap_or_default().join(src) };
                    copy((&host, false), &src, (&root, true), Path::new(dest), opts)
                }
            }
        })();
        if mounted_here {
            self.unmount_container(&c.id)?;
        }
        // A missing source, in docker's words: the container-side path as given, or the host
        // path as lstat(2) saw it.
        result.map_err(|e| match (e, req) {
            (EngineError::NoSuchPath(_), CopyRequest::FromContainer { src, .. }) => EngineError::NoSuchPath(format!("{name}:{src}")),
            (EngineError::NoSuchPath(p), CopyRequest::ToContainer { .. }) => {
                EngineError::InvalidArgument(format!("lstat {p}: no such file or directory"))
            }
            (e, _) => e,
        })
    }
}

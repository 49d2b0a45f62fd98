//! `doca cp`: files between a container and the host, both ways.
//!
//! The container's side is hostile and may be running: every path in it goes through
//! doca-fs (resolved inside the container's root on descriptors, types checked before any
//! open, nothing created through a symlink). A running container is reached through its
//! init's `/proc/PID/root`, so a copy sees what the container sees (its volumes, binds and
//! tmpfs mounts included); a stopped one through its rootfs, mounted for the copy under the
//! container's lock so that a concurrent `start` cannot unmount or mount under it. Docker's
//! path rules apply: a file onto a directory goes inside it; `SRC/.` copies a directory's
//! content; a missing destination is created with the source's name.

use super::record::Container;
use crate::{Engine, EngineError};
use doca_fs::{CopyOptions as FsCopy, FsError, Kind, Root};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub enum CopyRequest {
    /// `CONTAINER:SRC DEST`
    FromContainer { src: String, dest: PathBuf },
    /// `SRC CONTAINER:DEST`
    ToContainer { src: PathBuf, dest: String },
    /// The content of host directory `src` into the container's directory `dest`, which must
    /// exist (`doca cp - CONTAINER:DEST`).
    IntoDirectory { src: PathBuf, dest: String },
}

/// A path's facts as docker's archive API gives them (container.PathStat).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's os.FileMode: permission bits, with the type as Go's high bits.
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// st_mode as Go's os.FileMode (what docker's CLI decodes): the type bits moved to Go's.
fn go_file_mode(st_mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHARDEV: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let mut m = st_mode & 0o777;
    m |= match st_mode & 0o170000 {
        0o040000 => DIR,
        0o120000 => SYMLINK,
        0o060000 => DEVICE,
        0o020000 => DEVICE | CHARDEV,
        0o010000 => PIPE,
        0o140000 => SOCKET,
        _ => 0,
    };
    if st_mode & 0o4000 != 0 {
        m |= SETUID;
    }
    if st_mode & 0o2000 != 0 {
        m |= SETGID;
    }
    if st_mode & 0o1000 != 0 {
        m |= STICKY;
    }
    m
}

/// `doca cp`'s options.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// `-a`: keep uid/gid.
    pub keep_owner: bool,
    /// `-L`: a symlink given as the source is followed (inside the container's root for a
    /// container path).
    pub follow_link: bool,
}

/// One side of a copy: a root and a path in it.
pub(crate) struct Side<'a> {
    pub root: &'a Root,
    pub path: &'a Path,
}

/// Copies `src` to `dst` with docker's path rules. `opts` says what may be created and whether
/// the destination is a container's.
pub(crate) fn copy(src: Side, dst: Side, follow_link: bool, opts: FsCopy) -> Result<(), EngineError> {
    // `SRC/.` copies the directory's content. (Path::parent would drop the "." and give the
    // directory's own parent: the string is cut instead.)
    let text = src.path.as_os_str().to_string_lossy();
    let contents_only = text.ends_with("/.");
    let src_path = if contents_only { PathBuf::from(text.trim_end_matches("/.")) } else { src.path.to_path_buf() };
    let entry = src.root.resolve(&src_path, follow_link)?;
    let name = src_path.file_name().unwrap_or(OsStr::new(".")).to_os_string();
    enum Dest {
        Dir(doca_fs::Dir),
        Other,
        Missing,
    }
    let dest = match dst.root.resolve(dst.path, true) {
        Ok(e) if e.kind() == Kind::Dir => Dest::Dir(e.open_dir()?),
        Ok(_) => Dest::Other,
        Err(FsError::NotFound(_)) => Dest::Missing,
        Err(e) => return Err(e.into()),
    };
    let dest_ends_slash = dst.path.as_os_str().to_string_lossy().ends_with('/');
    match (entry.kind(), dest) {
        (Kind::Dir, Dest::Dir(d)) if contents_only => Ok(doca_fs::copy_contents(&entry, &d, opts)?),
        (_, Dest::Dir(d)) => Ok(doca_fs::copy(&entry, &d, &name, opts)?),
        (Kind::Dir, Dest::Other) => {
            Err(EngineError::InvalidArgument(format!("cannot copy directory to non-directory {}", dst.path.display())))
        }
        (kind, Dest::Missing) if kind != Kind::Dir && dest_ends_slash => {
            Err(EngineError::InvalidArgument(format!("destination directory {} does not exist", dst.path.display())))
        }
        (_, Dest::Other | Dest::Missing) => {
            let (parent, dname) = dst.root.parent(dst.path)?;
            Ok(doca_fs::copy(&entry, &parent, &dname, opts)?)
        }
    }
}

impl Engine {
    /// The root of a running container as its init sees it (`/proc/PID/root`), checked to be
    /// that init: the pid is pinned by holding its /proc directory, then compared by start
    /// time, so a pid the kernel gave to another process after the container exited can never
    /// lead a copy into that process's root (the host's).
    pub(crate) fn live_root(&mut self, c: &Container) -> Result<Root, EngineError> {
        use rustix::fs::{Mode, OFlags};
        let gone = || EngineError::Conflict(format!("container {} is not running", c.id));
        let init = c.state.init.ok_or_else(gone)?;
        let proc =
            rustix::fs::open(format!("/proc/{}", init.pid).as_str(), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|_| gone())?;
        if !init.alive() {
            return Err(gone());
        }
        // The process is the init (same pid and start time) and `proc` holds it: what it
        // names cannot change any more.
        let root =
            rustix::fs::openat(&proc, "root", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(|_| gone())?;
        Ok(Root::from_fd(root))
    }

    /// Runs `f` on the container's root: a running container's through its init (its volumes
    /// and binds seen), a stopped one's mounted for the call, under its lock.
    /// `f` also learns whether the root is seen through the container's user namespace's id
    /// map (a running one's idmapped rootfs), where owners are the host's ids.
    fn with_root<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&Root, Option<doca_fs::IdShift>) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let c = self.container(name)?;
        if c.state.status.is_live() {
            return f(&self.live_root(&c)?, self.seen_ids(&c)?);
        }
        let _lock = self.lock_container(&c.id)?;
        let c = self.container(c.id.as_str())?;
        if c.state.status.is_live() {
            return f(&self.live_root(&c)?, self.seen_ids(&c)?);
        }
        let paths = self.container_paths(&c.id);
        self.unmount_container(&c.id)?;
        self.mount_container_rootfs(&c)?;
        let r = Root::open(&paths.merged()).map_err(EngineError::from).and_then(|root| f(&root, None));
        self.unmount_container(&c.id)?;
        r
    }

    /// What docker's `HEAD /containers/{id}/archive` tells of a path in the container
    /// (`X-Docker-Container-Path-Stat`), resolved inside its root, the last link not followed.
    pub fn container_path_stat(&mut self, name: &str, path: &str) -> Result<PathStat, EngineError> {
        let r = self.with_root(name, |root, _| {
            let e = root.resolve(Path::new(path), false)?;
            let st = e.stat();
            let link_target = if e.kind() == doca_fs::Kind::Symlink { e.readlink()?.to_string_lossy().into_owned() } else { String::new() };
            Ok(PathStat {
                name: Path::new(path).file_name().map_or_else(|| "/".into(), |n| n.to_string_lossy().into_owned()),
                size: st.st_size,
                mode: go_file_mode(st.st_mode),
                mtime: crate::rfc3339_nano(
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec))
                        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
                ),
                link_target,
            })
        });
        r.map_err(|e| match e {
            EngineError::NoSuchPath(_) => EngineError::NoSuchPath(format!("{name}:{path}")),
            e => e,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(container = name), err(level = "debug"))]
    pub fn copy_files(&mut self, name: &str, req: &CopyRequest, opts: CopyOptions) -> Result<(), EngineError> {
        let result = self.with_root(name, |root, ids| copy_with_root(root, req, opts, ids));
        // A missing source, in docker's words: the container-side path as given, or the host
        // path as lstat(2) saw it.
        result.map_err(|e| match (e, req) {
            (EngineError::NoSuchPath(_), CopyRequest::FromContainer { src, .. }) => EngineError::NoSuchPath(format!("{name}:{src}")),
            (EngineError::NoSuchPath(p), CopyRequest::IntoDirectory { dest, .. }) if p == *dest => {
                EngineError::NoSuchPath(format!("{name}:{dest}"))
            }
            (EngineError::NoSuchPath(p), CopyRequest::ToContainer { .. } | CopyRequest::IntoDirectory { .. }) => {
                EngineError::InvalidArgument(format!("lstat {p}: no such file or directory"))
            }
            (e, _) => e,
        })
    }
}

fn copy_with_root(root: &Root, req: &CopyRequest, opts: CopyOptions, ids: Option<doca_fs::IdShift>) -> Result<(), EngineError> {
    let host = Root::host()?;
    let shift = |into: bool| ids.map(|m| doca_fs::IdShift { into, ..m });
    let absolute = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
    match req {
        CopyRequest::FromContainer { src, dest } => {
            let dest = absolute(dest);
            // Device nodes a container made stay in it (CopyOptions::devices).
            let fs = FsCopy { owner: opts.keep_owner, devices: false, confined_dest: false, ids: shift(false) };
            copy(Side { root, path: Path::new(src) }, Side { root: &host, path: &dest }, opts.follow_link, fs)
        }
        CopyRequest::ToContainer { src, dest } => {
            let src = absolute(src);
            let fs = FsCopy { owner: opts.keep_owner, devices: true, confined_dest: true, ids: shift(true) };
            copy(Side { root: &host, path: &src }, Side { root, path: Path::new(dest) }, opts.follow_link, fs)
        }
        CopyRequest::IntoDirectory { src, dest } => {
            // docker's words for an archive aimed at anything but a directory.
            match root.resolve(Path::new(dest), true) {
                Ok(e) if e.kind() == Kind::Dir => {}
                Ok(_) => return Err(EngineError::InvalidArgument(format!("extraction point is not a directory: {dest}"))),
                Err(FsError::NotFound(_)) => return Err(EngineError::NoSuchPath(dest.clone())),
                Err(e) => return Err(e.into()),
            }
            let src = PathBuf::from(format!("{}/.", absolute(src).display()));
            let fs = FsCopy { owner: opts.keep_owner, devices: true, confined_dest: true, ids: shift(true) };
            copy(Side { root: &host, path: &src }, Side { root, path: Path::new(dest) }, false, fs)
        }
    }
}

/// A private directory under the run root for staging an archive; removed when dropped.
impl Engine {
    /// `doca cp CONTAINER:SRC -`: SRC as a tar stream, its last component at the top, as
    /// docker streams it. It is first copied out through doca-fs (docker's path rules, no
    /// link followed out of the container) into a private staging directory; the archive is
    /// written from there, where no container can change anything.
    pub fn copy_out_archive(&mut self, name: &str, src: &str, opts: CopyOptions, out: &mut dyn std::io::Write) -> Result<(), EngineError> {
        let staging = crate::staging::Staging::new(&self.config().run_root, "cp")?;
        let staged = staging.0.join("out");
        self.copy_files(name, &CopyRequest::FromContainer { src: src.to_string(), dest: staged.clone() }, opts)?;
        let top = Path::new(src.trim_end_matches("/.").trim_end_matches('/'))
            .file_name()
            .map_or_else(|| OsStr::new(".").to_os_string(), OsStr::to_os_string);
        let werr = |e: std::io::Error| EngineError::Internal(format!("write the archive: {e}"));
        let mut b = tar::Builder::new(out);
        b.follow_symlinks(false);
        if staged.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            b.append_dir_all(&top, &staged).map_err(werr)?;
        } else {
            b.append_path_with_name(&staged, &top).map_err(werr)?;
        }
        b.finish().map_err(werr)
    }

    /// `doca cp - CONTAINER:DEST`: a tar stream extracted into the container's directory DEST.
    /// The archive is untrusted: it is unpacked into a private staging directory first (tar's
    /// unpacking keeps every entry inside it), then copied in as any host directory is.
    pub fn copy_in_archive(&mut self, name: &str, dest: &str, opts: CopyOptions, input: &mut dyn std::io::Read) -> Result<(), EngineError> {
        let staging = crate::staging::Staging::new(&self.config().run_root, "cp")?;
        let staged = staging.0.join("in");
        std::fs::create_dir(&staged).map_err(EngineError::io("create", &staged))?;
        crate::staging::unpack_untrusted(input, &staged, opts.keep_owner, "the archive")?;
        self.copy_files(name, &CopyRequest::IntoDirectory { src: staged.clone(), dest: dest.to_string() }, opts)
    }
}

//! doca-fs: the one way doca touches a path inside a container's or an image's root.
//!
//! A container is hostile and runs while doca works on its files: any directory can become a
//! symlink to the host, any file a FIFO (an open that never returns) or a device node (an
//! open with side effects on the host, outside the container's device cgroup), between any
//! two system calls. So nothing here joins strings into host paths. A `Root` resolves a path
//! with openat2(2) `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` (`..` and absolute symlinks stop
//! at the root, /proc magic links are refused) to an `O_PATH` descriptor; its type is read
//! with fstat(2) on that descriptor, and only then is it opened, through the same descriptor
//! (`/proc/self/fd/N` for a file, `openat(fd, ".")` for a directory), so what is opened is
//! what was checked. Below a directory, every entry is opened relative to its parent with
//! `O_NOFOLLOW`, and created with `O_EXCL | O_NOFOLLOW`.
//!
//! Why not libpathrs (the `pathrs` crate, made by runc's maintainer for this job): its
//! resolver is openat2 with these flags on the kernels doca supports, and what it adds is an
//! emulation for kernels without openat2 (before 5.6) and a procfs hardened against hostile
//! mount namespaces, where doca's engine never runs. What doca needs beyond resolving (walking
//! and copying trees, checking types before every open, refusing pseudo-filesystems) is not in
//! it and would be written here anyway, over two ways of holding a path.

#![forbid(unsafe_code)]

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

mod copy;
mod walk;
pub use copy::{copy, copy_contents, CopyOptions, IdRange, IdShift};
pub use walk::walk;

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{op} {}: {}", .path.display(), errno_text(*.source))]
    Io { op: &'static str, path: PathBuf, source: Errno },
    #[error("{}: no such file or directory", .0.display())]
    NotFound(PathBuf),
    #[error("{}: is a {found}, not a {wanted}", .path.display())]
    WrongType { path: PathBuf, wanted: &'static str, found: &'static str },
    #[error("{}: refusing to write into {fs}", .path.display())]
    PseudoFs { path: PathBuf, fs: &'static str },
    #[error("cannot overwrite directory {} with non-directory", .0.display())]
    OverwriteDir(PathBuf),
    #[error("write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Go's wording (lowercase, as docker prints it), not Rust's "... (os error N)".
fn errno_text(e: Errno) -> String {
    let s = std::io::Error::from_raw_os_error(e.raw_os_error()).to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

pub type Result<T> = std::result::Result<T, FsError>;

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(Errno) -> FsError + 'a {
    move |source| {
        if source == Errno::NOENT {
            FsError::NotFound(path.to_path_buf())
        } else {
            FsError::Io { op, path: path.to_path_buf(), source }
        }
    }
}

/// What an entry is, from fstat on its own descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
}

impl Kind {
    fn of(st: &rfs::Stat) -> Kind {
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => Kind::File,
            FileType::Symlink => Kind::Symlink,
            FileType::Fifo => Kind::Fifo,
            FileType::CharacterDevice => Kind::CharDevice,
            FileType::BlockDevice => Kind::BlockDevice,
            _ => Kind::Socket,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dir => "directory",
            Kind::File => "regular file",
            Kind::Symlink => "symbolic link",
            Kind::Fifo => "fifo",
            Kind::CharDevice => "character device",
            Kind::BlockDevice => "block device",
            Kind::Socket => "socket",
        }
    }
}

/// A directory every path is resolved inside of: a container's or an image's root (`open`),
/// or the host's own "/" (`host`), where paths resolve as the kernel resolves them (the host's
/// side of a copy is the user's, and trusted).
pub struct Root {
    fd: OwnedFd,
    confined: bool,
}

/// The path as given, made relative ("/" and "" are the root itself, "."). Lexical only: `..`
/// is resolved by the kernel, inside the root.
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path.components().filter(|c| !matches!(c, Component::RootDir | Component::CurDir)).collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

impl Root {
    /// `dir` is a host path doca owns (a mounted rootfs, an upper directory, `/proc/PID/root`
    /// of a container's init); everything below it is the container's.
    pub fn open(dir: &Path) -> Result<Root> {
        let fd = rfs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(io("open", dir))?;
        Ok(Root { fd, confined: true })
    }

    /// A root over a directory descriptor already held (O_PATH or read).
    pub fn from_fd(fd: OwnedFd) -> Root {
        Root { fd, confined: true }
    }

    /// The host's "/": paths resolve normally.
    pub fn host() -> Result<Root> {
        let fd = rfs::open("/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(io("open", Path::new("/")))?;
        Ok(Root { fd, confined: false })
    }

    pub fn is_confined(&self) -> bool {
        self.confined
    }

    /// `path` (absolute or relative to the root) as an entry; with `follow_last` a symlink
    /// at the end is followed too (inside the root).
    pub fn resolve(&self, path: &Path, follow_last: bool) -> Result<Entry> {
        let rel = relative(path);
        let mut flags = OFlags::PATH | OFlags::CLOEXEC;
        if !follow_last {
            flags |= OFlags::NOFOLLOW;
        }
        let shown = if rel == Path::new(".") { PathBuf::from("/") } else { Path::new("/").join(&rel) };
        let fd = if self.confined {
            // openat2 fails with EAGAIN when a rename anywhere on the system races a `..` it
            // resolves (it cannot then prove the walk stayed inside): try again, a bounded
            // number of times (a container renaming in a loop can make it fail, not escape).
            let mut tries = 0;
            loop {
                match rfs::openat2(&self.fd, &rel, flags, Mode::empty(), ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS) {
                    Err(Errno::AGAIN) if tries < 256 => tries += 1,
                    r => break r,
                }
            }
        } else {
            rfs::openat(&self.fd, &rel, flags, Mode::empty())
        }
        .map_err(io("open", &shown))?;
        Entry::new(fd, shown)
    }

    /// The directory that holds `path`'s last component (resolved inside the root, symlinks
    /// followed), and that component: where `path` is created. The root itself has no parent:
    /// it is returned as its own directory with the name ".".
    pub fn parent(&self, path: &Path) -> Result<(Dir, OsString)> {
        let rel = relative(path);
        match (rel.parent(), rel.file_name()) {
            (Some(p), Some(name)) => Ok((self.resolve(p, true)?.open_dir()?, name.to_os_string())),
            _ => Ok((self.resolve(&rel, true)?.open_dir()?, OsString::from("."))),
        }
    }

    /// A regular file's content, at most `limit` bytes (`/etc/passwd`, `/etc/group`).
    pub fn read_file(&self, path: &Path, limit: u64) -> Result<Vec<u8>> {
        use std::io::Read;
        let e = self.resolve(path, true)?;
        let mut out = Vec::new();
        e.open_file()?.take(limit).read_to_end(&mut out).map_err(|source| FsError::Write { path: e.path.clone(), source })?;
        Ok(out)
    }
}

/// An inode inside a root, held by an `O_PATH` descriptor, with its type and metadata as
/// fstat read them from that descriptor.
pub struct Entry {
    fd: OwnedFd,
    stat: rfs::Stat,
    path: PathBuf,
}

impl Entry {
    fn new(fd: OwnedFd, path: PathBuf) -> Result<Entry> {
        let stat = rfs::fstat(&fd).map_err(io("stat", &path))?;
        Ok(Entry { fd, stat, path })
    }
    pub fn kind(&self) -> Kind {
        Kind::of(&self.stat)
    }
    pub fn stat(&self) -> &rfs::Stat {
        &self.stat
    }
    /// The path inside the root, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
    fn expect(&self, wanted: Kind) -> Result<()> {
        if self.kind() == wanted {
            Ok(())
        } else {
            Err(FsError::WrongType { path: self.path.clone(), wanted: wanted.name(), found: self.kind().name() })
        }
    }
    /// Opens a regular file for reading: never a FIFO, a device or a socket, and the very
    /// inode that was checked (reopened through its descriptor, then compared).
    pub fn open_file(&self) -> Result<File> {
        self.expect(Kind::File)?;
        let proc = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&self.fd));
        let fd =
            rfs::open(proc.as_str(), OFlags::RDONLY | OFlags::NOCTTY | OFlags::CLOEXEC, Mode::empty()).map_err(io("open", &self.path))?;
        let st = rfs::fstat(&fd).map_err(io("stat", &self.path))?;
        if (st.st_dev, st.st_ino) != (self.stat.st_dev, self.stat.st_ino) {
            return Err(FsError::Io { op: "reopen", path: self.path.clone(), source: Errno::STALE });
        }
        Ok(File::from(fd))
    }
    /// Opens a directory for reading its entries.
    pub fn open_dir(&self) -> Result<Dir> {
        self.expect(Kind::Dir)?;
        let fd = rfs::openat(&self.fd, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(io("open", &self.path))?;
        Ok(Dir { fd, path: self.path.clone() })
    }
    /// A symlink's target, as stored.
    pub fn readlink(&self) -> Result<OsString> {
        self.expect(Kind::Symlink)?;
        let t = rfs::readlinkat(&self.fd, "", Vec::new()).map_err(io("readlink", &self.path))?;
        Ok(OsStr::from_bytes(t.as_bytes()).to_os_string())
    }
    /// An extended attribute of a directory or a file (not followed further).
    pub fn xattr(&self, key: &str) -> Option<Vec<u8>> {
        if !matches!(self.kind(), Kind::Dir | Kind::File) {
            return None;
        }
        let proc = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&self.fd));
        let mut buf = vec![0u8; 256];
        let n = rfs::getxattr(proc.as_str(), key, &mut buf[..]).ok()?;
        buf.truncate(n);
        Some(buf)
    }
}

impl AsFd for Entry {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Filesystems a copy never writes into: the kernel's interfaces, not files (a container's
/// /proc and /sys, where writing as host root would set the host's kernel state).
fn pseudo_fs(fd: BorrowedFd) -> Option<&'static str> {
    const TYPES: [(i64, &str); 7] = [
        (0x9fa0, "procfs"),
        (0x6265_6572, "sysfs"),
        (0x0027_e0eb, "cgroupfs"),
        (0x6367_7270, "cgroup2"),
        (0x1cd1, "devpts"),
        (0x6462_6720, "debugfs"),
        (0x7363_6673, "securityfs"),
    ];
    let t = rfs::fstatfs(fd).ok()?.f_type;
    TYPES.iter().find(|(m, _)| *m == t).map(|(_, n)| *n)
}

/// An open directory inside a root: its entries are reached by name, never followed.
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// The path inside the root, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
    fn child_path(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }
    /// Entry names, sorted, without "." and "..".
    pub fn names(&self) -> Result<Vec<OsString>> {
        let mut out = Vec::new();
        for e in rfs::Dir::read_from(&self.fd).map_err(io("read", &self.path))? {
            let e = e.map_err(io("read", &self.path))?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                out.push(OsStr::from_bytes(n).to_os_string());
            }
        }
        out.sort();
        Ok(out)
    }
    /// The entry `name` (a symlink is the link itself); None when there is none.
    pub fn entry(&self, name: &OsStr) -> Result<Option<Entry>> {
        let path = self.child_path(name);
        match rfs::openat(&self.fd, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => Entry::new(fd, path).map(Some),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(FsError::Io { op: "open", path, source: e }),
        }
    }
    /// Refuses to go on when this directory is on a kernel pseudo-filesystem.
    pub fn check_writable(&self) -> Result<()> {
        match pseudo_fs(self.fd.as_fd()) {
            Some(fs) => Err(FsError::PseudoFs { path: self.path.clone(), fs }),
            None => Ok(()),
        }
    }
    /// Removes `name` unless it is a directory (`OverwriteDir` then); nothing there is fine.
    pub fn remove_nondir(&self, name: &OsStr) -> Result<()> {
        match rfs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(Errno::ISDIR) => Err(FsError::OverwriteDir(self.child_path(name))),
            Err(e) => Err(FsError::Io { op: "remove", path: self.child_path(name), source: e }),
        }
    }
    /// A new regular file (`O_EXCL | O_NOFOLLOW`: never an existing file, never through a
    /// symlink).
    pub fn create_file(&self, name: &OsStr, mode: u32) -> Result<File> {
        let fd = rfs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(io("create", &self.child_path(name)))?;
        Ok(File::from(fd))
    }
    /// The directory `name`, made when missing. Whatever else is there (a file, a symlink) is
    /// replaced, as docker's archive extraction does; a directory is entered, never a symlink.
    pub fn mkdir(&self, name: &OsStr, mode: u32) -> Result<Dir> {
        let path = self.child_path(name);
        if let Some(e) = self.entry(name)? {
            if e.kind() != Kind::Dir {
                self.remove_nondir(name)?;
            }
        }
        match rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(FsError::Io { op: "create directory", path, source: e }),
        }
        let fd = rfs::openat(&self.fd, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
            .map_err(io("open", &path))?;
        Ok(Dir { fd, path })
    }
    pub fn symlink(&self, name: &OsStr, target: &OsStr) -> Result<()> {
        rfs::symlinkat(target, &self.fd, name).map_err(io("create symlink", &self.child_path(name)))
    }
    pub fn mknod(&self, name: &OsStr, kind: Kind, mode: u32, dev: u64) -> Result<()> {
        let ft = match kind {
            Kind::CharDevice => FileType::CharacterDevice,
            Kind::BlockDevice => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        rfs::mknodat(&self.fd, name, ft, Mode::from_raw_mode(mode), dev).map_err(io("create", &self.child_path(name)))
    }
    /// Owner of `name` itself (a symlink is not followed).
    pub fn chown(&self, name: &OsStr, uid: u32, gid: u32) -> Result<()> {
        rfs::chownat(&self.fd, name, Some(rfs::Uid::from_raw(uid)), Some(rfs::Gid::from_raw(gid)), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io("chown", &self.child_path(name)))
    }
    /// Mode, owner (optional) and times of this directory.
    /// Mode and times from `st`, and the owner given (else the creator's stays).
    pub fn finish(&self, st: &rfs::Stat, owner: Option<(u32, u32)>) -> Result<()> {
        finish(self.fd.as_fd(), st, owner, &self.path)
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Mode and times of an opened file or directory from `st`, and `owner` when given.
pub(crate) fn finish(fd: BorrowedFd, st: &rfs::Stat, owner: Option<(u32, u32)>, path: &Path) -> Result<()> {
    if let Some((uid, gid)) = owner {
        rfs::fchown(fd, Some(rfs::Uid::from_raw(uid)), Some(rfs::Gid::from_raw(gid))).map_err(io("chown", path))?;
    }
    // After chown, which clears setuid and setgid bits.
    rfs::fchmod(fd, Mode::from_raw_mode(st.st_mode & 0o7777)).map_err(io("chmod", path))?;
    let times = rfs::Timestamps {
        last_access: rfs::Timespec { tv_sec: st.st_atime, tv_nsec: st.st_atime_nsec as _ },
        last_modification: rfs::Timespec { tv_sec: st.st_mtime, tv_nsec: st.st_mtime_nsec as _ },
    };
    let _ = rfs::futimens(fd, &times);
    Ok(())
}

#[cfg(test)]
mod tests;

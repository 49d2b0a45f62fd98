//! Unpacks one layer tar into an empty snapshot directory, exactly and safely.
//!
//! Exact: OCI whiteouts become overlayfs whiteouts (`.wh.x` → a 0/0 character device,
//! `.wh..wh..opq` → `trusted.overlay.opaque=y`; OCI image spec layer.md "Whiteouts", kernel
//! Documentation/filesystems/overlayfs.rst), and hardlinks, symlinks, devices, fifos, ownership,
//! modes with setuid/setgid/sticky, xattrs (file capabilities are `security.capability`), mtimes,
//! long names and sparse files come out as the tar says.
//!
//! Safe: the layer is untrusted. Every path is resolved component by component from a directory
//! descriptor with O_NOFOLLOW, so nothing is ever written through a symlink (the archive
//! equivalent of CVE-2019-14271 / CVE-2018-15664 style breakouts); `..`, absolute paths, and
//! hardlinks or symlinks whose target leaves the root are refused with the entry named.

use crate::media::{decompress, Compression};
use doca_store::{Digest, Hashing};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timestamps, XattrFlags};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use tar::EntryType;

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("entry {entry:?}: {reason}")]
    Entry { entry: String, reason: String },
    #[error("read layer: {0}")]
    Read(io::Error),
    #[error(
        "layer is larger than the limit of {limit} bytes uncompressed (set DOCA_MAX_LAYER_SIZE to raise it); refusing a possible tar bomb"
    )]
    TooLarge { limit: u64 },
    #[error("open snapshot directory {0}: {1}")]
    Dest(String, io::Error),
    /// The host failed to store what is a valid layer (no space left, a read-only or failing
    /// disk): not the layer's fault, and docker's words ("write ...: no space left on device").
    #[error("write {dest}/{entry}: {}", lower(source))]
    Write { dest: String, entry: String, source: io::Error },
}

/// Go's spelling of an I/O error (lowercase, without Rust's "(os error N)").
fn lower(e: &io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

/// Errors that are the host's, not the input's: the store's disk is full, quota'd, read-only
/// or failing.
pub fn is_host_failure(e: &io::Error) -> bool {
    [Errno::NOSPC, Errno::DQUOT, Errno::ROFS, Errno::IO, Errno::NOMEM].iter().any(|x| e.raw_os_error() == Some(x.raw_os_error()))
}

impl UnpackError {
    /// Whether the host, not the layer, failed.
    pub fn is_host_failure(&self) -> bool {
        matches!(self, UnpackError::Write { .. } | UnpackError::Dest(..))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct UnpackOptions {
    /// Refuse layers whose uncompressed tar stream is larger than this.
    pub max_bytes: u64,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions { max_bytes: max_layer_size_from_env() }
    }
}

/// `DOCA_MAX_LAYER_SIZE` (bytes), default 64 GiB.
pub fn max_layer_size_from_env() -> u64 {
    std::env::var("DOCA_MAX_LAYER_SIZE").ok().and_then(|v| v.parse().ok()).unwrap_or(64 << 30)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// sha256 of the uncompressed tar stream: the layer's DiffID; `None` when it is the digest
    /// of the raw stream the caller knows (see `unpack_layer`).
    pub diff_id: Option<Digest>,
    /// Bytes of file content (regular files once per inode, symlink targets), as docker sizes layers.
    pub content_size: u64,
}

/// Reader that fails once more than `left` bytes were read.
struct Limit<R> {
    inner: R,
    left: u64,
}

#[derive(Debug)]
struct LimitExceeded;
impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("size limit exceeded")
    }
}
impl std::error::Error for LimitExceeded {}

impl<R: Read> Read for Limit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::other(LimitExceeded));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn read_err(e: io::Error, limit: u64) -> UnpackError {
    if e.get_ref().is_some_and(|i| i.is::<LimitExceeded>()) {
        UnpackError::TooLarge { limit }
    } else {
        UnpackError::Read(e)
    }
}

/// Unpacks a (possibly compressed) layer stream into `dest`, which must be an empty directory.
///
/// With `raw_digest_known`, the caller has (or will have) the verified digest of `src` itself:
/// if the stream is uncompressed that digest is the DiffID, so the stream is not hashed a
/// second time and `diff_id` comes back `None`.
pub fn unpack_layer(src: impl Read, dest: &Path, opts: UnpackOptions, raw_digest_known: bool) -> Result<Unpacked, UnpackError> {
    let root = rfs::open(dest, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| UnpackError::Dest(dest.display().to_string(), e.into()))?;
    let (compression, dec) = decompress(src).map_err(|e| read_err(e, opts.max_bytes))?;
    let limited = Limit { inner: dec, left: opts.max_bytes };
    if raw_digest_known && compression == Compression::None {
        let content_size = unpack_stream(limited, root, dest.display().to_string(), opts)?;
        Ok(Unpacked { diff_id: None, content_size })
    } else {
        let mut hashed = Hashing::new(limited);
        let content_size = unpack_stream(&mut hashed, root, dest.display().to_string(), opts)?;
        Ok(Unpacked { diff_id: Some(hashed.finish().1), content_size })
    }
}

fn unpack_stream(mut src: impl Read, root: OwnedFd, dest: String, opts: UnpackOptions) -> Result<u64, UnpackError> {
    let mut u = Unpacker { dirs: DirStack { root, stack: Vec::new() }, dir_times: Vec::new(), content_size: 0 };
    {
        let mut ar = tar::Archive::new(&mut src);
        let entries = ar.entries().map_err(|e| read_err(e, opts.max_bytes))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| read_err(e, opts.max_bytes))?;
            u.entry(&mut entry).map_err(|reason| {
                let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                match reason {
                    EntryFail::Io(e) if e.get_ref().is_some_and(|i| i.is::<LimitExceeded>()) => {
                        UnpackError::TooLarge { limit: opts.max_bytes }
                    }
                    EntryFail::Io(e) if is_host_failure(&e) => UnpackError::Write { dest: dest.clone(), entry: name, source: e },
                    EntryFail::Io(e) => UnpackError::Entry { entry: name, reason: e.to_string() },
                    EntryFail::Bad(reason) => UnpackError::Entry { entry: name, reason },
                }
            })?;
        }
    }
    // The DiffID covers the whole stream, including the end-of-archive blocks the tar reader
    // stops before.
    io::copy(&mut src, &mut io::sink()).map_err(|e| read_err(e, opts.max_bytes))?;
    u.finish_dirs().map_err(|(entry, e)| UnpackError::Entry { entry, reason: e.to_string() })?;
    Ok(u.content_size)
}

enum EntryFail {
    Io(io::Error),
    Bad(String),
}
impl From<io::Error> for EntryFail {
    fn from(e: io::Error) -> Self {
        EntryFail::Io(e)
    }
}
impl From<Errno> for EntryFail {
    fn from(e: Errno) -> Self {
        EntryFail::Io(e.into())
    }
}
fn bad<T>(s: impl Into<String>) -> Result<T, EntryFail> {
    Err(EntryFail::Bad(s.into()))
}

/// Splits a tar path into normal components, refusing anything that could leave the root.
fn components(raw: &[u8]) -> Result<Vec<String>, EntryFail> {
    let s = std::str::from_utf8(raw).map_err(|_| EntryFail::Bad("path is not valid UTF-8".into()))?;
    if s.starts_with('/') {
        return bad("absolute path");
    }
    let mut out = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => return bad("path contains '..'"),
            c if c.contains('\0') => return bad("path contains NUL"),
            c => out.push(c.to_string()),
        }
    }
    Ok(out)
}

struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Timestamps,
    xattrs: Vec<(String, Vec<u8>)>,
    sparse: Option<PaxSparse>,
}

/// A file stored in one of GNU tar's PAX sparse formats (`tar --sparse --format=posix`; GNU
/// tar's manual, "Storing Sparse Files"): the archive holds only the data segments, and the
/// map says where each goes. 0.0 lists `GNU.sparse.offset`/`numbytes` records, 0.1 one
/// `GNU.sparse.map`; 1.0 puts the map at the start of the data, as decimal lines padded to a
/// 512-byte block. 0.1 and 1.0 store the entry as `GNUSparseFile.N/NAME` and give the real
/// name in `GNU.sparse.name`. (GNU tar's own format, type 'S', the tar crate expands itself.)
#[derive(Debug, Default)]
struct PaxSparse {
    name: Option<Vec<u8>>,
    real_size: Option<u64>,
    map: Vec<(u64, u64)>,
    map_in_data: bool,
}

/// The chain of open directories from the root to the parent of the last entry. Entries come
/// grouped by directory, so moving to the next entry's parent reopens only what differs.
struct DirStack {
    root: OwnedFd,
    stack: Vec<(String, OwnedFd)>,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// Opens directory `name` in `base` without following a symlink, creating it when missing and
/// `create`. `path` names it in errors.
fn open_step(base: BorrowedFd<'_>, name: &str, create: bool, path: &[String]) -> Result<OwnedFd, EntryFail> {
    match rfs::openat(base, name, DIR_FLAGS, Mode::empty()) {
        Ok(f) => Ok(f),
        Err(Errno::NOENT) if create => {
            let made = match rfs::mkdirat(base, name, Mode::from_raw_mode(0o755)) {
                Ok(()) => true,
                Err(Errno::EXIST) => false,
                Err(e) => return Err(e.into()),
            };
            let fd = rfs::openat(base, name, DIR_FLAGS, Mode::empty())?;
            // A parent the layer does not list is 0755 whatever the umask (doca's own is 0077).
            if made {
                rfs::fchmod(&fd, Mode::from_raw_mode(0o755))?;
            }
            Ok(fd)
        }
        Err(Errno::NOTDIR) | Err(Errno::LOOP) => {
            bad(format!("path goes through {:?}, which is a symlink or not a directory", path.join("/")))
        }
        Err(Errno::NOENT) => bad(format!("{:?} does not exist in this layer", path.join("/"))),
        Err(e) => Err(e.into()),
    }
}

impl DirStack {
    fn top(&self) -> BorrowedFd<'_> {
        self.stack.last().map(|(_, f)| f.as_fd()).unwrap_or(self.root.as_fd())
    }

    /// Makes `comps` the open chain (creating missing directories) and returns its last fd.
    /// Only children of the top are ever replaced by an entry, so the chain never goes stale.
    fn enter(&mut self, comps: &[String]) -> Result<BorrowedFd<'_>, EntryFail> {
        let common = self.stack.iter().zip(comps).take_while(|((n, _), c)| n == *c).count();
        self.stack.truncate(common);
        for i in common..comps.len() {
            let fd = open_step(self.top(), &comps[i], true, &comps[..=i])?;
            self.stack.push((comps[i].clone(), fd));
        }
        Ok(self.top())
    }

    /// Opens an existing directory by a fresh walk from the root (hardlink targets, times).
    fn lookup(&self, comps: &[String]) -> Result<OwnedFd, EntryFail> {
        let mut cur = self.root.try_clone()?;
        for i in 0..comps.len() {
            cur = open_step(cur.as_fd(), &comps[i], false, &comps[..=i])?;
        }
        Ok(cur)
    }
}

struct Unpacker {
    dirs: DirStack,
    dir_times: Vec<(Vec<String>, Timestamps)>,
    content_size: u64,
}

/// Removes whatever is at `name` in `dir` (an entry replaces an earlier one of the same name);
/// a directory only when empty.
fn replace(dir: BorrowedFd<'_>, name: &str) -> Result<(), EntryFail> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
            rfs::unlinkat(dir, name, AtFlags::REMOVEDIR).or_else(|e| match e {
                Errno::NOTEMPTY | Errno::EXIST => bad("replaces a non-empty directory"),
                e => Err(e.into()),
            })
        }
        Ok(_) => Ok(rfs::unlinkat(dir, name, AtFlags::empty())?),
    }
}

/// Runs `create`; if the name is taken, removes what is there and runs it once more.
fn create_replacing<T>(dir: BorrowedFd<'_>, name: &str, mut create: impl FnMut() -> Result<T, Errno>) -> Result<T, EntryFail> {
    match create() {
        Err(Errno::EXIST) => {
            replace(dir, name)?;
            Ok(create()?)
        }
        r => Ok(r?),
    }
}

impl Unpacker {
    fn entry<R: Read>(&mut self, e: &mut tar::Entry<R>) -> Result<(), EntryFail> {
        let kind = e.header().entry_type();
        let meta = meta(e)?;
        let comps = match meta.sparse.as_ref().and_then(|s| s.name.as_deref()) {
            Some(real) => components(real)?,
            None => components(&e.path_bytes())?,
        };
        let Some((name, parent)) = comps.split_last() else {
            // The layer's root ("./"): its metadata stays the snapshot's.
            return Ok(());
        };
        let name = name.as_str();
        if let Some(hidden) = name.strip_prefix(".wh.") {
            // OCI whiteouts; `.wh..wh.` names other than the opaque marker are aufs internals.
            if kind != EntryType::Regular && kind != EntryType::Continuous {
                return bad("whiteout is not a regular file");
            }
            let dir = self.dirs.enter(parent)?;
            if hidden == ".wh..opq" {
                rfs::fsetxattr(dir, doca_mount::userns::overlay_opaque_xattr(), b"y", XattrFlags::empty())?;
            } else if !hidden.starts_with(".wh.") && !hidden.is_empty() {
                create_replacing(dir, hidden, || rfs::mknodat(dir, hidden, FileType::CharacterDevice, Mode::empty(), rfs::makedev(0, 0)))?;
            }
            return Ok(());
        }
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let dir = self.dirs.enter(parent)?;
                let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let fd = create_replacing(dir, name, || rfs::openat(dir, name, flags, Mode::from_raw_mode(0o600)))?;
                let file = File::from(fd);
                self.content_size += match &meta.sparse {
                    Some(sp) => copy_pax_sparse(e, &file, sp)?,
                    None => copy_sparse(e, &file)?,
                };
                apply_fd(&file, &meta)?;
                rfs::futimens(&file, &meta.mtime)?;
            }
            EntryType::Directory => {
                let dir = self.dirs.enter(parent)?;
                match rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) => {}
                    Err(Errno::EXIST) => {
                        let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
                        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                            replace(dir, name)?;
                            rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700))?;
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
                let fd = rfs::openat(dir, name, DIR_FLAGS, Mode::empty())?;
                apply_fd(&fd, &meta)?;
                self.dir_times.push((comps, meta.mtime));
            }
            EntryType::Symlink => {
                let target = e.link_name_bytes().map(|c| c.into_owned()).unwrap_or_default();
                let target = String::from_utf8(target).map_err(|_| EntryFail::Bad("symlink target is not valid UTF-8".into()))?;
                if target.is_empty() {
                    return bad("symlink has an empty target");
                }
                // The target is kept as data, whatever it names (`../../../usr/share/zoneinfo/UTC`
                // with more `..` than depth is legal and common, and docker takes it): nothing
                // here ever follows a symlink (every step is O_NOFOLLOW), and a container's
                // paths resolve inside its root (doca-fs, the kernel's own lookup after
                // pivot_root).
                let dir = self.dirs.enter(parent)?;
                create_replacing(dir, name, || rfs::symlinkat(target.as_str(), dir, name))?;
                self.content_size += target.len() as u64;
                rfs::chownat(dir, name, Some(uid(meta.uid)), Some(gid(meta.gid)), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| chown_failed(&meta, e))?;
                rfs::utimensat(dir, name, &meta.mtime, AtFlags::SYMLINK_NOFOLLOW)?;
            }
            EntryType::Link => {
                let target = e.link_name_bytes().map(|c| c.into_owned()).unwrap_or_default();
                let tcomps = components(&target).map_err(|r| match r {
                    EntryFail::Bad(r) => EntryFail::Bad(format!("hardlink target points outside the root: {r}")),
                    other => other,
                })?;
                let Some((tname, tparent)) = tcomps.split_last() else { return bad("hardlink target is the root") };
                let tdir = self.dirs.lookup(tparent).map_err(|r| match r {
                    EntryFail::Bad(r) => EntryFail::Bad(format!("hardlink target: {r}")),
                    other => other,
                })?;
                match rfs::statat(&tdir, tname.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => return bad("hardlink to a directory"),
                    Ok(_) => {}
                    Err(Errno::NOENT) => return bad(format!("hardlink target {:?} is not in this layer", tcomps.join("/"))),
                    Err(e) => return Err(e.into()),
                }
                if tcomps == comps {
                    return Ok(());
                }
                let dir = self.dirs.enter(parent)?;
                // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
                create_replacing(dir, name, || rfs::linkat(&tdir, tname.as_str(), dir, name, AtFlags::empty()))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let ft = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let h = e.header();
                let dev = rfs::makedev(h.device_major().ok().flatten().unwrap_or(0), h.device_minor().ok().flatten().unwrap_or(0));
                // In a user namespace (rootless doca) no device can be made: the node is left
                // out, as moby's pkg/archive does in one (a container gets its devices from the
                // runtime, never from its image).
                if ft != FileType::Fifo && !doca_mount::userns::in_initial() {
                    tracing::debug!(entry = %comps.join("/"), "device node left out in a user namespace");
                    return Ok(());
                }
                let dir = self.dirs.enter(parent)?;
                create_replacing(dir, name, || rfs::mknodat(dir, name, ft, Mode::from_raw_mode(0o600), dev))?;
                rfs::chownat(dir, name, Some(uid(meta.uid)), Some(gid(meta.gid)), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| chown_failed(&meta, e))?;
                // The node was just created by us in a directory we hold: chmodat cannot be
                // redirected through a symlink here. (xattrs on nodes would need an fd we cannot
                // safely open; layers do not carry them.)
                rfs::chmodat(dir, name, Mode::from_raw_mode(meta.mode & 0o7777), AtFlags::empty())?;
                rfs::utimensat(dir, name, &meta.mtime, AtFlags::SYMLINK_NOFOLLOW)?;
            }
            // PAX and GNU long-name headers are consumed by the tar reader; the rest carry no file.
            _ => {}
        }
        Ok(())
    }

    fn finish_dirs(&mut self) -> Result<(), (String, io::Error)> {
        self.dirs.stack.clear();
        for (comps, ts) in std::mem::take(&mut self.dir_times) {
            let (name, parent) = comps.split_last().expect("non-empty");
            let r = self.dirs.lookup(parent).and_then(|dir| Ok(rfs::utimensat(&dir, name.as_str(), &ts, AtFlags::SYMLINK_NOFOLLOW)?));
            match r {
                Ok(()) => {}
                // A later entry replaced the directory: its time is not ours to set.
                Err(EntryFail::Bad(_)) => {}
                Err(EntryFail::Io(e)) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => {}
                Err(EntryFail::Io(e)) => return Err((comps.join("/"), e)),
            }
        }
        Ok(())
    }
}

/// chown(2) gives EINVAL for an id its user namespace does not map: rootless doca maps the
/// user's subordinate ids, and a layer with owners beyond them cannot be stored as it is.
fn chown_failed(m: &Meta, e: Errno) -> EntryFail {
    if e == Errno::INVAL && !doca_mount::userns::in_initial() {
        return EntryFail::Bad(format!(
            "owner {}:{} is not mapped in this user namespace: rootless doca has only the ids of the user's lines in /etc/subuid \
             and /etc/subgid (give the user a range of 65536 ids or more)",
            m.uid, m.gid
        ));
    }
    e.into()
}

/// Whether an xattr of a layer is written to disk. overlayfs's private attributes
/// (`trusted.overlay.*`, and `user.overlay.*` which a rootless mount reads as its own) are the
/// store's to set from the layer's whiteouts, never the layer's: an image must not make a
/// directory opaque or redirect a lookup by carrying them. In a user namespace `trusted.*`
/// cannot be set at all (CAP_SYS_ADMIN in the initial one: xattr(7)).
fn kept_xattr(name: &str) -> bool {
    !(name.starts_with("trusted.overlay.")
        || name.starts_with("user.overlay.")
        || (name.starts_with("trusted.") && !doca_mount::userns::in_initial()))
}

fn uid(u: u32) -> Uid {
    Uid::from_raw(u)
}
fn gid(g: u32) -> Gid {
    Gid::from_raw(g)
}

/// Owner, then mode (chown clears setuid/setgid), then xattrs (chown also clears
/// security.capability), in that order.
fn apply_fd(fd: impl AsFd, m: &Meta) -> Result<(), EntryFail> {
    rfs::fchown(&fd, Some(uid(m.uid)), Some(gid(m.gid))).map_err(|e| chown_failed(m, e))?;
    rfs::fchmod(&fd, Mode::from_raw_mode(m.mode & 0o7777))?;
    for (k, v) in &m.xattrs {
        rfs::fsetxattr(&fd, k.as_str(), v, XattrFlags::empty()).map_err(|e| EntryFail::Bad(format!("set xattr {k}: {e}")))?;
    }
    Ok(())
}

fn meta<R: Read>(e: &mut tar::Entry<R>) -> Result<Meta, EntryFail> {
    let h = e.header();
    let mut m = Meta {
        mode: h.mode().unwrap_or(0o644),
        uid: h.uid().unwrap_or(0) as u32,
        gid: h.gid().unwrap_or(0) as u32,
        mtime: ts(h.mtime().unwrap_or(0) as i64, 0),
        xattrs: Vec::new(),
        sparse: None,
    };
    let mut offset = None;
    if let Ok(Some(pax)) = e.pax_extensions() {
        for ext in pax {
            let Ok(ext) = ext else { continue };
            let Ok(key) = ext.key() else { continue };
            let val = ext.value_bytes();
            let num = || std::str::from_utf8(val).ok().and_then(|v| v.parse::<u32>().ok());
            match key {
                "uid" => m.uid = num().ok_or_else(|| EntryFail::Bad("bad PAX uid".into()))?,
                "gid" => m.gid = num().ok_or_else(|| EntryFail::Bad("bad PAX gid".into()))?,
                "mtime" => {
                    if let Some(t) = std::str::from_utf8(val).ok().and_then(parse_pax_time) {
                        m.mtime = t;
                    }
                }
                k if k.starts_with("SCHILY.xattr.") => {
                    let name = &k["SCHILY.xattr.".len()..];
                    if kept_xattr(name) {
                        m.xattrs.push((name.to_string(), val.to_vec()));
                    }
                }
                k if k.starts_with("GNU.sparse.") => {
                    let sp = m.sparse.get_or_insert_with(PaxSparse::default);
                    let n = || {
                        std::str::from_utf8(val)
                            .ok()
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .ok_or_else(|| EntryFail::Bad(format!("bad PAX {k}")))
                    };
                    match &k["GNU.sparse.".len()..] {
                        "name" => sp.name = Some(val.to_vec()),
                        "realsize" | "size" => sp.real_size = Some(n()?),
                        "major" => sp.map_in_data = n()? == 1,
                        "offset" => offset = Some(n()?),
                        "numbytes" => {
                            let off = offset.take().ok_or_else(|| EntryFail::Bad("PAX GNU.sparse.numbytes without an offset".into()))?;
                            sp.map.push((off, n()?));
                        }
                        "map" => {
                            let nums: Vec<u64> = std::str::from_utf8(val)
                                .ok()
                                .and_then(|v| v.split(',').map(|x| x.trim().parse().ok()).collect())
                                .ok_or_else(|| EntryFail::Bad("bad PAX GNU.sparse.map".into()))?;
                            if nums.len() % 2 == 1 {
                                return bad("bad PAX GNU.sparse.map");
                            }
                            sp.map.extend(nums.chunks(2).map(|c| (c[0], c[1])));
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
    Ok(m)
}

fn ts(sec: i64, nsec: i64) -> Timestamps {
    let t = rfs::Timespec { tv_sec: sec, tv_nsec: nsec as _ };
    Timestamps { last_access: t, last_modification: t }
}

fn parse_pax_time(s: &str) -> Option<Timestamps> {
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: i64 = sec.parse().ok()?;
    let mut ns = 0i64;
    for (i, c) in frac.bytes().take(9).enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        ns += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
    }
    Some(ts(sec, ns))
}

/// Writes a PAX sparse file's segments where its map says, and gives it its real size. The
/// map is checked: segments in order, inside the file, their sizes adding up to the data.
fn copy_pax_sparse(src: &mut impl Read, dst: &File, sp: &PaxSparse) -> Result<u64, EntryFail> {
    let mut map = sp.map.clone();
    let mut consumed = 0u64;
    if sp.map_in_data {
        // Decimal numbers, one per line: the count, then offset and size pairs.
        let mut next = || -> Result<u64, EntryFail> {
            let mut digits = Vec::new();
            loop {
                let mut b = [0u8; 1];
                src.read_exact(&mut b)?;
                consumed += 1;
                match b[0] {
                    b'\n' => break,
                    c if c.is_ascii_digit() && digits.len() < 20 => digits.push(c),
                    _ => return bad("bad sparse map in the data"),
                }
            }
            std::str::from_utf8(&digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| EntryFail::Bad("bad sparse map in the data".into()))
        };
        let count = next()?;
        if count > 1 << 20 {
            return bad("sparse map has too many segments");
        }
        for _ in 0..count {
            let (off, len) = (next()?, next()?);
            map.push((off, len));
        }
        let pad = (512 - consumed % 512) % 512;
        io::copy(&mut src.by_ref().take(pad), &mut io::sink())?;
    }
    let real = sp.real_size.ok_or_else(|| EntryFail::Bad("sparse file without GNU.sparse.realsize".into()))?;
    let mut end = 0u64;
    let mut buf = vec![0u8; 256 << 10];
    let cap = buf.len() as u64;
    for (off, len) in map {
        if off < end || off.checked_add(len).is_none_or(|e| e > real) {
            return bad("sparse map segments overlap or lie outside the file");
        }
        let mut left = len;
        let mut at = off;
        while left > 0 {
            let n = src.read(&mut buf[..left.min(cap) as usize])?;
            if n == 0 {
                return bad("sparse file data ends before its map does");
            }
            dst.write_all_at(&buf[..n], at)?;
            at += n as u64;
            left -= n as u64;
        }
        end = off + len;
    }
    if src.read(&mut buf[..1])? != 0 {
        return bad("sparse file has more data than its map says");
    }
    dst.set_len(real)?;
    Ok(real)
}

/// Copies file data, leaving 4 KiB blocks of zeros as holes: sparse files stay sparse whether
/// the tar encoded them as GNU sparse entries or as plain zeros.
fn copy_sparse(src: &mut impl Read, dst: &File) -> io::Result<u64> {
    const BLOCK: usize = 4096;
    let mut buf = vec![0u8; 256 << 10];
    let mut off = 0u64;
    let mut data_end = 0u64;
    let mut filled = 0usize;
    loop {
        let n = src.read(&mut buf[filled..])?;
        filled += n;
        let eof = n == 0;
        if filled == buf.len() || (eof && filled > 0) {
            let mut i = 0;
            while i < filled {
                let end = (i + BLOCK).min(filled);
                // Run of data blocks: one write for the whole run.
                let mut j = i;
                while j < filled {
                    let e = (j + BLOCK).min(filled);
                    if buf[j..e].iter().all(|b| *b == 0) {
                        break;
                    }
                    j = e;
                }
                if j > i {
                    dst.write_all_at(&buf[i..j], off + i as u64)?;
                    data_end = off + j as u64;
                    i = j;
                } else {
                    i = end;
                }
            }
            off += filled as u64;
            filled = 0;
        }
        if eof {
            break;
        }
    }
    // A trailing hole is not written: the size must be set.
    if data_end < off {
        dst.set_len(off)?;
    }
    Ok(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_refuse_escapes() {
        assert_eq!(components(b"./a/b/").ok().unwrap(), vec!["a", "b"]);
        assert!(components(b"a/../../b").is_err());
        assert!(components(b"/etc/passwd").is_err());
        assert!(components(b"").ok().unwrap().is_empty());
    }

    #[test]
    fn pax_time() {
        let t = parse_pax_time("1700000000.5").unwrap();
        assert_eq!((t.last_modification.tv_sec, t.last_modification.tv_nsec), (1_700_000_000, 500_000_000));
    }

    #[test]
    fn sparse_copy_keeps_content_and_makes_holes() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let mut data = vec![0u8; 1 << 20];
        data[10] = 1;
        data[(1 << 20) - 1] = 2;
        let p = t.path().join("f");
        let f = File::create(&p).unwrap();
        assert_eq!(copy_sparse(&mut &data[..], &f).unwrap(), 1 << 20);
        assert_eq!(std::fs::read(&p).unwrap(), data);
        assert!(std::fs::metadata(&p).unwrap().blocks() * 512 < 100 << 10);
    }
}

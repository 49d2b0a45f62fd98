//! Every entry point against the shapes a hostile root takes: symlinks out of it (absolute,
//! relative, through `..`), magic links, FIFOs and devices where files are expected, and a
//! thread that swaps a directory with a symlink to outside while copies and walks run.

use super::*;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

struct Fixture {
    _t: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

/// `root/` (the container's) and `outside/secret` (the host's).
fn fixture() -> Fixture {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let outside = t.path().join("outside");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "host secret").unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    Fixture { _t: t, root, outside }
}

#[test]
fn symlinks_and_dotdot_resolve_inside_the_root() {
    let f = fixture();
    symlink(f.outside.join("secret"), f.root.join("abs")).unwrap();
    symlink("../../../../outside/secret", f.root.join("rel")).unwrap();
    symlink(&f.outside, f.root.join("dir")).unwrap();
    let r = Root::open(&f.root).unwrap();
    for p in ["abs", "rel", "dir/secret", "../outside/secret", "/../../outside/secret"] {
        match r.read_file(Path::new(p), 1 << 20) {
            Err(FsError::NotFound(_)) => {}
            other => panic!("{p}: {:?}", other.map(|b| String::from_utf8_lossy(&b).into_owned())),
        }
    }
    // Inside the root, `..` and absolute links work as in a chroot.
    symlink("/etc/passwd", f.root.join("etc/link")).unwrap();
    assert!(r.read_file(Path::new("/etc/../etc/link"), 1 << 20).unwrap().starts_with(b"root:"));
    // Without following, the entry is the link itself.
    assert_eq!(r.resolve(Path::new("abs"), false).unwrap().kind(), Kind::Symlink);
    assert_eq!(r.resolve(Path::new("abs"), false).unwrap().readlink().unwrap(), f.outside.join("secret").as_os_str());
}

#[test]
fn magic_links_are_refused() {
    // A root with a real /proc (a container's, through /proc/PID/root): /proc/self/root is a
    // magic link to the reader's own root, the host's.
    let r = Root::open(Path::new("/")).unwrap();
    match r.resolve(Path::new("/proc/self/root/etc"), true) {
        Err(FsError::Io { source: Errno::XDEV | Errno::LOOP, .. }) => {}
        other => panic!("{:?}", other.map(|e| e.path().to_path_buf())),
    }
}

#[test]
fn only_regular_files_and_directories_are_opened() {
    let f = fixture();
    rfs::mknodat(rfs::CWD, f.root.join("fifo"), FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
    let r = Root::open(&f.root).unwrap();
    let fifo = r.resolve(Path::new("fifo"), true).unwrap();
    assert_eq!(fifo.kind(), Kind::Fifo);
    // Opening would block forever: refused by type, before any open.
    assert!(matches!(fifo.open_file(), Err(FsError::WrongType { .. })));
    assert!(matches!(r.read_file(Path::new("fifo"), 10), Err(FsError::WrongType { .. })));
    assert!(matches!(r.resolve(Path::new("etc"), true).unwrap().open_file(), Err(FsError::WrongType { .. })));
    assert!(matches!(r.resolve(Path::new("etc/passwd"), true).unwrap().open_dir(), Err(FsError::WrongType { .. })));
    if rustix::process::geteuid().is_root() {
        // /dev/watchdog-like side effects on open: a device node is never opened either.
        rfs::mknodat(rfs::CWD, f.root.join("dev"), FileType::CharacterDevice, Mode::from_raw_mode(0o666), rfs::makedev(1, 3)).unwrap();
        assert!(matches!(r.resolve(Path::new("dev"), true).unwrap().open_file(), Err(FsError::WrongType { .. })));
    }
}

#[test]
fn creating_never_goes_through_a_symlink() {
    let f = fixture();
    symlink(f.outside.join("secret"), f.root.join("file-link")).unwrap();
    symlink(&f.outside, f.root.join("dir-link")).unwrap();
    let r = Root::open(&f.root).unwrap();
    let (dir, name) = r.parent(Path::new("/file-link")).unwrap();
    assert!(dir.create_file(&name, 0o644).is_err(), "O_EXCL refuses the existing link");
    // mkdir replaces a link rather than entering it; remove_nondir removes the link only.
    let d = dir.mkdir(OsStr::new("dir-link"), 0o755).unwrap();
    drop(d.create_file(OsStr::new("x"), 0o644).unwrap());
    dir.remove_nondir(&name).unwrap();
    assert_eq!(std::fs::read_to_string(f.outside.join("secret")).unwrap(), "host secret");
    assert_eq!(std::fs::read_dir(&f.outside).unwrap().count(), 1, "nothing was created outside");
    assert!(f.root.join("dir-link").is_dir() && !f.root.join("dir-link").is_symlink());
    assert!(matches!(dir.remove_nondir(OsStr::new("dir-link")), Err(FsError::OverwriteDir(_))));
}

/// A thread exchanging `root/swap/d` (a directory) with `root/swap/l` (a symlink to outside)
/// as fast as it can, until dropped.
struct Swapper {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl Swapper {
    fn start(root: &Path, outside: &Path) -> Swapper {
        let swap = root.join("swap");
        std::fs::create_dir_all(swap.join("d")).unwrap();
        std::fs::write(swap.join("d/inside"), "container data").unwrap();
        symlink(outside, swap.join("l")).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let dir = rfs::open(&swap, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let handle = std::thread::spawn(move || {
            let mut n = 0;
            while !s.load(Ordering::Relaxed) {
                rfs::renameat_with(&dir, "d", &dir, "l", rfs::RenameFlags::EXCHANGE).unwrap();
                n += 1;
            }
            n
        });
        Swapper { stop, handle: Some(handle) }
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let n = self.handle.take().unwrap().join().unwrap();
        assert!(n > 0, "the swapper never ran");
    }
}

#[test]
fn copies_out_of_a_racing_root_never_read_outside() {
    let f = fixture();
    let r = Root::open(&f.root).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let host = Root::host().unwrap();
    let swap = Swapper::start(&f.root, &f.outside);
    let mut copied = 0;
    for i in 0..300 {
        // `cp C:/swap/d/. out` and `cp C:/swap/d out`: whichever of the two is a directory
        // when resolved is copied, and only from inside the root.
        let Ok(src) = r.resolve(Path::new("/swap/d"), false) else { continue };
        let (dir, _) = host.parent(&dest.path().join("x")).unwrap();
        let name = OsString::from(format!("c{i}"));
        if copy(&src, &dir, &name, CopyOptions::default()).is_ok() {
            copied += 1;
        }
        let _ = walk::<FsError>(&r.resolve(Path::new("/swap"), true).unwrap().open_dir().unwrap(), &mut |e| {
            assert!(!e.path().ends_with("secret"), "the walk went outside: {}", e.path().display());
            Ok(())
        });
    }
    drop(swap);
    assert!(copied > 0);
    for e in walkdir(dest.path()) {
        assert!(!e.ends_with("secret"), "a copy read outside the root: {}", e.display());
    }
}

#[test]
fn copies_into_a_racing_root_never_write_outside() {
    let f = fixture();
    let r = Root::open(&f.root).unwrap();
    let src_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src_dir.path().join("payload")).unwrap();
    std::fs::write(src_dir.path().join("payload/secret"), "overwritten").unwrap();
    let host = Root::host().unwrap();
    let src = host.resolve(&src_dir.path().join("payload"), true).unwrap();
    let swap = Swapper::start(&f.root, &f.outside);
    for _ in 0..300 {
        // `cp payload C:/swap/d/` and `cp payload C:/swap/d/payload`.
        if let Ok((dir, _)) = r.parent(Path::new("/swap/d/payload")) {
            let _ = copy(&src, &dir, OsStr::new("payload"), CopyOptions { confined_dest: true, ..Default::default() });
        }
        if let Ok(e) = r.resolve(Path::new("/swap/d"), true) {
            if let Ok(d) = e.open_dir() {
                let _ = copy(&src, &d, OsStr::new("payload"), CopyOptions { confined_dest: true, ..Default::default() });
            }
        }
    }
    drop(swap);
    assert_eq!(std::fs::read_to_string(f.outside.join("secret")).unwrap(), "host secret");
    assert_eq!(walkdir(&f.outside), vec![f.outside.join("secret")], "nothing was written outside");
}

#[test]
fn copies_keep_modes_times_and_links() {
    let f = fixture();
    let from = f.root.join("tree");
    std::fs::create_dir_all(from.join("sub")).unwrap();
    std::fs::write(from.join("sub/file"), "data").unwrap();
    std::fs::set_permissions(from.join("sub/file"), std::fs::Permissions::from_mode(0o751)).unwrap();
    symlink("../elsewhere", from.join("sub/link")).unwrap();
    rfs::mknodat(rfs::CWD, from.join("fifo"), FileType::Fifo, Mode::from_raw_mode(0o640), 0).unwrap();
    let r = Root::open(&f.root).unwrap();
    let out = tempfile::tempdir().unwrap();
    let host = Root::host().unwrap();
    let dest = host.resolve(out.path(), true).unwrap().open_dir().unwrap();
    copy(&r.resolve(Path::new("/tree"), false).unwrap(), &dest, OsStr::new("t"), CopyOptions::default()).unwrap();
    let t = out.path().join("t");
    assert_eq!(std::fs::read_to_string(t.join("sub/file")).unwrap(), "data");
    assert_eq!(std::fs::metadata(t.join("sub/file")).unwrap().permissions().mode() & 0o7777, 0o751);
    assert_eq!(std::fs::read_link(t.join("sub/link")).unwrap(), Path::new("../elsewhere"));
    assert_eq!(std::fs::symlink_metadata(t.join("fifo")).unwrap().permissions().mode() & 0o7777, 0o640);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(t.join("sub/file")).unwrap().mtime(), std::fs::metadata(from.join("sub/file")).unwrap().mtime());
}

#[test]
fn pseudo_filesystems_are_not_written() {
    let r = Root::open(Path::new("/")).unwrap();
    let d = r.resolve(Path::new("/proc/sys/kernel"), true).unwrap().open_dir().unwrap();
    assert!(matches!(d.check_writable(), Err(FsError::PseudoFs { fs: "procfs", .. })));
    let src_dir = tempfile::tempdir().unwrap();
    std::fs::write(src_dir.path().join("core_pattern"), "|/tmp/pwn").unwrap();
    let src = Root::host().unwrap().resolve(&src_dir.path().join("core_pattern"), true).unwrap();
    let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let o = CopyOptions { confined_dest: true, ..Default::default() };
    assert!(matches!(copy(&src, &d, OsStr::new("core_pattern"), o), Err(FsError::PseudoFs { .. })));
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(), before);
}

/// Every path under `dir`, symlinks not followed.
fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        out.push(p.clone());
        if e.file_type().unwrap().is_dir() {
            out.extend(walkdir(&p));
        }
    }
    out.sort();
    out
}

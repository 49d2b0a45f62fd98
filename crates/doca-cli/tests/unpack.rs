//! Layers unpack exactly, and two images on one base share its bytes on disk.

use doca_testkit::{docker_archive, one_layer_archive, require_root, ArchiveImage, Layer, TempRoot};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

fn root() -> TempRoot {
    TempRoot::new(env!("CARGO_BIN_EXE_doca"))
}

fn load_bytes(t: &TempRoot, bytes: &[u8]) -> String {
    let p = t.path("in.tar");
    std::fs::write(&p, bytes).unwrap();
    t.ok(&["load", "-i", p.to_str().unwrap()])
}

/// The snapshot directories of an image, lowest layer first.
fn snapshots(t: &TempRoot, image: &str) -> Vec<PathBuf> {
    let dirs = t.ok(&["inspect", "--format", "{{.GraphDriver.Data.LowerDir}}", image]);
    dirs.trim().split(':').rev().map(PathBuf::from).collect()
}

fn xattr(p: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    let out = std::process::Command::new("getfattr").args(["--absolute-names", "--only-values", "-h", "-n", name]).arg(p).output().ok()?;
    out.status.success().then_some(out.stdout)
}

#[test]
fn whiteouts_links_devices_modes_xattrs_times_names_sparse() {
    require_root!();
    doca_testkit::require_tool!("getfattr");
    let t = root();
    let long = format!("deep/{}/{}", "d".repeat(120), "f".repeat(100));
    let gnu_long = format!("gnu/{}", "g".repeat(150));
    let mut sparse = vec![0u8; 8 << 20];
    sparse[0] = 1;
    sparse[(8 << 20) - 1] = 2;
    let layer = Layer::new()
        .dir("etc/", 0o755)
        .file_with("etc/shadow", b"secret", 0o640, 0, 42)
        .file_with("bin/su", b"suid", 0o4755, 0, 0)
        .file_with("bin/sg", b"sgid", 0o2755, 0, 0)
        .dir("tmp/", 0o1777)
        .file_with("home/user/f", b"mine", 0o600, 1000, 1000)
        .symlink("bin/sh", "busybox")
        .symlink("etc/abs", "/etc/shadow")
        .hardlink("bin/su2", "bin/su")
        .node("dev/null", tar::EntryType::Char, 1, 3, 0o666)
        .node("dev/sda", tar::EntryType::Block, 8, 0, 0o660)
        .node("run/fifo", tar::EntryType::Fifo, 0, 0, 0o644)
        .file(".wh.gone", b"")
        .dir("opaque/", 0o755)
        .file("opaque/.wh..wh..opq", b"")
        .file("opaque/kept", b"k")
        .pax_file(
            &long,
            b"long",
            &[
                ("SCHILY.xattr.user.note", b"hi"),
                ("SCHILY.xattr.security.capability", &[1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                ("mtime", b"1600000000.25"),
            ],
        )
        .gnu_long_file(&gnu_long, b"gnu")
        .file("sparse", &sparse)
        .finish();
    load_bytes(&t, &one_layer_archive(layer, "exact:1"));
    let s = &snapshots(&t, "exact:1")[0];
    let md = |p: &str| std::fs::symlink_metadata(s.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!((md("etc/shadow").mode() & 0o7777, md("etc/shadow").gid()), (0o640, 42));
    assert_eq!(md("bin/su").mode() & 0o7777, 0o4755);
    assert_eq!(md("bin/sg").mode() & 0o7777, 0o2755);
    assert_eq!(md("tmp").mode() & 0o7777, 0o1777);
    assert_eq!((md("home/user/f").uid(), md("home/user/f").gid()), (1000, 1000));
    assert_eq!(std::fs::read_link(s.join("bin/sh")).unwrap(), PathBuf::from("busybox"));
    assert_eq!(std::fs::read_link(s.join("etc/abs")).unwrap(), PathBuf::from("/etc/shadow"));
    assert_eq!(md("bin/su2").ino(), md("bin/su").ino(), "hardlink is not a link");
    assert!(md("dev/null").file_type().is_char_device() && md("dev/null").rdev() == libc_makedev(1, 3));
    assert!(md("dev/sda").file_type().is_block_device() && md("dev/sda").rdev() == libc_makedev(8, 0));
    assert!(md("run/fifo").file_type().is_fifo());
    // OCI whiteout → overlayfs whiteout: a 0/0 character device with the hidden name.
    assert!(md("gone").file_type().is_char_device() && md("gone").rdev() == 0);
    assert!(!s.join(".wh.gone").exists());
    assert_eq!(xattr(&s.join("opaque"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert!(!s.join("opaque/.wh..wh..opq").exists());
    assert_eq!(std::fs::read(s.join(&long)).unwrap(), b"long");
    assert_eq!(xattr(&s.join(&long), "user.note").as_deref(), Some(&b"hi"[..]));
    assert!(xattr(&s.join(&long), "security.capability").is_some(), "file capability lost");
    assert_eq!((md(&long).mtime(), md(&long).mtime_nsec()), (1_600_000_000, 250_000_000));
    assert_eq!(md("etc/shadow").mtime(), 1_700_000_000);
    assert_eq!(md("etc").mtime(), 1_700_000_000, "directory mtime not restored after its children");
    assert_eq!(std::fs::read(s.join(&gnu_long)).unwrap(), b"gnu");
    assert_eq!(std::fs::read(s.join("sparse")).unwrap(), sparse);
    assert!(md("sparse").blocks() * 512 < 1 << 20, "sparse file was written dense: {} blocks", md("sparse").blocks());
    assert_eq!(md("sparse").permissions().mode() & 0o777, 0o644);
}

fn libc_makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff)
}

#[test]
fn images_on_one_base_share_its_bytes() {
    require_root!();
    let t = root();
    let big: Vec<u8> = (0..4 << 20).map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let base = Layer::new().file("base.bin", &big).finish();
    let a = Layer::new().file("a", b"a").finish();
    let b = Layer::new().file("b", b"b").finish();
    let (arch, _) = docker_archive(&[
        ArchiveImage { layers: vec![base.clone(), a], tags: vec!["a:1".into()], created: "2024-01-01T00:00:00Z".into() },
        ArchiveImage { layers: vec![base, b], tags: vec!["b:1".into()], created: "2024-01-02T00:00:00Z".into() },
    ]);
    load_bytes(&t, &arch);
    let sa = snapshots(&t, "a:1");
    let sb = snapshots(&t, "b:1");
    assert_eq!(sa[0], sb[0], "the base layer is not shared");
    let du = |p: &std::path::Path| {
        let out = std::process::Command::new("du").args(["-s", "-B1"]).arg(p).output().unwrap();
        String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().parse::<u64>().unwrap()
    };
    let snaps = du(&t.root().join("snapshots"));
    // One copy of the 4 MiB base plus two tiny layers; two copies would be over 8 MiB.
    assert!(snaps > 4 << 20 && snaps < (4 << 20) + (1 << 20), "snapshots use {snaps} bytes");
    assert_eq!(std::fs::read_dir(t.root().join("snapshots")).unwrap().count(), 3);
    // Removing one image keeps the shared base for the other.
    t.ok(&["rmi", "a:1"]);
    assert!(sb[0].join("base.bin").exists());
    assert_eq!(std::fs::read_dir(t.root().join("snapshots")).unwrap().count(), 2);
}

/// Regression: `load` kept every member up to 4 MiB in memory (twice), so an image of many
/// small layers grew memory with the image. Peak RSS must stay under 64 MB.
#[test]
fn load_memory_stays_bounded_with_many_small_layers() {
    require_root!();
    let t = root();
    let layers: Vec<Vec<u8>> = (0..24u32)
        .map(|i| {
            let data: Vec<u8> = (0..3u32 << 20).map(|j| (j.wrapping_mul(2654435761).wrapping_add(i) >> 11) as u8).collect();
            Layer::new().file(&format!("f{i}"), &data).finish()
        })
        .collect();
    let (arch, _) = docker_archive(&[ArchiveImage { layers, tags: vec!["many:1".into()], created: "2024-01-01T00:00:00Z".into() }]);
    let p = t.path("many.tar");
    std::fs::write(&p, arch).unwrap();
    // VmHWM of the child's own address space: wait4's ru_maxrss would also count the pages the
    // child shared with this (large) test process between its vfork-style spawn and exec.
    let mut child = t.cmd().args(["load", "-q", "-i", p.to_str().unwrap()]).spawn().unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Ok(st) = std::fs::read_to_string(&status_path) {
            if let Some(v) = st.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                peak_kb = peak_kb.max(v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0));
            }
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    assert!(status.success(), "load failed: {status}");
    assert!(peak_kb > 0, "never saw the child's memory");
    assert!(peak_kb < 64 << 10, "load of a 72 MB image of small layers peaked at {} MB", peak_kb >> 10);
    assert_eq!(t.ok(&["images", "--format", "{{.Repository}}"]), "many\n");
}

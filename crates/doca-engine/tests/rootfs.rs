//! A container rootfs over an image's snapshots, as root: writes go to the container's upper
//! layer, deletions become whiteouts there, the shared snapshot never changes.

use doca_engine::images::ImportImage;
use doca_engine::{Engine, EngineConfig};
use doca_testkit::require_root;
use std::os::unix::fs::FileTypeExt;

#[test]
fn container_writes_stay_in_its_upper_layer() {
    require_root!();
    let t = tempfile::tempdir().unwrap();
    let mut e = Engine::open(EngineConfig { root: t.path().join("root"), run_root: t.path().join("run") }).unwrap();
    let img = e
        .import_image(ImportImage {
            source: "busybox.tar".into(),
            input: Box::new(std::fs::File::open(doca_testkit::busybox_tar()).unwrap()),
            changes: vec![],
            message: None,
            reference: Some("busybox".into()),
        })
        .unwrap();
    let snapshot = e.inspect_image("busybox").unwrap().graph_driver.data["LowerDir"].clone();
    let dir = t.path().join("c1");
    let r = e.mount_rootfs(&img.id, &dir).unwrap();
    assert!(r.merged.join("bin/busybox").exists());
    std::fs::write(r.merged.join("tmp/new"), "hello").unwrap();
    std::fs::remove_file(r.merged.join("etc/passwd")).unwrap();
    assert_eq!(std::fs::read_to_string(r.upper.join("tmp/new")).unwrap(), "hello");
    assert!(std::fs::symlink_metadata(r.upper.join("etc/passwd")).unwrap().file_type().is_char_device(), "no whiteout in the upper layer");
    assert!(std::path::Path::new(&snapshot).join("etc/passwd").exists(), "the image's snapshot changed");
    assert!(!std::path::Path::new(&snapshot).join("tmp/new").exists());
    // A second container on the same image sees the image, not the first one's changes.
    let r2 = e.mount_rootfs(&img.id, &t.path().join("c2")).unwrap();
    assert!(r2.merged.join("etc/passwd").exists() && !r2.merged.join("tmp/new").exists());
    r.unmount().unwrap();
    r2.unmount().unwrap();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(t.path().to_str().unwrap()), "mounts left behind");
    assert!(std::fs::read_dir(&r.merged).unwrap().next().is_none());
}

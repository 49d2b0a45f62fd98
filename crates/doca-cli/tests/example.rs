//! The shipped example (`examples/ml-pipeline`) from end to end, as its README says to run it:
//! three stores, a registry on loopback, a build with Debian's packages, the same digests and
//! results everywhere. Needs the Debian mirror (debootstrap, apt in the builds).

use doca_testkit::{require_root, require_tool};
use std::path::Path;
use std::process::Command;

#[test]
fn the_ml_pipeline_example_gives_the_same_images_and_results_to_three_people() {
    require_root!();
    require_tool!("debootstrap");
    require_tool!("docker-registry");
    // The Debian base, made once and kept under target/ for the next runs.
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debian-bookworm-minbase.tar");
    if !base.exists() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        let ok = Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&rootfs)
            .arg("http://deb.debian.org/debian")
            .output()
            .unwrap();
        assert!(ok.status.success(), "debootstrap: {}", String::from_utf8_lossy(&ok.stderr));
        let partial = base.with_extension("partial");
        let tar = Command::new("tar").arg("-C").arg(&rootfs).args(["--numeric-owner", "-cf"]).arg(&partial).arg(".").status().unwrap();
        assert!(tar.success());
        std::fs::rename(&partial, &base).unwrap();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-pipeline/run.sh");
    let o = Command::new("sh").arg(&script).env("DOCA", env!("CARGO_BIN_EXE_doca")).env("BASE_TAR", &base).output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("same images, same results on A, B and C"), "{out}");
    assert!(out.contains("pipeline: n=50 slope=2.502005 intercept=0.970635 r2=0.999802"), "{out}");
}

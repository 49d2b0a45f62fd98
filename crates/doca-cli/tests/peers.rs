//! Real peers read doca's archives and doca reads theirs: skopeo and podman from Debian, each
//! with its own temp state. Same layers, same config, same tags.

use doca_testkit::{require_root, require_tool, TempRoot};
use std::process::Command;

fn root() -> TempRoot {
    TempRoot::new(env!("CARGO_BIN_EXE_doca"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(out.status.success(), "{cmd:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// (Id, RootFS.Layers) of an image in a doca store.
fn identity(t: &TempRoot, name: &str) -> (String, serde_json::Value) {
    let i = json(&t.ok(&["image", "inspect", name]));
    (i[0]["Id"].as_str().unwrap().to_string(), i[0]["RootFS"]["Layers"].clone())
}

/// Imports busybox and saves it: (image id, its layers, the archive).
fn saved_busybox(t: &TempRoot) -> (String, serde_json::Value, std::path::PathBuf) {
    let id = t.busybox("busybox:latest");
    let (_, layers) = identity(t, "busybox");
    let arch = t.path("save.tar");
    t.ok(&["save", "-o", arch.to_str().unwrap(), "busybox"]);
    (id, layers, arch)
}

#[test]
fn skopeo_reads_doca_save_output() {
    require_root!();
    require_tool!("skopeo");
    let t = root();
    let (id, layers, arch) = saved_busybox(&t);
    let docker = json(&run(Command::new("skopeo").arg("inspect").arg(format!("docker-archive:{}", arch.display()))));
    assert_eq!(docker["Layers"], layers, "skopeo sees other layers through docker-archive");
    let oci = json(&run(Command::new("skopeo").arg("inspect").arg(format!("oci-archive:{}:latest", arch.display()))));
    assert_eq!(oci["Layers"], layers, "skopeo sees other layers through oci-archive");
    let cfg = json(&run(Command::new("skopeo").args(["inspect", "--config"]).arg(format!("docker-archive:{}", arch.display()))));
    assert_eq!(cfg["rootfs"]["diff_ids"], layers);
    // And copies it into an OCI layout directory (skopeo gzips the layers on the way; the
    // uncompressed content, the DiffIDs, stays the same).
    let dir = t.path("oci");
    run(Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("docker-archive:{}", arch.display()))
        .arg(format!("oci:{}:t", dir.display())));
    let copied = json(&run(Command::new("skopeo").args(["inspect", "--config"]).arg(format!("oci:{}:t", dir.display()))));
    assert_eq!(copied["rootfs"]["diff_ids"], layers, "skopeo's OCI copy has other content");
    // The OCI side of the archive names the same config doca stores.
    let raw = json(&run(Command::new("skopeo").args(["inspect", "--raw"]).arg(format!("oci-archive:{}:latest", arch.display()))));
    assert_eq!(raw["config"]["digest"], id.as_str());
}

#[test]
fn doca_loads_skopeo_archives() {
    require_root!();
    require_tool!("skopeo");
    let t = root();
    let (id, layers, arch) = saved_busybox(&t);
    let dk = t.path("sk-docker.tar");
    let oc = t.path("sk-oci.tar");
    run(Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("docker-archive:{}", arch.display()))
        .arg(format!("docker-archive:{}:sk/img:v1", dk.display())));
    run(Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("docker-archive:{}", arch.display()))
        .arg(format!("oci-archive:{}:sko/img:v2", oc.display())));
    let fresh = root();
    assert_eq!(fresh.ok(&["load", "-i", dk.to_str().unwrap()]), "Loaded image: sk/img:v1\n");
    assert_eq!(identity(&fresh, "sk/img:v1"), (id.clone(), layers.clone()), "docker-archive from skopeo: other config or layers");
    assert_eq!(fresh.ok(&["load", "-i", oc.to_str().unwrap()]), "Loaded image: sko/img:v2\n");
    // skopeo rewrites the config when it converts to OCI, but the layers are the same bytes.
    assert_eq!(identity(&fresh, "sko/img:v2").1, layers);
    assert!(fresh.ok(&["system", "check"]).contains("store is consistent"));
}

#[test]
fn podman_and_doca_exchange_images() {
    require_root!();
    require_tool!("podman");
    let t = root();
    let pm = doca_testkit::Podman::new(&t.path("podman"));
    let (id, layers, arch) = saved_busybox(&t);
    run(pm.cmd().args(["load", "-q", "-i"]).arg(&arch));
    let pid = run(pm.cmd().args(["image", "inspect", "--format", "{{.Id}}", "busybox:latest"]));
    assert_eq!(format!("sha256:{}", pid.trim()), id, "podman loaded another config");
    let dk = t.path("pm-docker.tar");
    let oc = t.path("pm-oci.tar");
    run(pm.cmd().args(["save", "-q", "--format", "docker-archive", "-o"]).arg(&dk).arg("busybox:latest"));
    run(pm.cmd().args(["save", "-q", "--format", "oci-archive", "-o"]).arg(&oc).arg("busybox:latest"));
    let fresh = root();
    let out = fresh.ok(&["load", "-i", dk.to_str().unwrap()]);
    assert!(out.contains("Loaded image: "), "{out}");
    let name = out.trim().trim_start_matches("Loaded image: ").to_string();
    assert_eq!(identity(&fresh, &name), (id.clone(), layers.clone()), "podman docker-archive: other config or layers");
    let fresh2 = root();
    // podman names the image in ref.name (`busybox:latest` or `localhost/busybox:latest`,
    // depending on how it was loaded): either way doca takes that name.
    let out = fresh2.ok(&["load", "-i", oc.to_str().unwrap()]);
    assert!(out.starts_with("Loaded image: ") && out.ends_with("busybox:latest\n"), "{out}");
    let name = out.trim().trim_start_matches("Loaded image: ").to_string();
    assert_eq!(identity(&fresh2, &name).1, layers, "podman oci-archive: other layers");
}

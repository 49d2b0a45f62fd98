//! A named volume's `_data` is what containers given the volume mount. The attack: a container
//! given the store's `volumes/` directory (`-v $ROOT/volumes:/vols`) replaced another volume's
//! `_data` with a symlink to `/`, and the next container with that volume had the host's root
//! (it read /etc/shadow). Binding the directories that hold volumes is refused (only the
//! inside of a `_data` stays reachable, as a bind), by any path and through the local driver's
//! `o=bind`; and a `_data` that is not a plain directory is never mounted.

use super::common::Env;

#[test]
fn a_volumes_data_cannot_be_swapped_for_the_hosts_root() {
    doca_testkit::require_root!();
    let e = Env::new();
    e.t.ok(&["volume", "create", "adv"]);
    let vols = e.t.root().join("volumes");
    let link = e.t.path("to-volumes");
    std::os::unix::fs::symlink(&vols, &link).unwrap();
    for src in [vols.clone(), vols.join("adv"), link.clone(), link.join("adv")] {
        let bind = format!("{}:/vols", src.display());
        let err = e.t.fails(&e.args("run", &["--rm", "-v", &bind, "busybox", "true"]), 125);
        assert!(err.contains("inside doca's store"), "{bind}: {err}");
    }
    for device in [vols.display().to_string(), link.display().to_string(), e.t.root().display().to_string()] {
        let err = e.t.fails(&["volume", "create", "-o", "type=none", "-o", "o=bind", "-o", &format!("device={device}"), "sneaky"], 1);
        assert!(err.contains("inside doca's store"), "{device}: {err}");
    }
    // The inside of a volume's data stays reachable as a bind, as with docker.
    e.run_ok(&["--rm", "-v", &format!("{}:/d", vols.join("adv/_data").display()), "busybox", "touch", "/d/ok"]);
    assert!(vols.join("adv/_data/ok").exists());
    // Whatever replaced `_data` (here the host itself, standing in for any way a container might
    // have), it is not mounted: no container gets the host's root through the volume.
    let data = vols.join("adv/_data");
    std::fs::rename(&data, vols.join("adv/_data.real")).unwrap();
    std::os::unix::fs::symlink("/", &data).unwrap();
    let o = e.t.run(&e.args("run", &["--rm", "-v", "adv:/x", "busybox", "cat", "/x/etc/shadow"]));
    std::fs::remove_file(&data).unwrap();
    std::fs::rename(vols.join("adv/_data.real"), &data).unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success() && !out.contains("root:"), "a container read the host's /etc/shadow through a volume: {out}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a directory"), "{}", String::from_utf8_lossy(&o.stderr));
}

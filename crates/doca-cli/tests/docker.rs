//! doca and a real Docker engine exchange archives. Needs a dockerd to talk to, which CI does
//! not start, so it is ignored by default:
//!   DOCA_TEST_DOCKER_HOST=unix:///tmp/d/docker.sock cargo test --test docker -- --ignored
//! It uses its own image names and removes them.

use doca_testkit::{require_root, TempRoot};
use std::process::Command;

fn docker(host: &str) -> Command {
    let mut c = Command::new("docker");
    c.arg("-H").arg(host);
    c
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(out.status.success(), "{cmd:?}:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "needs a dockerd: set DOCA_TEST_DOCKER_HOST and pass --ignored"]
fn docker_loads_doca_save_and_doca_loads_docker_save() {
    require_root!();
    let host = std::env::var("DOCA_TEST_DOCKER_HOST").expect("DOCA_TEST_DOCKER_HOST must name a dockerd socket");
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    let name = format!("doca-test/exchange:{}", std::process::id());
    struct Cleanup(String, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = docker(&self.0).args(["rmi", "-f", &self.1]).output();
        }
    }
    let _c = Cleanup(host.clone(), name.clone());
    let id = t.busybox(&name);
    let layers = t.ok(&["inspect", "--format", "{{json .RootFS.Layers}}", &name]);
    let arch = t.path("doca.tar");
    t.ok(&["save", "-o", arch.to_str().unwrap(), &name]);
    let out = run(docker(&host).args(["load", "-i"]).arg(&arch));
    assert!(out.contains(&format!("Loaded image: {name}")), "{out}");
    assert_eq!(run(docker(&host).args(["image", "inspect", "--format", "{{.Id}}", &name])).trim(), id);
    assert_eq!(run(docker(&host).args(["image", "inspect", "--format", "{{json .RootFS.Layers}}", &name])), layers);
    let back = t.path("docker.tar");
    run(docker(&host).args(["save", "-o"]).arg(&back).arg(&name));
    let fresh = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    assert_eq!(fresh.ok(&["load", "-i", back.to_str().unwrap()]), format!("Loaded image: {name}\n"));
    assert_eq!(fresh.ok(&["inspect", "--format", "{{.Id}}", &name]).trim(), id);
    assert!(fresh.ok(&["system", "check"]).contains("store is consistent"));
}

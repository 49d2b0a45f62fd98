//! dockerd drives doca-runc as it drives runc. Needs a dockerd started with doca-runc added as a
//! runtime, which CI does not do, so it is ignored by default:
//!   dockerd ... --add-runtime doca=$PWD/target/release/doca-runc &
//!   DOCA_TEST_DOCKER_HOST=unix:///path/docker.sock cargo test -p doca-runtime --test docker -- --ignored
//! The daemon needs a `busybox` image (e.g. `doca save busybox | docker load`).

use std::process::{Command, Output};

fn docker(args: &[&str]) -> Output {
    let host = std::env::var("DOCA_TEST_DOCKER_HOST").expect("DOCA_TEST_DOCKER_HOST must name a dockerd socket");
    Command::new("docker").arg("-H").arg(host).args(args).output().expect("run docker")
}

#[test]
#[ignore = "needs a dockerd with --add-runtime doca=...: set DOCA_TEST_DOCKER_HOST and pass --ignored"]
fn dockerd_runs_containers_on_doca_runc() {
    let run = |a: &[&str]| {
        let mut v = vec!["run", "--rm", "--runtime", "doca", "--network", "none"];
        v.extend_from_slice(a);
        docker(&v)
    };
    let o = run(&["busybox", "sh", "-c", "echo hello; grep Seccomp: /proc/self/status"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\nSeccomp:\t2\n", "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(run(&["busybox", "sh", "-c", "exit 5"]).status.code(), Some(5));
    let o = run(&[
        "-m",
        "64m",
        "--pids-limit",
        "20",
        "busybox",
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/pids/pids.max",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "67108864\n20\n");
    assert_eq!(run(&["busybox", "nosuch"]).status.code(), Some(127));
    let o = docker(&["run", "-d", "--runtime", "doca", "--network", "none", "busybox", "sleep", "100"]);
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(docker(&["stop", "-t", "1", &id]).status.success());
    assert_eq!(String::from_utf8_lossy(&docker(&["inspect", "-f", "{{.State.ExitCode}}", &id]).stdout).trim(), "137");
    assert!(docker(&["rm", &id]).status.success());
}

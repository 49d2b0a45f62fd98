//! Paths inside a container, as `doca cp` meets them: the container's symlinks pointing at
//! host paths, directories swapped for such symlinks while a copy runs, files swapped for
//! FIFOs, device nodes, the kernel's files under /proc. Each test checks the host side (a
//! host directory's listing, a host file's content, what a copy brought out), not only the
//! command's status.

use super::common::Env;
use std::path::Path;
use std::time::{Duration, Instant};

/// `swap A B`: exchanges A and B (renameat2 RENAME_EXCHANGE) as fast as it can.
const SWAP: &str = r##"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    printf("swapping\n");
    fflush(stdout);
    for (;;) {
        if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) < 0) {
            printf("renameat2: %s\n", strerror(errno));
            return 1;
        }
    }
}
"##;

/// A host directory with a file no container may see or change.
fn host_secret(e: &Env) -> std::path::PathBuf {
    let dir = e.t.path("host-secret");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), "host secret\n").unwrap();
    dir
}

/// A container exchanging its directory `/tmp/race/r` with `/tmp/race/l`, a symlink to the
/// host's secret directory, as fast as it can.
fn racing_container(e: &Env) -> String {
    let secret = host_secret(e);
    let tools = e.tools(&[("swap", &doca_testkit::c_program("swap", SWAP))]);
    let bind = format!("{}:/attack:ro", tools.display());
    let setup = format!(
        "mkdir -p /tmp/race/r && echo container > /tmp/race/r/file && ln -s {} /tmp/race/l && exec /attack/swap /tmp/race/r /tmp/race/l",
        secret.display()
    );
    let id = e.run_ok(&["-d", "-v", &bind, "busybox", "sh", "-c", &setup]);
    assert!(e.logs_until(&id, 10, |l| l.contains("swapping")).contains("swapping"));
    id
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Every file under `dir` whose content mentions the host's secret.
fn leaked(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(leaked(&p));
        } else if t.is_file() && std::fs::read_to_string(&p).unwrap_or_default().contains("host secret") {
            out.push(p.display().to_string());
        }
    }
    out
}

/// `doca cp FILE C:/tmp/d` where the container made `/tmp/d` a symlink to a host directory:
/// the copy lands in the container (the link resolves inside its root), never on the host;
/// for a running container and for a stopped one.
#[test]
fn cp_into_a_container_never_follows_its_symlinks_onto_the_host() {
    doca_testkit::require_root!();
    let e = Env::new();
    let secret = host_secret(&e);
    let payload = e.t.path("payload");
    std::fs::create_dir_all(payload.join("sub")).unwrap();
    std::fs::write(payload.join("sub/secret"), "overwritten by doca cp\n").unwrap();
    std::fs::write(e.t.path("file"), "overwritten by doca cp\n").unwrap();
    let links = format!("ln -s {0} /tmp/d && ln -s {0}/secret /tmp/f && ln -s {0} /tmp/dd", secret.display());
    let running = e.run_ok(&["-d", "busybox", "sh", "-c", &format!("{links} && sleep 600")]);
    let stopped = e.t.ok(&e.args("create", &["busybox", "sh", "-c", &links])).trim().to_string();
    e.t.ok(&["start", "-a", &stopped]);
    // Wait for the running container's links.
    let end = Instant::now() + Duration::from_secs(10);
    while e.t.run(&["exec", &running, "test", "-L", "/tmp/dd"]).status.code() != Some(0) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let file = e.t.path("file").display().to_string();
    let payload = payload.display().to_string();
    for c in [&running, &stopped] {
        for (src, dst) in [(&file, "/tmp/d"), (&file, "/tmp/f"), (&file, "/tmp/d/secret"), (&payload, "/tmp/d"), (&payload, "/tmp/dd/")] {
            let _ = e.t.run(&["cp", src, &format!("{c}:{dst}")]);
        }
    }
    assert_eq!(listing(&secret), ["secret"], "doca cp created files in the host directory");
    assert_eq!(std::fs::read_to_string(secret.join("secret")).unwrap(), "host secret\n", "doca cp overwrote the host file");
    // The copies went where the container sees them.
    let o = e.t.ok(&["exec", &running, "cat", "/tmp/f"]);
    assert_eq!(o, "overwritten by doca cp\n", "the link's target inside the container got the file");
    e.t.ok(&["rm", "-f", &running, &stopped]);
}

/// `doca cp C:/tmp/race/r/. out` while the container exchanges `r` (its own directory) with a
/// symlink to a host directory, as fast as it can: no copy ever brings a host file out.
#[test]
fn cp_out_of_a_racing_container_never_copies_host_files() {
    doca_testkit::require_root!();
    let e = Env::new();
    let id = racing_container(&e);
    let out = e.t.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut copied = 0;
    for i in 0..200 {
        // Into an existing directory, the shape that leaked 22 of 200 copies before doca-fs.
        let dest = out.join(format!("c{i}"));
        std::fs::create_dir(&dest).unwrap();
        let src = if i % 2 == 0 { format!("{id}:/tmp/race/r/.") } else { format!("{id}:/tmp/race/r") };
        if e.t.run(&["cp", &src, &format!("{}/", dest.display())]).status.success() {
            copied += 1;
        }
    }
    let logs = e.t.ok(&["logs", &id]);
    assert!(!logs.contains("renameat2:"), "the swapper stopped: {logs}");
    assert!(copied > 0, "no copy succeeded, so nothing was tested");
    assert_eq!(leaked(&out), Vec::<String>::new(), "doca cp copied the host's files out of a container");
    e.t.ok(&["rm", "-f", &id]);
}

/// A file swapped with a FIFO while `doca cp` copies it: the copy never opens the FIFO (an
/// open that would never return), and every copy ends.
#[test]
fn cp_of_a_file_swapped_with_a_fifo_never_hangs() {
    doca_testkit::require_root!();
    let e = Env::new();
    let tools = e.tools(&[("swap", &doca_testkit::c_program("swap", SWAP))]);
    let bind = format!("{}:/attack:ro", tools.display());
    let id =
        e.run_ok(&["-d", "-v", &bind, "busybox", "sh", "-c", "echo data > /tmp/f && mkfifo /tmp/p && exec /attack/swap /tmp/f /tmp/p"]);
    assert!(e.logs_until(&id, 10, |l| l.contains("swapping")).contains("swapping"));
    let out = e.t.path("out");
    std::fs::create_dir_all(&out).unwrap();
    for i in 0..60 {
        let mut child = e.t.cmd().args(["cp", &format!("{id}:/tmp/f"), out.join(format!("f{i}")).to_str().unwrap()]).spawn().unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() > end {
                let _ = child.kill();
                let _ = child.wait();
                panic!("doca cp hung on a FIFO the container swapped in (copy {i})");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    e.t.ok(&["rm", "-f", &id]);
}

/// What a container put in its filesystem that must not reach the host through a copy: a
/// device node (it would give a local user the host's disk outside the container's device
/// cgroup); and a copy into the container's /proc/sys must not set the host's kernel.
#[test]
fn cp_brings_no_device_out_and_writes_no_kernel_setting() {
    doca_testkit::require_root!();
    let e = Env::new();
    let id = e.run_ok(&[
        "-d",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "mkdir /tmp/nodes && mknod /tmp/nodes/disk b 7 0 && mknod /tmp/nodes/mem c 1 1 && echo ok > /tmp/nodes/file && sleep 600",
    ]);
    let end = Instant::now() + Duration::from_secs(10);
    while e.t.run(&["exec", &id, "test", "-f", "/tmp/nodes/file"]).status.code() != Some(0) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = e.t.path("out");
    e.t.ok(&["cp", &format!("{id}:/tmp/nodes"), out.to_str().unwrap()]);
    assert_eq!(listing(&out), ["file"], "device nodes came out of the container");
    let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let pattern = e.t.path("core_pattern");
    std::fs::write(&pattern, "|/tmp/doca-attack-core-helper\n").unwrap();
    let o = e.t.run(&["cp", pattern.to_str().unwrap(), &format!("{id}:/proc/sys/kernel/core_pattern")]);
    assert!(!o.status.success(), "a copy into /proc/sys succeeded");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(), before, "the host's core_pattern changed");
    e.t.ok(&["rm", "-f", &id]);
}

/// A running container's volumes are where a copy goes and comes from, as the container sees
/// them (a copy into the writable layer under the mount would vanish).
#[test]
fn cp_sees_a_running_containers_volumes() {
    doca_testkit::require_root!();
    let e = Env::new();
    let id = e.run_ok(&["-d", "-v", "attack-data:/data", "busybox", "sleep", "600"]);
    std::fs::write(e.t.path("in"), "into the volume\n").unwrap();
    e.t.ok(&["cp", e.t.path("in").to_str().unwrap(), &format!("{id}:/data/in")]);
    assert_eq!(e.t.ok(&["exec", &id, "cat", "/data/in"]), "into the volume\n");
    let data = e.t.root().join("volumes/attack-data/_data/in");
    assert_eq!(std::fs::read_to_string(data).unwrap(), "into the volume\n");
    e.t.ok(&["exec", &id, "sh", "-c", "echo from the volume > /data/out"]);
    let out = e.t.path("out");
    e.t.ok(&["cp", &format!("{id}:/data/out"), out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(out).unwrap(), "from the volume\n");
    e.t.ok(&["rm", "-f", &id]);
    e.t.ok(&["volume", "rm", "attack-data"]);
}

/// `export`, `diff` and `commit` walk a running container's filesystem while it exchanges a
/// directory with a symlink to a host directory: what they write never holds the host's files
/// (the walk reaches each entry from its parent's descriptor and never follows a link).
#[test]
fn export_diff_and_commit_of_a_racing_container_never_read_host_files() {
    doca_testkit::require_root!();
    let e = Env::new();
    let id = racing_container(&e);
    let contains_secret = |bytes: &[u8]| bytes.windows(11).any(|w| w == b"host secret");
    for i in 0..15 {
        let o = e.t.run(&["export", &id]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(!contains_secret(&o.stdout), "export {i} holds the host's file");
        let d = e.t.ok(&["diff", &id]);
        assert!(!d.contains("secret"), "diff {i} listed the host's file: {d}");
        let img = format!("racing:{i}");
        e.t.ok(&["commit", &id, &img]);
        let saved = e.t.path(&format!("racing-{i}.tar"));
        e.t.ok(&["save", "-o", saved.to_str().unwrap(), &img]);
        assert!(!contains_secret(&std::fs::read(&saved).unwrap()), "commit {i} holds the host's file");
    }
    e.t.ok(&["rm", "-f", &id]);
}

//! Kill -9 at random moments of load, rmi and prune: the store stays consistent (nothing an
//! image references is missing or corrupt), `system check --repair` reclaims what the dead
//! process left, and the next load works.

use doca_testkit::{docker_archive, require_root, ArchiveImage, Layer, TempRoot};
use std::process::Stdio;
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

fn consistent(t: &TempRoot, what: &str) {
    let o = t.run(&["system", "check"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("store is consistent"), "after {what}:\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn killed_load_rmi_prune_leave_a_consistent_store() {
    require_root!();
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    let seed = std::env::var("DOCA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    eprintln!("crash test seed: {seed} (DOCA_CRASH_SEED={seed} reproduces the kill times)");
    let mut rng = Rng(seed);
    // Several layers of many files, so that a kill lands inside ingest, unpack, commit or release.
    let layers: Vec<Vec<u8>> = (0..4)
        .map(|l| {
            let mut b = Layer::new();
            for f in 0..400 {
                b.file(&format!("l{l}/d{}/f{f}", f % 20), &vec![(l * 7 + f) as u8; 2048 + f * 13]);
            }
            b.file(&format!("l{l}/big"), &vec![l as u8 + 1; 3 << 20]);
            b.finish()
        })
        .collect();
    let (bytes, _) = docker_archive(&[
        ArchiveImage { layers: layers[..2].to_vec(), tags: vec!["c:a".into()], created: "2024-01-01T00:00:00Z".into() },
        ArchiveImage { layers: layers.clone(), tags: vec!["c:b".into()], created: "2024-01-02T00:00:00Z".into() },
    ]);
    let arch = t.path("crash.tar");
    std::fs::write(&arch, bytes).unwrap();
    let arch = arch.to_str().unwrap().to_string();

    let load: Vec<String> = vec!["load".into(), "-q".into(), "-i".into(), arch.clone()];
    let rmi: Vec<String> = vec!["rmi".into(), "c:a".into(), "c:b".into()];
    let prune: Vec<String> = vec!["image".into(), "prune".into(), "-a".into(), "-f".into()];
    // How long each operation takes here bounds its kill times (the shortest of three runs).
    let timed = |op: &[String]| {
        let start = Instant::now();
        let st = t.cmd().args(op).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        assert!(st.success(), "{op:?}");
        start.elapsed().as_micros() as u64
    };
    let mut took = [u64::MAX; 3];
    for _ in 0..3 {
        took[0] = took[0].min(timed(&load));
        took[1] = took[1].min(timed(&rmi));
        timed(&load);
        took[2] = took[2].min(timed(&prune));
    }

    let mut killed = 0;
    for i in 0..36 {
        let k = i % 3;
        if k > 0 {
            // rmi and prune need something to remove.
            t.run(&["load", "-q", "-i", &arch]);
        }
        let op = [&load, &rmi, &prune][k];
        let delay = Duration::from_micros(rng.next() % took[k].max(500));
        let mut child = t.cmd().args(op).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        consistent(&t, &format!("kill of {op:?} after {delay:?}"));
        if i % 4 == 3 {
            let r = t.ok(&["system", "check", "--repair"]);
            assert!(r.contains("store is consistent"), "{r}");
            let again = t.ok(&["system", "check"]);
            assert!(!again.contains("dangling"), "repair left dangling content:\n{again}");
        }
    }
    eprintln!("{killed} of 36 operations were killed mid-way");
    assert!(killed >= 6, "too few operations were killed mid-way ({killed}); the test is not testing anything");
    // After all that, the images load and list as before.
    t.ok(&["system", "check", "--repair"]);
    t.ok(&["load", "-q", "-i", &arch]);
    let listed = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(listed.contains("c:a") && listed.contains("c:b"), "{listed}");
    consistent(&t, "final load");
    let check = t.ok(&["system", "check"]);
    assert!(!check.contains("problem"), "{check}");
}

/// A store whose doca.db was emptied (or lost) while its content is still there is refused by
/// every command, `system check --repair` included, and its content stays (before, an empty
/// database was made, `check` called every blob dangling, and `--repair` would delete them).
#[test]
fn an_emptied_database_is_refused_and_no_content_is_deleted() {
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    t.busybox("busybox:latest");
    let blobs = || std::fs::read_dir(t.root().join("blobs/sha256")).unwrap().count();
    let before = blobs();
    assert!(before > 0);
    for f in ["doca.db-wal", "doca.db-shm"] {
        let _ = std::fs::remove_file(t.root().join(f));
    }
    std::fs::write(t.root().join("doca.db"), b"").unwrap();
    for args in [vec!["images"], vec!["system", "check"], vec!["system", "check", "--repair"], vec!["system", "prune", "-a", "-f"]] {
        let o = t.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("missing or empty"), "{args:?}: {err}");
    }
    assert_eq!(blobs(), before, "content was deleted");
    std::fs::remove_file(t.root().join("doca.db")).unwrap();
    assert!(String::from_utf8_lossy(&t.run(&["images"]).stderr).contains("missing or empty"));
    assert_eq!(blobs(), before);
}

/// Waits until `cond` holds (at most 30 s).
fn until(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What SIGKILLed processes leave behind: a runtime killed in `create` (its state directory
/// with exec.fifo, the container's cgroups), a `doca start` killed while the runtime works (the
/// rootfs mounted, the network held), a `doca build` killed during a RUN (the step's container,
/// running, and the build's temp directory). `system check` reports each, `--repair` takes
/// each away, and afterwards nothing of them is left on the host.
#[test]
fn system_check_repairs_what_killed_runtimes_starts_and_builds_left() {
    require_root!();
    let env = doca_testkit::ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-crash");
    let t = &env.t;
    let runc = std::path::Path::new(env!("CARGO_BIN_EXE_doca")).with_file_name("doca-runc");
    // A runtime whose `create` is SIGKILLed once the container's cgroup exists, and one whose
    // `create` never returns (the engine is killed while it waits).
    let killed = t.path("killed-runtime");
    std::fs::write(
        &killed,
        format!(
            "#!/bin/sh\nfor a; do last=$a; done\ncase \" $* \" in *\" create \"*)\n  {runc} \"$@\" & pid=$!\n  n=0\n  while ! ls -d /sys/fs/cgroup/*/{parent}/$last >/dev/null 2>&1 && [ $n -lt 1000 ]; do n=$((n+1)); sleep 0.005; done\n  kill -9 $pid; exit 137;;\nesac\nexec {runc} \"$@\"\n",
            runc = runc.display(),
            parent = env.cgroup
        ),
    )
    .unwrap();
    let stuck = t.path("stuck-runtime");
    let stuck_pid = t.path("stuck.pid");
    std::fs::write(
        &stuck,
        format!(
            "#!/bin/sh\ncase \" $* \" in *\" create \"*) echo $$ > {}; exec sleep 600;; esac\nexec {} \"$@\"\n",
            stuck_pid.display(),
            runc.display()
        ),
    )
    .unwrap();
    for p in [&killed, &stuck] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let o = t.run(&env.args("run", &["-d", "--name", "killed", "--runtime", killed.to_str().unwrap(), "busybox", "sleep", "600"]));
    assert!(!o.status.success());
    let c = t.ok(&env.args("create", &["--name", "stuck", "--runtime", stuck.to_str().unwrap(), "busybox", "sleep", "600"]));
    let mut start = t.cmd().args(["start", c.trim()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let merged = t.root().join("containers").join(c.trim()).join("merged");
    until("the stuck start's rootfs", || std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(merged.to_str().unwrap()));
    until("the stuck runtime", || stuck_pid.exists());
    let _ = start.kill();
    let _ = start.wait();
    let _ =
        std::process::Command::new("pkill").args(["-9", "-f", &format!("{}/run/containers/{}", t.dir.path().display(), c.trim())]).status();
    if let Ok(pid) = std::fs::read_to_string(&stuck_pid) {
        let _ = std::process::Command::new("kill").args(["-9", pid.trim()]).status();
    }
    // A build killed during a RUN step.
    let ctx = t.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN sleep 600\n").unwrap();
    let mut build = t
        .cmd()
        .args(["build", "--cgroup-parent", env.cgroup.as_str(), "--network", "none", "-t", "never:1", ctx.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until("the build's RUN container", || t.ok(&["ps", "-q"]).lines().count() == 1);
    let _ = build.kill();
    let _ = build.wait();

    let o = t.run(&["system", "check"]);
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    for want in [
        "runtime state of stopped container",
        "cgroup of stopped container killed",
        "rootfs of stopped container",
        "of interrupted build",
        "temp directory of interrupted build",
    ] {
        assert!(report.contains(want), "`system check` did not report {want:?}:\n{report}");
    }
    let o = t.run(&["system", "check", "--repair"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = t.ok(&["system", "check"]);
    assert!(!after.contains("dangling:"), "left after --repair:\n{after}");
    assert!(!std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(t.dir.path().to_str().unwrap()), "a mount is left");
    let cg: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .flat_map(|h| std::fs::read_dir(h.path().join(&env.cgroup)).into_iter().flatten().flatten())
        .filter(|d| d.path().is_dir())
        .map(|d| d.path())
        .collect();
    assert!(cg.is_empty(), "cgroups left: {cg:?}");
    assert_eq!(t.ok(&["ps", "-q"]), "", "the build's container still runs");
    assert!(std::fs::read_dir(t.root().join("tmp")).map(|d| d.count()).unwrap_or(0) == 0, "the build's temp directory is left");
    // No process of the store is left either: the killed runtime's init died with it (before,
    // it held both ends of its sync socket and waited forever).
    let left = std::process::Command::new("pgrep").args(["-af", t.dir.path().to_str().unwrap()]).output().unwrap();
    assert!(left.stdout.is_empty(), "processes left: {}", String::from_utf8_lossy(&left.stdout));
}

//! `--userns=auto` as root, for real: the container's root is an unprivileged id on the host,
//! two containers never share ids, and what the container does to host files it can reach
//! (a bind mount holding a root-only file, a setuid binary it makes) gets it nothing more than
//! that unprivileged id has. Layers and volumes keep the container's own ids on disk.

use doca_testkit::{require_root, ContainerEnv};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Output;

/// The ids the tests hand out: far above any real user's.
const START: u32 = 2_100_000_000;

struct Env {
    e: ContainerEnv,
    config: PathBuf,
}

impl Env {
    fn new() -> Env {
        let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-userns");
        // Searchable by others, as /run is: the container's root reaches its own area below.
        std::fs::set_permissions(e.t.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = e.t.path("config.json");
        let range = format!("{{\"start\": {START}, \"count\": {}}}", 4 * 65536);
        std::fs::write(&config, format!("{{\"subordinate-ids\": {{\"uid\": {range}, \"gid\": {range}}}}}")).unwrap();
        Env { e, config }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.e.t.cmd().env("DOCA_CONFIG", &self.config).args(args).stdin(std::process::Stdio::null()).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "doca {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `run ARGS` with the test's cgroup parent.
    fn run_ok(&self, args: &[&str]) -> String {
        self.ok(&self.e.args("run", args))
    }

    /// Until `path` exists in container `id` (its command writes it), for 20 s at most.
    fn wait_file(&self, id: &str, path: &str) {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.run(&["exec", id, "test", "-f", path]).status.code() != Some(0) && std::time::Instant::now() < end {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn host_uid(&self, id: &str) -> (String, u32) {
        let pid = self.ok(&["inspect", "-f", "{{.State.Pid}}", id]).trim().to_string();
        let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
        (map.split_whitespace().collect::<Vec<_>>().join(" "), uid)
    }
}

fn sha256(p: &std::path::Path) -> String {
    let o = std::process::Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

#[test]
fn the_containers_root_is_an_unprivileged_id_and_two_containers_never_share_ids() {
    require_root!();
    let env = Env::new();
    let a = env.run_ok(&["-d", "--userns", "auto", "busybox", "sleep", "300"]).trim().to_string();
    let b = env.run_ok(&["-d", "--userns", "auto", "busybox", "sleep", "300"]).trim().to_string();
    let (map_a, uid_a) = env.host_uid(&a);
    let (map_b, uid_b) = env.host_uid(&b);
    assert_eq!(map_a, format!("0 {START} 65536"));
    assert_eq!(uid_a, START, "the init runs as the range's first id on the host");
    assert_eq!(map_b, format!("0 {} 65536", START + 65536), "a second container gets the next range");
    assert_eq!(uid_b, START + 65536);
    // Root inside, with the image's files its own; exec lands in the namespace too.
    assert_eq!(env.ok(&["exec", &a, "sh", "-c", "id -u; stat -c '%u %g' /bin/busybox /etc/hosts"]), "0\n0 0\n0 0\n");
    let pid = env.ok(&["exec", "-d", &a, "sleep", "200"]);
    assert!(pid.is_empty());
    let execs = std::process::Command::new("pgrep").args(["-u", &START.to_string(), "-f", "sleep 200"]).output().unwrap();
    assert!(execs.status.success(), "the exec'd process runs as the container's host id");
    assert_eq!(env.ok(&["inspect", "-f", "{{.HostConfig.UsernsMode}}", &a]), "auto\n");
    // doca's init and a tmpfs, mounted over targets made for the namespace's root.
    let init = env.run_ok(&[
        "--rm",
        "--userns",
        "auto",
        "--init",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "head -c 17 /proc/1/cmdline; echo; touch /scratch/x && stat -c %u /scratch/x",
    ]);
    assert_eq!(init, "/sbin/docker-init\n0\n");
    // A freed range is given again.
    env.ok(&["rm", "-f", &a]);
    let c = env.run_ok(&["-d", "--userns", "auto", "busybox", "sleep", "300"]).trim().to_string();
    assert_eq!(env.host_uid(&c).0, format!("0 {START} 65536"));
    env.ok(&["rm", "-f", &b, &c]);
    assert!(std::fs::read_dir(env.e.t.path("run/userns")).unwrap().next().is_none(), "the areas go with their containers");
}

/// The attack: a container's root goes after host files bound into it (a root-only secret, a
/// root-owned directory), and plants a setuid-root binary where the host can run it. It can do
/// only what its unprivileged host id can: nothing on the host changes, and the binary it
/// made is its own id's, not root's.
#[test]
fn host_files_bound_in_keep_their_owners_and_a_planted_setuid_binary_is_not_roots() {
    require_root!();
    let env = Env::new();
    let shared = env.e.t.path("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = shared.join("shadow");
    std::fs::write(&secret, "root:secret-hash:19000::::::\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = sha256(&secret);
    // A directory the container may write: its root's, on the host.
    let drop = env.e.t.path("drop");
    std::fs::create_dir(&drop).unwrap();
    std::os::unix::fs::chown(&drop, Some(START), Some(START)).unwrap();
    let bind = format!("{}:/shared", shared.display());
    let bind_drop = format!("{}:/drop", drop.display());
    let out = env.run_ok(&[
        "--rm",
        "--userns",
        "auto",
        "-v",
        &bind,
        "-v",
        &bind_drop,
        "busybox",
        "sh",
        "-c",
        "cat /shared/shadow || echo no-read; echo x >> /shared/shadow || echo no-write; chmod 666 /shared/shadow || echo no-chmod; \
         chown 0:0 /shared/shadow || echo no-chown; touch /shared/new || echo no-create; \
         cp /bin/busybox /drop/suid && chmod 4755 /drop/suid && echo planted",
    ]);
    assert_eq!(out.lines().filter(|l| l.starts_with("no-")).count(), 5, "{out}");
    assert!(out.contains("planted") && !out.contains("secret-hash"), "{out}");
    assert_eq!(sha256(&secret), before, "the host file is untouched");
    let md = std::fs::metadata(&secret).unwrap();
    assert_eq!((md.uid(), md.mode() & 0o7777), (0, 0o600));
    assert!(!shared.join("new").exists());
    // The setuid binary is owned by the container's root on the host: run by another user it
    // gives that unprivileged id, not root.
    let suid = drop.join("suid");
    let md = std::fs::metadata(&suid).unwrap();
    assert_eq!(md.uid(), START, "the planted binary is the container root's host id's");
    let o = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&suid)
        .args(["id", "-u"])
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&o.stdout).trim(), "0", "the planted setuid binary ran as root");
}

/// Layers and volumes keep the container's ids on disk: what it writes to its rootfs is
/// committed as root's files, a volume it fills is another container's root's too, and `cp`
/// and `export` speak the container's ids, running or stopped.
#[test]
fn layers_volumes_cp_and_export_keep_the_containers_own_ids() {
    require_root!();
    let env = Env::new();
    let a = env
        .run_ok(&[
            "-d",
            "--userns",
            "auto",
            "-v",
            "data:/data",
            "busybox",
            "sh",
            "-c",
            "echo r > /rootfile; echo b > /bobfile; chown 1000:1000 /bobfile; echo v > /data/v; sleep 300",
        ])
        .trim()
        .to_string();
    env.wait_file(&a, "/data/v");
    let upper = env.e.t.root().join("containers").join(&a).join("upper");
    let owner = |p: PathBuf| {
        let m = std::fs::metadata(p).unwrap();
        (m.uid(), m.gid())
    };
    assert_eq!(owner(upper.join("rootfile")), (0, 0), "stored with the container's ids");
    assert_eq!(owner(upper.join("bobfile")), (1000, 1000));
    assert_eq!(owner(env.e.t.root().join("volumes/data/_data/v")), (0, 0));
    // cp in and out of the running container, and export, in the container's ids.
    let input = env.e.t.path("in.txt");
    std::fs::write(&input, "in\n").unwrap();
    env.ok(&["cp", input.to_str().unwrap(), &format!("{a}:/in.txt")]);
    assert_eq!(env.ok(&["exec", &a, "stat", "-c", "%u %g", "/in.txt"]), "0 0\n");
    assert_eq!(owner(upper.join("in.txt")), (0, 0));
    let out = env.e.t.path("bob.out");
    env.ok(&["cp", "-a", &format!("{a}:/bobfile"), out.to_str().unwrap()]);
    assert_eq!(owner(out), (1000, 1000));
    let o = env.e.t.cmd().args(["export", &a]).output().unwrap();
    let mut ar = tar::Archive::new(&o.stdout[..]);
    let bob = ar.entries().unwrap().flatten().find(|e| e.path().unwrap().to_str() == Some("bobfile")).unwrap();
    assert_eq!((bob.header().uid().unwrap(), bob.header().gid().unwrap()), (1000, 1000));
    // commit: the layer has root's and bob's files, as without a user namespace.
    env.ok(&["commit", &a, "userns-snap"]);
    let plain = env.run_ok(&["--rm", "userns-snap", "stat", "-c", "%u %n", "/rootfile", "/bobfile"]);
    assert_eq!(plain, "0 /rootfile\n1000 /bobfile\n");
    // The volume, in another container with another range: its root's file.
    let b = env.run_ok(&["--rm", "--userns", "auto", "-v", "data:/data", "busybox", "stat", "-c", "%u", "/data/v"]);
    assert_eq!(b, "0\n");
    // A fresh volume over an image directory is filled from it with the image's ids on disk
    // (read through the idmapped rootfs).
    env.run_ok(&["--rm", "--userns", "auto", "-v", "etc:/etc", "busybox", "true"]);
    assert_eq!(owner(env.e.t.root().join("volumes/etc/_data/passwd")), (0, 0));
    env.ok(&["rm", "-f", &a]);
}

#[test]
fn what_needs_the_hosts_namespaces_is_refused_with_a_user_namespace() {
    require_root!();
    let env = Env::new();
    let before = env.ok(&["ps", "-aq"]);
    for (flag, value) in [("--privileged", None), ("--pid", Some("host")), ("--network", Some("host")), ("--ipc", Some("host"))] {
        let mut args = vec!["run", "--rm", "--userns", "auto", flag];
        args.extend(value);
        args.extend(["busybox", "true"]);
        let o = env.run(&args);
        assert_eq!(o.status.code(), Some(125), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("incompatible with user namespaces"), "{args:?}");
    }
    let o = env.run(&["run", "--rm", "--userns", "sometimes", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid user namespace mode \"sometimes\""));
    // No subordinate ids anywhere: said how to give some.
    if !std::fs::read_to_string("/etc/subuid").unwrap_or_default().lines().any(|l| l.starts_with("root:") || l.starts_with("0:")) {
        let o = env
            .e
            .t
            .cmd()
            .env("DOCA_CONFIG", env.e.t.path("none.json"))
            .args(["run", "--rm", "--userns", "auto", "busybox", "true"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(125));
        assert!(String::from_utf8_lossy(&o.stderr).contains("/etc/subuid"), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(env.ok(&["ps", "-aq"]), before, "nothing was made");
}

/// `userns_mode: auto` in a compose project: each service's containers get a range of their
/// own, and a volume two services share is each one's root's.
#[test]
fn compose_services_get_ranges_of_their_own_and_share_a_volume() {
    require_root!();
    let env = Env::new();
    let dir = env.e.t.path("proj");
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = format!(
        "services:\n  writer:\n    image: busybox\n    userns_mode: auto\n    cgroup_parent: {c}\n    command: sh -c 'echo w > /data/w; sleep 300'\n    volumes: [shared:/data]\n  reader:\n    image: busybox\n    userns_mode: auto\n    cgroup_parent: {c}\n    command: sleep 300\n    volumes: [shared:/data]\n    depends_on: [writer]\nvolumes:\n  shared: {{}}\n",
        c = env.e.cgroup
    );
    std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
    let compose = |args: &[&str]| {
        let o = env.e.t.cmd().env("DOCA_CONFIG", &env.config).arg("compose").args(args).current_dir(&dir).output().unwrap();
        assert!(o.status.success(), "compose {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    compose(&["up", "-d"]);
    let (map_w, _) = env.host_uid("proj-writer-1");
    let (map_r, _) = env.host_uid("proj-reader-1");
    assert_ne!(map_w, map_r, "each container its own range");
    env.wait_file("proj-reader-1", "/data/w");
    assert_eq!(env.ok(&["exec", "proj-reader-1", "stat", "-c", "%u", "/data/w"]), "0\n", "the writer's root's file is the reader's root's");
    compose(&["down", "-v", "-t", "0"]);
}

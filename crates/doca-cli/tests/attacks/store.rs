//! Another local user gets nothing from doca's store and run root: not the metadata, not a
//! container's config with its `-e` secrets, not the setuid binary a container left in its
//! writable layer (with it, `nobody` read /etc/shadow: the class of CVE-2021-41091), and not
//! doca's locks (any process that can open a lock file can flock it and hang every doca
//! command). The attacker here is uid 65534 through setpriv(1).

use super::common::Env;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

/// Runs `script` as uid/gid 65534 with no supplementary groups; returns stdout and stderr.
fn as_nobody(script: &str) -> String {
    let o = Command::new("setpriv").args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", "sh", "-c", script]).output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_local_user_reaches_nothing_in_the_store() {
    doca_testkit::require_root!();
    doca_testkit::require_tool!("setpriv");
    let e = Env::new();
    // The test's directory is traversable, as /var/lib and /run are: only doca's own modes
    // stand between the store and the attacker.
    std::fs::set_permissions(e.t.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let id =
        e.run_ok(&["-d", "-e", "SECRET=hunter2", "busybox", "sh", "-c", "cp /bin/busybox /tmp/suid && chmod 4755 /tmp/suid && sleep 600"]);
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while e.t.run(&["exec", &id, "test", "-u", "/tmp/suid"]).status.code() != Some(0) && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (root, run) = (e.t.root(), e.t.path("run"));
    let cdir = root.join("containers").join(&id);
    let suid = cdir.join("upper/tmp/suid");
    assert_eq!(mode(&suid), 0o4755, "the container made its setuid binary");
    let out = as_nobody(&format!(
        "id -u; cat {root}/doca.db {c}/config.json {c}/{id}-json.log; ls {root} {root}/containers {run}; \
         {suid} id -u; {suid} cat /etc/shadow; flock -n {root}/store.lock -c 'echo LOCKED'; \
         flock -n /run/doca-networks.lock -c 'echo LOCKED'",
        root = root.display(),
        c = cdir.display(),
        run = run.display(),
        suid = suid.display(),
    ));
    assert!(out.starts_with("65534\n"), "the attacker is not nobody: {out}");
    assert!(!out.contains("hunter2"), "a local user read a container's secret:\n{out}");
    assert!(!out.contains("root:"), "a local user read /etc/shadow through a container's setuid binary:\n{out}");
    assert!(!out.lines().skip(1).any(|l| l.trim() == "0"), "a local user ran a container's setuid binary as root:\n{out}");
    assert!(!out.contains("LOCKED"), "a local user took one of doca's locks:\n{out}");
    assert!(!out.contains("containers\n") && !out.contains("doca.db\n"), "a local user listed the store:\n{out}");
    // doca itself, run by that user (rootless) on this store: refused, naming the run root
    // that is not theirs.
    let own = as_nobody(&format!("DOCA_ROOT={} DOCA_RUN_ROOT={} {} ps", root.display(), run.display(), e.t.bin.display()));
    assert!(own.contains("refusing it as doca's run root") && !own.contains("hunter2"), "{own}");
    // And the modes that make it so.
    for (p, want) in [
        (root.clone(), 0o700),
        (run.clone(), 0o700),
        (root.join("doca.db"), 0o600),
        (root.join("store.lock"), 0o600),
        (cdir.join("config.json"), 0o600),
        (cdir.join(format!("{id}-json.log")), 0o600),
        (Path::new("/run/doca-networks.lock").to_path_buf(), 0o600),
    ] {
        assert_eq!(mode(&p), want, "{}", p.display());
    }
    e.t.ok(&["rm", "-f", &id]);
}

//! doca-runc against the real kernel, as root: lifecycle, the process as the spec says, the
//! filesystem protections, cgroup v1 limits, errors that leave nothing behind, and attacks.
//! scripts/test.sh runs the file a second time rootless (`DOCA_RT_ROOTLESS=1`): doca-runc as
//! uid 65534 on bundles that user owns; the tests of what only root can do say why and return.

use doca_testkit::require_root;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Bundle {
    dir: tempfile::TempDir,
    id: String,
}

/// The doca-runc under test: this build's, or the one DOCA_TEST_RUNC names (scripts/test.sh runs
/// these tests again against the static build that scripts/dist.sh installs).
fn runc_path() -> PathBuf {
    std::env::var_os("DOCA_TEST_RUNC").map(PathBuf::from).unwrap_or_else(|| env!("CARGO_BIN_EXE_doca-runc").into())
}

/// `DOCA_RT_ROOTLESS=1` (scripts/test.sh's second pass): doca-runc runs as uid 65534, the
/// user every bundle then belongs to, each spec with a user namespace that maps that user to
/// root (runc's rootless mode). A test of what only root can do says so and returns.
fn rootless() -> bool {
    std::env::var_os("DOCA_RT_ROOTLESS").is_some()
}

/// doca-runc for the bundle in `dir`: rootless, as uid 65534 from the copy `Bundle::new` put
/// in the bundle (the user reaches it there; it goes with the bundle).
fn runc(dir: &Path) -> Command {
    if rootless() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(dir.join("doca-runc"));
        return c;
    }
    Command::new(runc_path())
}

/// Returns from a test of what a rootless runtime cannot do, saying why.
macro_rules! rootful_only {
    ($why:expr) => {
        if rootless() {
            eprintln!("skipped rootless: {}", $why);
            return;
        }
    };
}

/// The spec of a rootless container: a user namespace mapping uid 65534 to root, and no
/// devpts gid=5 (a group the one-id map does not have).
fn rootless_spec(s: &mut Value) {
    s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 65534, "size": 1}]);
    s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 65534, "size": 1}]);
    for m in s["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/dev/pts" {
            let opts: Vec<Value> =
                m["options"].as_array().unwrap().iter().filter(|o| !o.as_str().unwrap().starts_with("gid=")).cloned().collect();
            m["options"] = json!(opts);
        }
    }
}

impl Bundle {
    /// A busybox bundle with doca-runc's default spec, `edit`ed, and a state root of its own.
    fn new(edit: impl FnOnce(&mut Value)) -> Bundle {
        let dir = tempfile::Builder::new().prefix("doca-rt-").tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir(&rootfs).unwrap();
        let st = Command::new("tar").arg("-C").arg(&rootfs).arg("-xf").arg(doca_testkit::busybox_tar()).status().unwrap();
        assert!(st.success());
        let st = Command::new(runc_path()).args(["spec", "--bundle"]).arg(dir.path()).status().unwrap();
        assert!(st.success());
        let p = dir.path().join("config.json");
        let mut spec: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        spec["process"]["terminal"] = json!(false);
        let id =
            format!("doca-rt-{}-{}", std::process::id(), dir.path().file_name().unwrap().to_string_lossy().trim_start_matches("doca-rt-"));
        spec["linux"]["cgroupsPath"] = json!(format!("/doca-test/{id}"));
        if rootless() {
            rootless_spec(&mut spec);
        }
        edit(&mut spec);
        std::fs::write(&p, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        if rootless() {
            std::fs::copy(runc_path(), dir.path().join("doca-runc")).unwrap();
            let st = Command::new("chown").args(["-R", "65534:65534"]).arg(dir.path()).status().unwrap();
            assert!(st.success());
        }
        Bundle { dir, id }
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    /// Runs doca-runc on this bundle's state root (`captured`).
    fn cmd(&self, args: &[&str]) -> Output {
        let mut c = runc(self.dir.path());
        c.arg("--root").arg(self.root()).args(args);
        captured(c)
    }
    fn run(&self) -> Output {
        let b = self.dir.path().to_str().unwrap().to_string();
        self.cmd(&["run", "--bundle", &b, &self.id])
    }
    /// Mounts, cgroup directories, state entries and processes that belong to this bundle.
    fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        let base = self.dir.path().to_str().unwrap();
        for l in std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines() {
            if l.contains(base) {
                out.push(format!("mount: {l}"));
            }
        }
        for e in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let d = e.path().join("doca-test").join(&self.id);
            if d.exists() {
                out.push(format!("cgroup: {}", d.display()));
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.root()) {
            // The compiled seccomp programs are a cache that outlives containers on purpose.
            out.extend(rd.flatten().filter(|e| e.file_name() != "@seccomp").map(|e| format!("state: {}", e.path().display())));
        }
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(r) = std::fs::read_link(e.path().join("root")) {
                if r.starts_with(self.dir.path()) {
                    out.push(format!("process: {}", e.file_name().to_string_lossy()));
                }
            }
        }
        out
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = self.cmd(&["delete", "--force", &self.id]);
        for e in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let _ = std::fs::remove_dir(e.path().join("doca-test").join(&self.id));
            // The shared parent goes with the last test (rmdir fails while others use it).
            let _ = std::fs::remove_dir(e.path().join("doca-test"));
        }
    }
}

/// Runs `c` with its output in files: a created container inherits the runtime's stdio (as
/// with runc), so pipes would stay open until the container exits.
fn captured(mut c: Command) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let status = c.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(err.try_clone().unwrap()).status().unwrap();
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut v = Vec::new();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut v).unwrap();
        v
    };
    Output { status, stdout: read(out), stderr: read(err) }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn args(v: &mut Value, a: &[&str]) {
    v["process"]["args"] = json!(a);
}

#[test]
fn run_reports_the_process_exit_code() {
    require_root!();
    // (SIGKILL to pid 1 from inside its own pid namespace is ignored by the kernel, so a
    // signal death is tested from outside, in `a_container_killed_from_outside_exits_137`.)
    for (script, code) in [("true", 0), ("exit 3", 3), ("sleep 100 & kill -9 $!; wait $!", 137)] {
        let b = Bundle::new(|s| args(s, &["sh", "-c", script]));
        let o = b.run();
        assert_eq!(o.status.code(), Some(code), "{script}: {}", stderr(&o));
        assert!(b.leftovers().is_empty(), "{script}: {:?}", b.leftovers());
    }
}

#[test]
fn a_container_killed_from_outside_exits_137() {
    require_root!();
    let b = Bundle::new(|s| args(s, &["sleep", "1000"]));
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let mut run = runc(b.dir.path())
        .arg("--root")
        .arg(b.root())
        .args(["run", "--bundle", &bundle, &b.id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..500 {
        let st: Value = serde_json::from_slice(&b.cmd(&["state", &b.id]).stdout).unwrap_or(Value::Null);
        if st["status"] == "running" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(b.cmd(&["kill", &b.id, "9"]).status.success());
    assert_eq!(run.wait().unwrap().code(), Some(137));
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

#[test]
fn lifecycle_create_start_state_kill_delete() {
    require_root!();
    let b = Bundle::new(|s| args(s, &["sleep", "1000"]));
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let pid_file = b.dir.path().join("pid");
    let o = b.cmd(&["create", "--bundle", &bundle, "--pid-file", pid_file.to_str().unwrap(), &b.id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let state = |b: &Bundle| -> Value { serde_json::from_slice(&b.cmd(&["state", &b.id]).stdout).unwrap() };
    let s = state(&b);
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], b.id.as_str());
    assert_eq!(s["bundle"], bundle.as_str());
    assert_eq!(s["pid"].as_i64().unwrap().to_string(), std::fs::read_to_string(&pid_file).unwrap());
    let o = b.cmd(&["create", "--bundle", &bundle, &b.id]);
    assert!(stderr(&o).contains(&format!("container with id exists: {}", b.id)), "{}", stderr(&o));
    assert!(b.cmd(&["start", &b.id]).status.success());
    assert_eq!(state(&b)["status"], "running");
    let o = b.cmd(&["start", &b.id]);
    assert!(!o.status.success() && stderr(&o).contains("it is running"), "{}", stderr(&o));
    let o = b.cmd(&["delete", &b.id]);
    assert!(stderr(&o).contains(&format!("cannot delete container {} that is not stopped: running", b.id)), "{}", stderr(&o));
    assert!(b.cmd(&["kill", &b.id, "KILL"]).status.success());
    for _ in 0..200 {
        if state(&b)["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(state(&b)["status"], "stopped");
    assert!(b.cmd(&["delete", &b.id]).status.success());
    let o = b.cmd(&["state", &b.id]);
    assert!(stderr(&o).contains(&format!("container \"{}\" does not exist", b.id)));
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

#[test]
fn the_process_runs_as_the_spec_says() {
    require_root!();
    rootful_only!("it sets ids outside a one-id map and lowers oom_score_adj");
    let b = Bundle::new(|s| {
        args(s, &["sh", "-c", "hostname; echo $$; pwd; id -u; id -g; id -G; ulimit -n; grep -E 'NoNewPrivs|CapEff|CapBnd' /proc/self/status; cat /proc/self/oom_score_adj; echo $GREETING; ls /proc/self/fd | wc -l"]);
        s["hostname"] = json!("box");
        s["process"]["cwd"] = json!("/tmp");
        s["process"]["env"] = json!(["PATH=/bin", "GREETING=hi"]);
        s["process"]["user"] = json!({"uid": 65534, "gid": 65534, "additionalGids": [1000, 1001]});
        s["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 123, "soft": 123}]);
        s["process"]["noNewPrivileges"] = json!(true);
        s["process"]["oomScoreAdj"] = json!(100);
        let caps = json!(["CAP_CHOWN", "CAP_KILL"]);
        s["process"]["capabilities"] =
            json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps});
    });
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    // CAP_CHOWN is bit 0, CAP_KILL bit 5: 0x21.
    assert_eq!(
        lines,
        [
            "box",
            "1",
            "/tmp",
            "65534",
            "65534",
            "65534 1000 1001",
            "123",
            "CapEff:\t0000000000000021",
            "CapBnd:\t0000000000000021",
            "NoNewPrivs:\t1",
            "100",
            "hi",
            "4"
        ]
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>(),
        "{out}"
    );
}

#[test]
fn masked_readonly_paths_and_readonly_root() {
    require_root!();
    let b = Bundle::new(|s| {
        args(
            s,
            &[
                "sh",
                "-c",
                "wc -c < /proc/timer_list; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname && echo wrote-sysctl; touch /newfile && echo wrote-root; touch /sys/x && echo wrote-sys; ls /dev",
            ],
        );
    });
    let o = b.run();
    let out = stdout(&o);
    // /proc/timer_list (a file) reads as /dev/null, /proc/acpi (a directory) as an empty tmpfs.
    assert!(out.starts_with("0\n0\n"), "masked paths are readable: {out}\n{}", stderr(&o));
    for bad in ["wrote-sysctl", "wrote-root", "wrote-sys"] {
        assert!(!out.contains(bad), "{bad}: {out}\n{}", stderr(&o));
    }
    for dev in ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "fd", "stdin", "stdout", "stderr"] {
        assert!(out.lines().any(|l| l == dev), "/dev/{dev} missing: {out}");
    }
}

#[test]
fn cgroup_v1_limits_are_applied() {
    require_root!();
    rootful_only!("limits need a cgroup the user may write (none is delegated on cgroup v1)");
    let b = Bundle::new(|s| {
        args(s, &["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us"]);
        s["linux"]["resources"] = json!({
            "memory": {"limit": 67108864},
            "pids": {"limit": 32},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000},
            "devices": [{"allow": false, "access": "rwm"}]
        });
    });
    if !Path::new("/sys/fs/cgroup/memory").is_dir() {
        eprintln!("skipped: no cgroup v1 memory hierarchy (v2 is covered by the fake-tree unit test)");
        return;
    }
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "67108864\n32\n512\n50000\n");
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

#[test]
fn failures_are_reported_and_leave_nothing_behind() {
    require_root!();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, i32, &str)> = vec![
        (Box::new(|s| args(s, &["nosuchcmd"])), 127, "exec: \"nosuchcmd\": executable file not found in $PATH"),
        (Box::new(|s| args(s, &["/etc/passwd"])), 126, "exec: \"/etc/passwd\": permission denied"),
        (
            Box::new(|s| s["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "nosuchfs", "source": "none"}))),
            1,
            "mount none on /x (nosuchfs)",
        ),
        (Box::new(|s| s["process"]["cwd"] = json!("relative")), 1, "process.cwd: relative is not absolute"),
        (Box::new(|s| s["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}])), 1, "config.json"),
        (Box::new(|s| s["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0")), 1, "process.selinuxLabel"),
        (Box::new(|s| s["linux"]["cgroupsPath"] = json!("system.slice:doca:x")), 1, "systemd cgroup path"),
    ];
    for (edit, code, msg) in cases {
        let b = Bundle::new(edit);
        let o = b.run();
        assert_eq!(o.status.code(), Some(code), "{msg}: {}", stderr(&o));
        assert!(stderr(&o).contains(msg), "want {msg:?} in: {}", stderr(&o));
        assert!(b.leftovers().is_empty(), "{msg}: {:?}", b.leftovers());
    }
    // A config.json that is not JSON names the file.
    let b = Bundle::new(|_| {});
    std::fs::write(b.dir.path().join("config.json"), "{\"ociVersion\": 1").unwrap();
    let o = b.run();
    assert!(stderr(&o).contains("config.json"), "{}", stderr(&o));
    assert!(b.leftovers().is_empty());
}

/// A mount target reached through a symlink in the rootfs stays in the rootfs
/// (CVE-2019-19921 style): `/evil -> /tmp/host-dir` means rootfs/tmp/host-dir, never the host's.
#[test]
fn mount_targets_do_not_follow_symlinks_out_of_the_rootfs() {
    require_root!();
    let host_dir = tempfile::tempdir().unwrap();
    let hd = host_dir.path().to_str().unwrap().to_string();
    let b = Bundle::new(|s| {
        args(s, &["sh", "-c", "ls /evil/x >/dev/null && echo mounted-inside"]);
        s["mounts"].as_array_mut().unwrap().push(json!({"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"}));
    });
    std::os::unix::fs::symlink(&hd, b.dir.path().join("rootfs/evil")).unwrap();
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("mounted-inside"));
    assert!(!host_dir.path().join("x").exists(), "the mount target was created on the host");
    assert!(b.dir.path().join("rootfs").join(hd.trim_start_matches('/')).join("x").exists());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

/// CVE-2024-21626: a cwd through a descriptor the runtime leaked would put the process outside
/// the container. No descriptor of the runtime survives, and a cwd outside the root is refused.
#[test]
fn cwd_cannot_reach_the_host_through_a_descriptor() {
    require_root!();
    for fd in 3..9 {
        let b = Bundle::new(|s| {
            args(s, &["sh", "-c", "pwd; ls .. | head -3"]);
            s["process"]["cwd"] = json!(format!("/proc/self/fd/{fd}"));
        });
        let o = b.run();
        let out = stdout(&o);
        assert!(!o.status.success() || !out.contains("(unreachable)"), "fd {fd}: the process runs outside the container: {out}");
        assert!(b.leftovers().is_empty(), "fd {fd}: {:?}", b.leftovers());
    }
}

#[test]
fn seccomp_profiles_are_enforced() {
    require_root!();
    let profile = |extra: Value| {
        move |s: &mut Value| {
            args(
                s,
                &["sh", "-c", "mkdir /tmp/a 2>&1; mkdir /tmp/a 2>&1 || true; touch /tmp/f; chmod 600 /tmp/f 2>&1 && echo chmod-ok; chmod 4755 /tmp/f 2>&1 && echo setuid-ok; uname >/dev/null; echo after-uname"],
            );
            s["linux"]["seccomp"] = extra.clone();
            s["root"]["readonly"] = json!(false);
        }
    };
    // mkdir denied with EPERM (the default errnoRet), chmod to a setuid mode denied with ENOSYS
    // through an argument filter (mode & S_ISUID), other chmods allowed.
    let b = Bundle::new(profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["fchmodat", "chmod", "fchmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
             "args": [{"index": 2, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["chmod", "fchmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
             "args": [{"index": 1, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
    })));
    let o = b.run();
    let out = stdout(&o);
    assert!(out.contains("Operation not permitted"), "mkdir was not denied with EPERM: {out}\n{}", stderr(&o));
    assert!(out.contains("chmod-ok"), "{out}");
    assert!(out.contains("Function not implemented") && !out.contains("setuid-ok"), "setuid chmod was not denied with ENOSYS: {out}");
    assert!(out.contains("after-uname"));
    // KILL_PROCESS: the process dies of SIGSYS (exit 128 + 31).
    let b = Bundle::new(profile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}]}),
    ));
    let o = b.run();
    assert_eq!(o.status.code(), Some(159), "{}", stdout(&o));
    assert!(!stdout(&o).contains("after-uname"));
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    // A bad profile fails create, naming the field, and leaves nothing.
    let b = Bundle::new(profile(json!({"defaultAction": "SCMP_ACT_BOGUS"})));
    let o = b.run();
    assert!(!o.status.success() && stderr(&o).contains("config.json"), "{}", stderr(&o));
    assert!(b.leftovers().is_empty());
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    require_root!();
    let out = tempfile::tempdir().unwrap();
    if rootless() {
        // The hooks run as the runtime's user.
        std::os::unix::fs::chown(out.path(), Some(65534), Some(65534)).unwrap();
    }
    let d = out.path().to_str().unwrap().to_string();
    let host = |kind: &str, extra: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {kind} >> {d}/order; {extra}")]});
    let b = Bundle::new(|s| {
        args(s, &["cat", "/dev/shm/started"]);
        s["hooks"] = json!({
            "prestart": [host("prestart", &format!("cat > {d}/prestart.json"))],
            "createRuntime": [host("createRuntime", "")],
            "createContainer": [host("createContainer", &format!("readlink /proc/self/ns/mnt > {d}/cc-mnt"))],
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo started > /dev/shm/started"]}],
            "poststart": [host("poststart", "")],
            "poststop": [host("poststop", "")]
        });
    });
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "started\n", "startContainer did not run inside the container");
    assert_eq!(
        std::fs::read_to_string(out.path().join("order")).unwrap(),
        "prestart\ncreateRuntime\ncreateContainer\npoststart\npoststop\n"
    );
    let st: Value = serde_json::from_str(&std::fs::read_to_string(out.path().join("prestart.json")).unwrap()).unwrap();
    assert_eq!((st["id"].as_str(), st["status"].as_str()), (Some(b.id.as_str()), Some("creating")));
    assert!(st["pid"].as_i64().unwrap() > 1);
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_ne!(
        std::fs::read_to_string(out.path().join("cc-mnt")).unwrap().trim(),
        host_mnt.to_str().unwrap(),
        "createContainer ran in the host's mount namespace"
    );
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());

    // A failing or hanging prestart hook fails create, and nothing is left.
    for (hook, msg) in [
        (json!({"path": "/bin/sh", "args": ["sh", "-c", "echo no >&2; exit 3"]}), "prestart hook /bin/sh: exit status: 3: no"),
        (json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 30"], "timeout": 1}), "prestart hook /bin/sh: timed out after 1 s"),
    ] {
        let b = Bundle::new(|s| s["hooks"] = json!({"prestart": [hook.clone()]}));
        let o = b.run();
        assert!(!o.status.success() && stderr(&o).contains(msg), "want {msg:?}: {}", stderr(&o));
        assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    }
}

/// `exec` joins the container (namespaces, cgroup) and can never hold more than the container:
/// not a capability outside its bounding set, not past its seccomp profile.
#[test]
fn exec_joins_the_container_and_gains_nothing() {
    require_root!();
    let b = Bundle::new(|s| {
        args(s, &["sleep", "1000"]);
        s["hostname"] = json!("inside");
        let caps = json!(["CAP_CHOWN", "CAP_KILL"]);
        s["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps});
        s["linux"]["seccomp"] =
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]});
        s["root"]["readonly"] = json!(false);
    });
    let bundle = b.dir.path().to_str().unwrap().to_string();
    assert!(b.cmd(&["run", "-d", "--bundle", &bundle, &b.id]).status.success());
    let init_cgroup = std::fs::read_to_string(format!(
        "/proc/{}/cgroup",
        serde_json::from_slice::<Value>(&b.cmd(&["state", &b.id]).stdout).unwrap()["pid"]
    ))
    .unwrap();
    let o = b.cmd(&[
        "exec",
        &b.id,
        "sh",
        "-c",
        "echo $$; hostname; grep CapBnd /proc/self/status; mkdir /tmp/x 2>&1; cat /proc/self/cgroup; exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "exec did not join the pid namespace");
    assert_eq!(lines[1], "inside");
    assert_eq!(lines[2], "CapBnd:\t0000000000000021");
    assert!(lines[3].contains("Operation not permitted"), "exec escaped the seccomp profile: {out}");
    // The cgroup namespace shows the same (namespaced) paths as the init's host view ends with.
    assert!(lines[4..].iter().all(|l| l.ends_with(":/")), "exec is not in the container's cgroup: {out}\ninit: {init_cgroup}");
    let o = b.cmd(&["exec", "--cap", "CAP_SYS_ADMIN", &b.id, "true"]);
    assert!(!o.status.success() && stderr(&o).contains("not in the container's bounding set"), "{}", stderr(&o));
    let o = b.cmd(&["exec", &b.id, "nosuch"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    let pid_file = b.dir.path().join("exec.pid");
    assert!(b.cmd(&["exec", "-d", "--pid-file", pid_file.to_str().unwrap(), &b.id, "sleep", "1000"]).status.success());
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(b.cmd(&["delete", "--force", &b.id]).status.success());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    let o = b.cmd(&["exec", &b.id, "true"]);
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

/// process.terminal with --console-socket: the pty master arrives over the socket (runc's
/// SCM_RIGHTS protocol) and the process's stdio is the pty, with the spec's console size.
#[test]
fn terminal_master_goes_to_the_console_socket() {
    require_root!();
    let b = Bundle::new(|s| {
        args(s, &["sh", "-c", "tty; stty size; echo done"]);
        s["process"]["terminal"] = json!(true);
        s["process"]["consoleSize"] = json!({"height": 33, "width": 111});
    });
    let sock_path = b.dir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    if rootless() {
        // The runtime connects as its user.
        std::os::unix::fs::chown(&sock_path, Some(65534), Some(65534)).unwrap();
    }
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let master = doca_runtime::sync::recv_fd(&conn).unwrap();
        let mut f = std::fs::File::from(master);
        let mut out = Vec::new();
        // Reading the master ends with EIO once the last slave holder exits.
        let _ = std::io::Read::read_to_end(&mut f, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    });
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let o = b.cmd(&["run", "--bundle", &bundle, "--console-socket", sock_path.to_str().unwrap(), &b.id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = receiver.join().unwrap();
    assert_eq!(out.replace('\r', ""), "/dev/pts/0\n33 111\ndone\n");
    // A terminal without a console socket is refused, naming the setting.
    let o = b.cmd(&["run", "--bundle", &bundle, &format!("{}-2", b.id)]);
    assert!(stderr(&o).contains("process.terminal is set: --console-socket"), "{}", stderr(&o));
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

#[test]
fn pause_resume_ps_update_and_stats() {
    require_root!();
    rootful_only!("pause needs a freezer cgroup the user may write");
    let b = Bundle::new(|s| args(s, &["sleep", "1000"]));
    let bundle = b.dir.path().to_str().unwrap().to_string();
    assert!(b.cmd(&["run", "-d", "--bundle", &bundle, &b.id]).status.success());
    let status =
        |b: &Bundle| serde_json::from_slice::<Value>(&b.cmd(&["state", &b.id]).stdout).unwrap()["status"].as_str().unwrap().to_string();
    assert!(b.cmd(&["pause", &b.id]).status.success());
    assert_eq!(status(&b), "paused");
    let o = b.cmd(&["pause", &b.id]);
    assert!(stderr(&o).contains("it is paused"), "{}", stderr(&o));
    assert!(b.cmd(&["resume", &b.id]).status.success());
    assert_eq!(status(&b), "running");
    let pids: Vec<i32> = serde_json::from_slice(&b.cmd(&["ps", "--format", "json", &b.id]).stdout).unwrap();
    assert_eq!(pids.len(), 1);
    assert!(stdout(&b.cmd(&["ps", &b.id])).contains("sleep 1000"));
    if Path::new("/sys/fs/cgroup/memory").is_dir() {
        assert!(b.cmd(&["update", "--memory", "32m", "--pids-limit", "10", &b.id]).status.success());
        let ev: Value = serde_json::from_slice(&b.cmd(&["events", "--stats", &b.id]).stdout).unwrap();
        assert_eq!(ev["type"], "stats");
        assert_eq!(ev["data"]["memory"]["usage"]["limit"], 32 << 20);
        assert_eq!(ev["data"]["pids"]["limit"], 10);
        assert_eq!(ev["data"]["pids"]["current"], 1);
    }
    // A paused container is deleted with --force (thawed, then killed).
    assert!(b.cmd(&["pause", &b.id]).status.success());
    assert!(b.cmd(&["delete", "--force", &b.id]).status.success());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

/// A user namespace: root inside is uid 100000 on the host; mounts and devices still work
/// (device nodes are bound from the host, mknod being refused in a user namespace).
#[test]
fn user_namespace_maps_root_to_an_unprivileged_host_uid() {
    require_root!();
    rootful_only!("its map names ids only root may map");
    let b = Bundle::new(|s| {
        args(s, &["sh", "-c", "id -u; cat /proc/self/uid_map; echo x > /dev/null && echo devnull-ok; sleep 1000"]);
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    let st = Command::new("chown").args(["-R", "100000:100000"]).arg(b.dir.path().join("rootfs")).status().unwrap();
    assert!(st.success());
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let log = b.dir.path().join("out");
    let mut child = runc(b.dir.path())
        .arg("--root")
        .arg(b.root())
        .args(["run", "--bundle", &bundle, &b.id])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(b.dir.path().join("err")).unwrap())
        .spawn()
        .unwrap();
    let mut out = String::new();
    for _ in 0..500 {
        out = std::fs::read_to_string(&log).unwrap_or_default();
        if out.contains("devnull-ok") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "100000", "65536", "devnull-ok"],
        "{}",
        std::fs::read_to_string(b.dir.path().join("err")).unwrap_or_default()
    );
    let pid = serde_json::from_slice::<Value>(&b.cmd(&["state", &b.id]).stdout).unwrap()["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid_line.split_whitespace().skip(1).all(|u| u == "100000"), "host sees {uid_line}");
    assert!(b.cmd(&["kill", &b.id, "KILL"]).status.success());
    assert_eq!(child.wait().unwrap().code(), Some(137));
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

/// A user namespace given by path is joined, and the container's other namespaces belong to it
/// (root inside can mount its /proc); `exec` into a container with a user namespace lands in it
/// (it used to keep the host's root); mappings that contradict the joined namespace are refused.
#[test]
fn a_user_namespace_given_by_path_is_joined_and_exec_enters_it() {
    require_root!();
    rootful_only!("its namespace maps ids only root may map");
    let owner = |b: &Bundle| {
        let st = Command::new("chown").args(["-R", "100000:100000"]).arg(b.dir.path().join("rootfs")).status().unwrap();
        assert!(st.success());
    };
    let a = Bundle::new(|s| {
        args(s, &["sleep", "1000"]);
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    owner(&a);
    let abundle = a.dir.path().to_str().unwrap().to_string();
    let o = a.cmd(&["run", "-d", "--bundle", &abundle, &a.id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let apid = serde_json::from_slice::<Value>(&a.cmd(&["state", &a.id]).stdout).unwrap()["pid"].as_i64().unwrap();
    let userns = format!("/proc/{apid}/ns/user");
    let want = std::fs::read_link(&userns).unwrap().display().to_string();

    let o = a.cmd(&["exec", &a.id, "sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).split_whitespace().collect::<Vec<_>>(), ["0", "0", "100000", "65536", want.as_str()], "exec");

    let b = Bundle::new(|s| {
        args(s, &["sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user; ls /proc/1/ >/dev/null && echo proc-ok"]);
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user", "path": userns}));
        // The same maps as the namespace's: a description, accepted.
        s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    owner(&b);
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).split_whitespace().collect::<Vec<_>>(), ["0", "0", "100000", "65536", want.as_str(), "proc-ok"], "joined");
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());

    let c = Bundle::new(|s| {
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user", "path": userns}));
        s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    });
    let o = c.run();
    assert!(!o.status.success() && stderr(&o).contains("linux.uidMappings 0 200000 65536 differ"), "{}", stderr(&o));
    assert!(c.leftovers().is_empty(), "{:?}", c.leftovers());

    assert!(a.cmd(&["delete", "--force", &a.id]).status.success());
    assert!(a.leftovers().is_empty(), "{:?}", a.leftovers());
}

#[test]
fn personality_pid_namespace_by_path_and_no_pivot() {
    require_root!();
    rootful_only!("it joins a pid namespace root made");
    // LINUX32: the 32-bit execution domain.
    let b = Bundle::new(|s| {
        args(s, &["uname", "-m"]);
        s["linux"]["personality"] = json!({"domain": "LINUX32"});
    });
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    if cfg!(target_arch = "x86_64") {
        assert_eq!(stdout(&o).trim(), "i686");
    }

    // A second container joins the first one's pid namespace: it sees the first's init as pid 1.
    let a = Bundle::new(|s| args(s, &["sleep", "1000"]));
    let abundle = a.dir.path().to_str().unwrap().to_string();
    assert!(a.cmd(&["run", "-d", "--bundle", &abundle, &a.id]).status.success());
    let apid = serde_json::from_slice::<Value>(&a.cmd(&["state", &a.id]).stdout).unwrap()["pid"].as_i64().unwrap();
    let b = Bundle::new(|s| {
        args(s, &["sh", "-c", "echo $$; tr '\\0' ' ' < /proc/1/cmdline"]);
        for ns in s["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "pid" {
                ns["path"] = json!(format!("/proc/{apid}/ns/pid"));
            }
        }
    });
    let o = b.run();
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() == 2 && lines[0] != "1" && lines[1].trim() == "sleep 1000", "{out}\n{}", stderr(&o));
    assert!(a.cmd(&["delete", "--force", &a.id]).status.success());
    assert!(a.leftovers().is_empty() && b.leftovers().is_empty());

    // --no-pivot: MS_MOVE + chroot instead of pivot_root (for ramfs roots).
    let b = Bundle::new(|s| args(s, &["sh", "-c", "ls / | head -1; echo no-pivot-ok"]));
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let o = b.cmd(&["run", "--no-pivot", "--bundle", &bundle, &b.id]);
    assert!(o.status.success() && stdout(&o).contains("no-pivot-ok"), "{}", stderr(&o));
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

/// A time namespace with linux.timeOffsets: the container's boot clock runs ahead by the offset
/// (so its uptime is at least that), and `exec` lands in the same namespace.
#[test]
fn time_namespace_offsets_apply_to_run_and_exec() {
    require_root!();
    rootful_only!("a time namespace is unshared before the user namespace that would allow it exists");
    let b = Bundle::new(|s| {
        args(s, &["sleep", "1000"]);
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
        s["linux"]["timeOffsets"] = json!({"boottime": {"secs": 864000, "nanosecs": 0}, "monotonic": {"secs": 864000, "nanosecs": 0}});
    });
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let o = b.cmd(&["run", "-d", "--bundle", &bundle, &b.id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let host_uptime: f64 = std::fs::read_to_string("/proc/uptime").unwrap().split_whitespace().next().unwrap().parse().unwrap();
    let o = b.cmd(&["exec", &b.id, "cat", "/proc/uptime"]);
    let uptime: f64 = stdout(&o).split_whitespace().next().unwrap_or("0").parse().unwrap();
    assert!(uptime >= 864000.0 && uptime - host_uptime > 863000.0, "container uptime {uptime}, host {host_uptime}: {}", stderr(&o));
    // Another container joins that time namespace by path and sees the same clock.
    let state: serde_json::Value = serde_json::from_slice(&b.cmd(&["state", &b.id]).stdout).unwrap();
    let ns = format!("/proc/{}/ns/time", state["pid"]);
    let joiner = Bundle::new(|s| {
        args(s, &["cat", "/proc/uptime"]);
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time", "path": ns}));
    });
    let jb = joiner.dir.path().to_str().unwrap().to_string();
    let o = joiner.cmd(&["run", "--bundle", &jb, &joiner.id]);
    let joined: f64 = stdout(&o).split_whitespace().next().unwrap_or("0").parse().unwrap();
    assert!(joined >= 864000.0, "the joining container's uptime {joined}: {}", stderr(&o));
    let bad = Bundle::new(|s| {
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time", "path": ns}));
        s["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1, "nanosecs": 0}});
    });
    let bb = bad.dir.path().to_str().unwrap().to_string();
    let o = bad.cmd(&["run", "--bundle", &bb, &bad.id]);
    assert!(!o.status.success() && stderr(&o).contains("cannot be set when joining"), "{}", stderr(&o));
    assert!(joiner.leftovers().is_empty() && bad.leftovers().is_empty());
    assert!(b.cmd(&["delete", "--force", &b.id]).status.success());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

/// CVE-2019-5736: between create and start the container's pid 1 is still doca-runc's image.
/// A process in the container (without CAP_SYS_PTRACE) must not reach it through /proc/1/exe,
/// or it could overwrite the runtime on the host. The init is non-dumpable until execve.
#[test]
fn the_runtime_binary_is_unreachable_through_proc_exe() {
    require_root!();
    rootful_only!("exec into a created container opens the init's namespaces, which a non-dumpable init keeps from its own user (proc(5)); the container cannot exec before start either");
    let runtime = std::fs::canonicalize(runc_path()).unwrap();
    let before = std::fs::read(&runtime).unwrap();
    let b = Bundle::new(|s| args(s, &["sleep", "1000"]));
    let bundle = b.dir.path().to_str().unwrap().to_string();
    assert!(b.cmd(&["create", "--bundle", &bundle, &b.id]).status.success());
    let o = b.cmd(&["exec", &b.id, "sh", "-c", "readlink /proc/1/exe && echo REACHED; cat /proc/1/exe > /dev/null 2>&1 && echo READ; echo x >> /proc/1/exe 2>/dev/null && echo WROTE; echo done"]);
    let out = stdout(&o);
    assert!(out.ends_with("done\n"), "{out}\n{}", stderr(&o));
    for bad in ["REACHED", "READ", "WROTE"] {
        assert!(!out.contains(bad), "the container reached the runtime binary ({bad}): {out}");
    }
    assert_eq!(std::fs::read(&runtime).unwrap(), before, "the runtime binary changed");
    assert!(b.cmd(&["delete", "--force", &b.id]).status.success());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

/// A mount namespace given by path is joined, and the container's rootfs is set up inside it
/// (runc's behaviour): the host's own mount table never shows the container's mounts.
#[test]
fn a_mount_namespace_given_by_path_is_joined() {
    require_root!();
    rootful_only!("it joins a mount namespace root made");
    // A namespace copied from the host's (so the bundle is visible in it), pinned by a process.
    let mut holder = std::process::Command::new("unshare").args(["--mount", "--propagation", "private", "sleep", "1000"]).spawn().unwrap();
    let ns = format!("/proc/{}/ns/mnt", holder.id());
    let mut want = String::new();
    for _ in 0..100 {
        want = std::fs::read_link(&ns).map(|l| l.display().to_string()).unwrap_or_default();
        let host = std::fs::read_link("/proc/self/ns/mnt").unwrap().display().to_string();
        if !want.is_empty() && want != host {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let b = Bundle::new(|s| {
        args(s, &["readlink", "/proc/self/ns/mnt"]);
        for n in s["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "mount" {
                n["path"] = json!(ns);
            }
        }
    });
    let o = b.run();
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), want, "the container's mount namespace is the one given");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(b.dir.path().to_str().unwrap()), "the rootfs was mounted in the host's namespace");
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

/// `events` streams: an "oom" event when the OOM killer kills in the container's cgroup, then
/// stats, until the container stops.
#[test]
fn events_report_oom_kills_as_they_happen() {
    require_root!();
    rootful_only!("a memory limit needs a cgroup the user may write");
    if !Path::new("/sys/fs/cgroup/memory").is_dir() {
        eprintln!("skipped: no memory controller");
        return;
    }
    let b = Bundle::new(|s| {
        // tail keeps a line that never ends: it grows until the limit's OOM killer takes it.
        args(s, &["sh", "-c", "sleep 1; tail /dev/zero; echo survived"]);
        s["linux"]["resources"] = json!({"memory": {"limit": 16 << 20, "swap": 16 << 20}});
    });
    let bundle = b.dir.path().to_str().unwrap().to_string();
    assert!(b.cmd(&["run", "-d", "--bundle", &bundle, &b.id]).status.success());
    let o = b.cmd(&["events", "--interval", "60", &b.id]);
    let out = stdout(&o);
    let types: Vec<String> =
        out.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).map(|v| v["type"].as_str().unwrap_or("").to_string()).collect();
    assert!(types.first().is_some_and(|t| t == "stats"), "{out}");
    assert!(types.iter().any(|t| t == "oom"), "no oom event: {out}\n{}", stderr(&o));
    assert!(b.cmd(&["delete", "--force", &b.id]).status.success());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

/// linux.sysctl reaches only the container's own namespaces: a global key (which would set the
/// host's kernel: `kernel.core_pattern=|prog` runs prog as host root at the next crash), or a
/// network key while the network namespace is the host's, is refused before anything runs,
/// and the host's values stay as they were.
#[test]
fn host_global_sysctls_are_refused_and_the_host_is_untouched() {
    require_root!();
    let core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let probes = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_keepalive_probes").unwrap();
    let other = (probes.trim().parse::<u32>().unwrap() % 100 + 1).to_string();
    let cases = [
        (json!({"kernel.core_pattern": "doca-attack-core"}), None, "not in a separate kernel namespace"),
        (json!({"vm.drop_caches": "3"}), None, "not in a separate kernel namespace"),
        (json!({"net.ipv4.tcp_keepalive_probes": other}), Some("/proc/self/ns/net"), "hosts network namespace"),
        (json!({"net.ipv4/../../kernel.core_pattern": "doca-attack-core"}), None, "not a sysctl name"),
    ];
    for (sysctl, netns, why) in cases {
        let b = Bundle::new(|s| {
            s["linux"]["sysctl"] = sysctl.clone();
            if let Some(p) = netns {
                for n in s["linux"]["namespaces"].as_array_mut().unwrap() {
                    if n["type"] == "network" {
                        n["path"] = json!(p);
                    }
                }
            }
        });
        let o = b.run();
        assert!(!o.status.success() && stderr(&o).contains(why), "{sysctl}: {}", stderr(&o));
        assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    }
    let now_core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let now_probes = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_keepalive_probes").unwrap();
    // Put the host back before failing, should the attack have worked.
    let _ = std::fs::write("/proc/sys/kernel/core_pattern", &core);
    let _ = std::fs::write("/proc/sys/net/ipv4/tcp_keepalive_probes", &probes);
    assert_eq!((now_core, now_probes), (core, probes), "a container changed the host's kernel settings");
    // The container's own network namespace takes its own value.
    let b = Bundle::new(|s| {
        args(s, &["cat", "/proc/sys/net/ipv4/tcp_keepalive_probes"]);
        s["linux"]["sysctl"] = json!({"net.ipv4.tcp_keepalive_probes": "7"});
    });
    let o = b.run();
    assert_eq!(stdout(&o), "7\n", "{}", stderr(&o));
}

/// `runc spec`'s own default config runs under doca-runc: it lists ambient capabilities that
/// are not inheritable, which cannot be raised; they are skipped, as runc skips them (before:
/// "raise ambient capability CAP_KILL: PR_CAP_AMBIENT_RAISE failure").
#[test]
fn runc_specs_default_config_runs() {
    require_root!();
    rootful_only!("it runs runc with its rootful default spec");
    doca_testkit::require_tool!("runc");
    let b = Bundle::new(|_| {});
    let dir = b.dir.path();
    std::fs::remove_file(dir.join("config.json")).unwrap();
    assert!(Command::new("runc").args(["spec", "--bundle"]).arg(dir).status().unwrap().success());
    let p = dir.join("config.json");
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    assert!(
        spec["process"]["capabilities"]["ambient"].as_array().is_some_and(|a| !a.is_empty()),
        "runc's default lists ambient capabilities"
    );
    spec["process"]["terminal"] = json!(false);
    spec["process"]["args"] = json!(["sh", "-c", "grep CapAmb /proc/self/status"]);
    spec["linux"]["cgroupsPath"] = json!(format!("/doca-test/{}", b.id));
    std::fs::write(&p, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "CapAmb:\t0000000000000000\n");
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

/// CVE-2019-5736 against doca-runc as other engines run it (podman, dockerd: its own path, no
/// doca in front): a container's `#!/proc/self/exe` trap makes `doca-runc exec` run doca-runc
/// inside the container, where a racer holds `/proc/PID/exe` and writes through it. doca-runc
/// re-executes itself from a sealed copy before it enters, so the write fails and the binary
/// on the host keeps its digest. (The racer attacks a private copy: a failure here cannot break
/// the other tests' runtime.)
#[test]
fn exec_through_a_proc_self_exe_trap_cannot_overwrite_doca_runc() {
    require_root!();
    let tools = tempfile::tempdir().unwrap();
    std::fs::copy(doca_testkit::c_program("racer", doca_testkit::PROC_EXE_RACER), tools.path().join("racer")).unwrap();
    let b = Bundle::new(|s| {
        args(s, &["sh", "-c", "/attack/racer > /verdict 2>&1"]);
        s["root"]["readonly"] = json!(false);
        let mounts = s["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/attack", "type": "bind", "source": tools.path(), "options": ["rbind", "ro"]}));
        // A dynamically linked doca-runc runs in the container only with a loader and libc, as
        // any Debian image has; the static one needs none.
        mounts.push(json!({"destination": "/lib64", "type": "bind", "source": "/usr/lib64", "options": ["rbind", "ro"]}));
        mounts.push(json!({"destination": "/lib/x86_64-linux-gnu", "type": "bind", "source": "/usr/lib/x86_64-linux-gnu", "options": ["rbind", "ro"]}));
    });
    let copy = b.dir.path().join("bin/doca-runc");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(runc_path(), &copy).unwrap();
    let digest = doca_testkit::sha256_hex(&std::fs::read(&copy).unwrap());
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let rt = |args: &[&str]| {
        Command::new(&copy)
            .arg("--root")
            .arg(b.root())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
    };
    assert!(rt(&["run", "-d", "--bundle", &bundle, &b.id]).success());
    let verdict = b.dir.path().join("rootfs/verdict");
    let read = || std::fs::read_to_string(&verdict).unwrap_or_default();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !read().contains("ready") && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(rt(&["exec", &b.id, "sh", "-c", "printf '#!/proc/self/exe\\n' > /bin/evil && chmod 755 /bin/evil"]).success());
    for _ in 0..30 {
        let _ = rt(&["exec", &b.id, "/bin/evil"]);
        std::thread::sleep(std::time::Duration::from_millis(50));
        if read().contains("caught") {
            break;
        }
    }
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(read().contains("verdict:") || read().contains("WROTE")) && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = read();
    assert!(out.contains("caught pid"), "the racer never caught doca-runc, so the attack was not performed:\n{out}");
    assert!(!out.contains("WROTE"), "the container wrote through /proc/PID/exe:\n{out}");
    assert_eq!(doca_testkit::sha256_hex(&std::fs::read(&copy).unwrap()), digest, "doca-runc on the host changed:\n{out}");
    assert!(rt(&["delete", "--force", &b.id]).success());
}

/// Rootless (runc's `--rootless auto`): an unprivileged user runs a bundle of its own. Its uid
/// is the container's root through a one-id map the runtime writes itself (after denying
/// setgroups, as the kernel requires of an unprivileged writer); with no cgroup it may write,
/// the container runs without one, and limits it could not apply are refused by name rather
/// than dropped.
#[test]
fn an_unprivileged_user_runs_a_bundle_of_its_own() {
    require_root!();
    doca_testkit::require_tool!("setpriv");
    rootful_only!("it switches to the user itself");
    // doca-runc as uid 65534, on a bundle that user owns.
    let as_user = |b: &Bundle, args: &[&str]| {
        let bin = b.dir.path().join("doca-runc");
        if !bin.exists() {
            std::fs::copy(runc_path(), &bin).unwrap();
            let st = Command::new("chown").args(["-R", "65534:65534"]).arg(b.dir.path()).status().unwrap();
            assert!(st.success());
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(&bin).arg("--root").arg(b.root()).args(args);
        captured(c)
    };
    let run = |b: &Bundle| {
        let dir = b.dir.path().to_str().unwrap().to_string();
        as_user(b, &["run", "--bundle", &dir, &b.id])
    };
    let b = Bundle::new(|s| {
        args(s, &["sh", "-c", "id -u; cat /proc/self/uid_map; echo x > /dev/null && echo devnull-ok"]);
        rootless_spec(s);
        s["linux"].as_object_mut().unwrap().remove("resources");
    });
    let o = run(&b);
    assert_eq!(stdout(&o).split_whitespace().collect::<Vec<_>>(), ["0", "0", "65534", "1", "devnull-ok"], "{}", stderr(&o));
    assert!(o.status.success());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    // The lifecycle, and exec: into the container's namespaces (its network namespace is its
    // user namespace's, joined after it), as the container's root.
    let d = Bundle::new(|s| {
        args(s, &["sleep", "1000"]);
        rootless_spec(s);
        s["linux"].as_object_mut().unwrap().remove("resources");
    });
    let dir = d.dir.path().to_str().unwrap().to_string();
    assert!(as_user(&d, &["create", "--bundle", &dir, &d.id]).status.success());
    assert!(as_user(&d, &["start", &d.id]).status.success());
    let o = as_user(&d, &["exec", &d.id, "sh", "-c", "id -u; cat /proc/self/uid_map; ip link | grep -c LOOPBACK"]);
    assert_eq!(stdout(&o).split_whitespace().collect::<Vec<_>>(), ["0", "0", "65534", "1", "1"], "{}", stderr(&o));
    assert!(as_user(&d, &["kill", &d.id, "KILL"]).status.success());
    for _ in 0..200 {
        if String::from_utf8_lossy(&as_user(&d, &["state", &d.id]).stdout).contains("\"stopped\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(as_user(&d, &["delete", &d.id]).status.success());
    assert!(d.leftovers().is_empty(), "{:?}", d.leftovers());
    // runc's `--rootless false`: the user asks for cgroups, and gets the cgroup error, not a
    // container without one.
    let strict = Bundle::new(|s| {
        args(s, &["true"]);
        rootless_spec(s);
        s["linux"].as_object_mut().unwrap().remove("resources");
    });
    let dir = strict.dir.path().to_str().unwrap().to_string();
    let o = as_user(&strict, &["--rootless", "false", "run", "--bundle", &dir, &strict.id]);
    assert!(!o.status.success() && stderr(&o).contains("cgroup"), "{}", stderr(&o));
    assert!(strict.leftovers().is_empty(), "{:?}", strict.leftovers());
    let o = as_user(&strict, &["--rootless", "sometimes", "state", &strict.id]);
    assert!(!o.status.success() && stderr(&o).contains("sometimes"), "{}", stderr(&o));
    let limited = Bundle::new(|s| {
        args(s, &["true"]);
        rootless_spec(s);
        s["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}});
    });
    let o = run(&limited);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("linux.resources.memory: rootless"), "{}", stderr(&o));
    assert!(limited.leftovers().is_empty(), "{:?}", limited.leftovers());
}

//! Containers as users run them, as root against the real kernel: `doca run` and the whole
//! lifecycle through doca-shim and doca-runc, with docker's output and exit codes.

use doca_testkit::{require_root, ContainerEnv};
use std::io::Write;
use std::process::{Command, Stdio};

/// The shared container test environment, with this file's helpers.
struct Env(ContainerEnv);

impl std::ops::Deref for Env {
    type Target = ContainerEnv;
    fn deref(&self) -> &ContainerEnv {
        &self.0
    }
}

impl Env {
    fn new() -> Env {
        Env(ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-test"))
    }

    /// `doca run` (or `create`) with this test's cgroup parent, then `args`.
    fn run_args<'a>(&'a self, verb: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        self.0.args(verb, args)
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.t.run(&self.run_args("run", args))
    }

    fn ok(&self, args: &[&str]) -> String {
        self.t.ok(args)
    }

    fn inspect(&self, name: &str) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&self.t.ok(&["inspect", name])).unwrap();
        v[0].clone()
    }
}

fn out(o: &std::process::Output) -> (Option<i32>, String, String) {
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The foreground CLI blocks the signals it forwards; its container once inherited that mask
/// (SIGTERM, SIGALRM blocked: `ping -w` never timed out, stop had to kill) and Rust's ignored
/// SIGPIPE. A container's process, and an exec'd one, start clean.
#[test]
fn container_processes_start_with_no_signal_blocked_or_ignored() {
    require_root!();
    let e = Env::new();
    let (code, stdout, stderr) = out(&e.run(&["--rm", "busybox", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]));
    assert_eq!((code, stdout.as_str()), (Some(0), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"), "{stderr}");
    let id = e.t.ok(&e.run_args("run", &["-d", "busybox", "sleep", "300"])).trim().to_string();
    let got = e.ok(&["exec", &id, "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]);
    assert_eq!(got, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    e.ok(&["rm", "-f", &id]);
}

#[test]
fn run_prints_output_and_returns_dockers_exit_codes() {
    require_root!();
    let e = Env::new();
    let (code, stdout, stderr) = out(&e.run(&["--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]));
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (Some(3), "out\n", "err\n"));
    assert_eq!(e.ok(&["ps", "-aq"]), "", "--rm removed the container");

    let (code, _, stderr) = out(&e.run(&["busybox", "no-such-command"]));
    assert_eq!(code, Some(127), "{stderr}");
    assert!(stderr.contains("no-such-command") && stderr.contains("not found"), "{stderr}");
    let (code, _, stderr) = out(&e.run(&["busybox", "/etc"]));
    assert_eq!(code, Some(126), "{stderr}");
    // (--pull never: a test never reaches Docker Hub; registry.rs covers pulls on loopback.)
    let (code, _, stderr) = out(&e.run(&["--pull", "never", "no-such-image"]));
    assert_eq!((code, stderr.trim()), (Some(125), "Error: No such image: no-such-image"));
    let (code, _, stderr) = out(&e.run(&["--restart", "always", "--rm", "busybox", "true"]));
    assert_eq!((code, stderr.trim()), (Some(125), "Error: Conflicting options: --restart and --rm"));
    // A failed start leaves a created container with the error recorded, as in docker.
    let failed = e.ok(&["ps", "-a", "--filter", "status=created", "--format", "{{.Command}}"]);
    assert!(failed.contains("\"no-such-command\""), "{failed}");
}

#[test]
fn image_config_user_workdir_env_and_hostname_are_honoured() {
    require_root!();
    let e = Env::new();
    let (code, stdout, stderr) = out(&e.run(&[
        "--rm",
        "-e",
        "GREETING=hi there",
        "-w",
        "/made/for/me",
        "-u",
        "nobody",
        "-h",
        "box",
        "busybox",
        "sh",
        "-c",
        "echo \"$GREETING|$(pwd)|$(id -u):$(id -g)|$(hostname)|$HOME\"",
    ]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "hi there|/made/for/me|65534:65534|box|/nonexistent\n");
    let (code, _, stderr) = out(&e.run(&["--rm", "-u", "nobody-at-all", "busybox", "true"]));
    assert_eq!(code, Some(125));
    assert!(stderr.contains("unable to find user nobody-at-all"), "{stderr}");
    // Docker's default capabilities and read-only /proc/sys.
    let (_, stdout, _) =
        out(&e.run(&["--rm", "busybox", "sh", "-c", "grep CapBnd /proc/self/status; echo 1 > /proc/sys/kernel/domainname || echo ro"]));
    assert!(stdout.contains("00000000a80425fb") && stdout.ends_with("ro\n"), "{stdout}");
    let (_, stdout, _) = out(&e.run(&[
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "touch /x 2>/dev/null || echo ro; touch /scratch/y && echo tmpfs",
    ]));
    assert_eq!(stdout, "ro\ntmpfs\n");
}

#[test]
fn detached_container_lifecycle() {
    require_root!();
    let e = Env::new();
    let id =
        e.t.ok(&e.run_args(
            "run",
            &[
                "-d",
                "--name",
                "web",
                "-l",
                "tier=front",
                "busybox",
                "sh",
                "-c",
                "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done",
            ],
        ))
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let ps = e.ok(&["ps"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    );
    assert!(lines[1].starts_with(&id[..12]) && lines[1].contains("Up ") && lines[1].ends_with("web"), "{ps}");
    assert_eq!(e.ok(&["ps", "-q", "--filter", "label=tier=front"]).trim(), &id[..12]);
    assert_eq!(e.ok(&["ps", "-q", "--filter", "name=nomatch"]), "");
    assert_eq!(e.ok(&["ps", "--format", "{{.Names}} {{.State}} {{.Image}}"]), "web running busybox\n");

    // The log has the first line as soon as the container has written it.
    let mut seen = String::new();
    for _ in 0..50 {
        seen = e.ok(&["logs", "web"]);
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(seen, "started\n");
    assert!(e.ok(&["logs", "-t", "web"]).starts_with("20"), "timestamps first");

    // exec: output, exit code, user, environment, working directory, stdin.
    assert_eq!(e.ok(&["exec", "web", "sh", "-c", "echo $HOSTNAME; pwd"]), format!("{}\n/\n", &id[..12]));
    let (code, _, _) = out(&e.t.run(&["exec", "web", "sh", "-c", "exit 7"]));
    assert_eq!(code, Some(7));
    assert_eq!(e.ok(&["exec", "-u", "nobody", "-e", "X=1", "-w", "/tmp", "web", "sh", "-c", "echo $(id -u) $X $(pwd)"]), "65534 1 /tmp\n");
    let mut child = e.t.cmd().args(["exec", "-i", "web", "cat"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"through stdin\n").unwrap();
    assert_eq!(String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap(), "through stdin\n");
    // docker's exec exits 126 for a process that could not start, found or not (issue 17,
    // item 14); a process that ran keeps its own 127; `-t` does not wait for a pty that never
    // comes.
    let (code, _, stderr) = out(&e.t.run(&["exec", "web", "no-such-command"]));
    assert_eq!(code, Some(126), "{stderr}");
    assert!(stderr.contains("executable file not found"), "{stderr}");
    let (code, _, _) = out(&e.t.run(&["exec", "web", "sh", "-c", "exit 127"]));
    assert_eq!(code, Some(127));
    let (code, _, stderr) = out(&e.t.run(&["exec", "-t", "web", "no-such-command"]));
    assert_eq!(code, Some(126), "{stderr}");

    let i = e.inspect("web");
    assert_eq!(i["Id"], id.as_str());
    assert_eq!(i["Name"], "/web");
    assert_eq!(i["State"]["Status"], "running");
    assert_eq!(i["State"]["Running"], true);
    assert!(i["State"]["Pid"].as_i64().unwrap() > 1);
    assert_eq!(i["Config"]["Labels"]["tier"], "front");
    assert_eq!(i["Config"]["Cmd"][0], "sh");
    assert_eq!(i["HostConfig"]["LogConfig"]["Type"], "json-file");
    assert!(std::path::Path::new(i["LogPath"].as_str().unwrap()).exists());

    // rm refuses a running container; stop delivers SIGTERM and the trap answers.
    let err = e.t.fails(&["rm", "web"], 1);
    assert!(err.contains("You cannot remove a running container") && err.contains("force remove"), "{err}");
    assert_eq!(e.ok(&["stop", "web"]), "web\n");
    assert_eq!(e.ok(&["wait", "web"]), "0\n");
    let i = e.inspect("web");
    assert_eq!((i["State"]["Status"].as_str(), i["State"]["ExitCode"].as_i64()), (Some("exited"), Some(0)));
    assert_ne!(i["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(e.ok(&["logs", "web"]), "started\nbye\n");
    assert!(e.ok(&["ps", "-a"]).contains("Exited (0)"));
    assert_eq!(e.ok(&["ps"]).lines().count(), 1, "only the header: nothing runs");

    // start again, kill, rename, rm.
    assert_eq!(e.ok(&["start", "web"]), "web\n");
    assert_eq!(e.ok(&["kill", "web"]), "web\n");
    assert_eq!(e.ok(&["wait", "web"]), "137\n");
    let err = e.t.fails(&["kill", "web"], 1);
    assert!(err.contains("is not running"), "{err}");
    e.ok(&["rename", "web", "api"]);
    assert!(e.t.fails(&["inspect", "web"], 1).contains("No such object: web"));
    assert_eq!(e.ok(&["rm", "api"]), "api\n");
    assert!(e.t.fails(&["rm", "api"], 1).contains("No such container: api"));
    let dirs = std::fs::read_dir(e.t.root().join("containers")).unwrap().count();
    assert_eq!(dirs, 0, "rm leaves no container directory");
}

#[test]
fn stdin_with_dash_i_closes_when_the_users_does() {
    require_root!();
    let e = Env::new();
    let mut child =
        e.t.cmd()
            .args(e.run_args("run", &["-i", "--rm", "busybox", "sh", "-c", "wc -l; echo done"]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
    child.stdin.take().unwrap().write_all(b"1\n2\n3\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "3\ndone\n");
    assert!(o.status.success());
}

#[test]
fn tty_gets_a_terminal_of_the_users_size() {
    require_root!();
    doca_testkit::require_tool!("script");
    let e = Env::new();
    let cmd = format!(
        "stty rows 33 cols 101; DOCA_ROOT={} DOCA_RUN_ROOT={} {} run --rm -t --cgroup-parent {} busybox sh -c 'tty; stty size'",
        e.t.root().display(),
        e.t.dir.path().join("run").display(),
        env!("CARGO_BIN_EXE_doca"),
        e.cgroup
    );
    let o = Command::new("script").args(["-qec", &cmd, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    assert!(text.contains("/dev/pts/0\n33 101\n"), "{text:?}");
    // exec -t: its own pty through a console socket whose path (long run root, 64-digit id)
    // is over sun_path's limit. (Without -i: script(1) with stdin at /dev/null types a NUL,
    // its VEOF, into the terminal, which -i would forward.)
    e.t.ok(&["run", "-d", "--cgroup-parent", &e.cgroup, "--name", "ttyx", "busybox", "sleep", "300"]);
    let cmd = format!(
        "stty rows 21 cols 77; DOCA_ROOT={} DOCA_RUN_ROOT={} {} exec -t ttyx sh -c 'stty size; tty'",
        e.t.root().display(),
        e.t.dir.path().join("run").display(),
        env!("CARGO_BIN_EXE_doca"),
    );
    let o = Command::new("script").args(["-qec", &cmd, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    assert!(text.contains("21 77\n/dev/pts/"), "{text:?}");
}

#[test]
fn restart_policy_on_failure_and_oom_kill() {
    require_root!();
    let e = Env::new();
    e.t.ok(&e.run_args("run", &["-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo try; exit 1"]));
    let mut i = e.inspect("flaky");
    for _ in 0..100 {
        if i["RestartCount"] == 2 && i["State"]["Status"] == "exited" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        i = e.inspect("flaky");
    }
    assert_eq!(
        (i["RestartCount"].as_i64(), i["State"]["Status"].as_str(), i["State"]["ExitCode"].as_i64()),
        (Some(2), Some("exited"), Some(1))
    );
    assert_eq!(e.ok(&["logs", "flaky"]), "try\ntry\ntry\n");
    assert_eq!(i["HostConfig"]["RestartPolicy"], serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 2}));

    let (code, _, _) =
        out(&e.run(&["--name", "hog", "-m", "8m", "--memory-swap", "8m", "busybox", "sh", "-c", "x=a; while true; do x=$x$x; done"]));
    assert_eq!(code, Some(137));
    let i = e.inspect("hog");
    assert_eq!(i["State"]["OOMKilled"], true);
    assert_eq!(i["HostConfig"]["Memory"], 8 << 20);
}

#[test]
fn names_conflict_and_images_in_use_stay() {
    require_root!();
    let e = Env::new();
    let id = e.t.ok(&e.run_args("create", &["--name", "one", "busybox", "true"])).trim().to_string();
    // What docker's daemon refuses, `create` exits 1 for (docker's CLI: run 125, create 1).
    let err = e.t.fails(&e.run_args("create", &["--name", "one", "busybox", "true"]), 1);
    assert!(err.contains(&format!("Conflict. The container name \"/one\" is already in use by container \"{id}\"")), "{err}");
    let err = e.t.fails(&e.run_args("create", &["--name", "-bad", "busybox"]), 1);
    assert!(err.contains("Invalid container name (-bad)"), "{err}");
    assert!(e.ok(&["ps", "-a", "--format", "{{.Status}}"]).contains("Created"));
    let err = e.t.fails(&["rmi", "busybox"], 1);
    assert!(err.contains("conflict: unable to remove repository reference \"busybox\" (must force) - container"), "{err}");
    // Forced: the tag and the image go, as docker's (issue 17, item 16); the container, only
    // stopped, keeps what it needs and still starts; the rest goes with it.
    let out = e.ok(&["rmi", "-f", "busybox"]);
    assert!(out.starts_with("Untagged: busybox:latest\nDeleted: sha256:"), "{out}");
    assert_eq!(e.ok(&["images", "-qa"]), "");
    e.ok(&["start", "-a", "one"]);
    e.ok(&["rm", "one"]);
    assert_eq!(e.ok(&["images", "-qa"]), "", "the image goes with its last container");
}

#[test]
fn container_prune_removes_only_stopped_ones() {
    require_root!();
    let e = Env::new();
    e.t.ok(&e.run_args("run", &["--name", "done", "busybox", "true"]));
    e.t.ok(&e.run_args("run", &["-d", "--name", "live", "busybox", "sleep", "30"]));
    let out = e.ok(&["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n") && out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(e.ok(&["ps", "-a", "--format", "{{.Names}}"]), "live\n");
    assert_eq!(e.ok(&["rm", "-f", "live"]), "live\n");
}

#[test]
fn a_killed_cli_leaves_the_container_running_and_its_exit_recorded() {
    require_root!();
    let e = Env::new();
    // The foreground run takes the cleanup on itself; killed, it hands it back to the monitor.
    let mut cli =
        e.t.cmd().args(e.run_args("run", &["--rm", "--name", "orphan", "busybox", "sleep", "1"])).stdin(Stdio::null()).spawn().unwrap();
    let mut running = false;
    for _ in 0..100 {
        if e.ok(&["ps", "-q", "--filter", "name=orphan"]).trim().len() == 12 {
            running = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(running, "the container started");
    cli.kill().unwrap();
    cli.wait().unwrap();
    assert_eq!(e.ok(&["ps", "--format", "{{.Names}} {{.State}}"]), "orphan running\n", "the container outlives its CLI");
    for _ in 0..100 {
        if e.ok(&["ps", "-aq"]).is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the --rm container was not removed after its CLI died: {}", e.ok(&["ps", "-a"]));
}

#[test]
fn after_a_reboot_containers_show_exited_and_boot_restarts_by_policy() {
    require_root!();
    let e = Env::new();
    for (name, policy) in [("always", "always"), ("never", "no"), ("manual", "unless-stopped")] {
        e.t.ok(&e.run_args("run", &["-d", "--name", name, "--restart", policy, "busybox", "sleep", "300"]));
    }
    e.ok(&["stop", "-t", "0", "manual"]);
    e.ok(&["start", "manual"]);
    e.ok(&["stop", "-t", "0", "manual"]);
    // The reboot: every monitor and container process dies, mounts and the run root vanish.
    for name in ["always", "never"] {
        let i = e.inspect(name);
        let pid = i["State"]["Pid"].as_i64().unwrap() as i32;
        let shim = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let ppid: i32 = shim.lines().find_map(|l| l.strip_prefix("PPid:")).unwrap().trim().parse().unwrap();
        for p in [ppid, pid] {
            // SAFETY: kill(2) on processes this test started.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        let merged = i["GraphDriver"]["Data"]["MergedDir"].as_str().unwrap().to_string();
        for _ in 0..50 {
            if nix_umount(&merged) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    // A reboot also takes the pinned network namespaces.
    for ns in std::fs::read_dir(e.t.dir.path().join("run/netns")).into_iter().flatten().flatten() {
        assert!(nix_umount(ns.path().to_str().unwrap()));
    }
    std::fs::remove_dir_all(e.t.dir.path().join("run")).unwrap();
    let ps = e.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("always Exited (255)") && ps.contains("never Exited (255)") && ps.contains("manual Exited (137)"), "{ps}");
    assert_eq!(e.ok(&["system", "boot"]), "always\n", "only `always` comes back: `manual` was stopped by the user");
    assert_eq!(e.ok(&["ps", "--format", "{{.Names}} {{.State}}"]), "always running\n");
    assert_eq!(e.ok(&["start", "never"]), "never\n", "a container from before the reboot starts again");
    assert_eq!(e.ok(&["ps", "-q"]).lines().count(), 2);
}

fn nix_umount(path: &str) -> bool {
    let c = std::ffi::CString::new(path).unwrap();
    // SAFETY: umount2(2) with a valid C string.
    let r = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL)
}

#[test]
fn parallel_clis_lose_no_record_and_leave_nothing_behind() {
    require_root!();
    let e = Env::new();
    let e = std::sync::Arc::new(e);
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let e = e.clone();
            std::thread::spawn(move || {
                for k in 0..6 {
                    let name = format!("w{w}-{k}");
                    e.t.ok(&e.run_args("run", &["-d", "--name", &name, "busybox", "sh", "-c", "echo $HOSTNAME; sleep 30"]));
                    if k % 2 == 0 {
                        e.t.ok(&["rm", "-f", &name]);
                    } else {
                        e.t.ok(&e.run_args("create", &["--name", &format!("{name}-c"), "busybox", "true"]));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let names = e.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    let mut want: Vec<String> =
        (0..8).flat_map(|w| [1, 3, 5].into_iter().flat_map(move |k| [format!("w{w}-{k}"), format!("w{w}-{k}-c")])).collect();
    want.sort();
    assert_eq!(names, want, "every record that should exist does, and no other");
    assert_eq!(e.ok(&["ps", "-q"]).lines().count(), 24);
    let ids = e.ok(&["ps", "-aq"]);
    let ids: Vec<&str> = ids.lines().collect();
    let mut args = vec!["rm", "-f"];
    args.extend(ids);
    e.ok(&args);
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    let run = e.t.dir.path().join("run/containers");
    assert_eq!(std::fs::read_dir(&run).map(|d| d.count()).unwrap_or(0), 0, "no run directory left");
    let shims = std::process::Command::new("pgrep").args(["-f", &format!("{}/run/containers", e.t.dir.path().display())]).output().unwrap();
    assert!(shims.stdout.is_empty(), "no monitor left: {}", String::from_utf8_lossy(&shims.stdout));
    let parent = std::path::Path::new("/sys/fs/cgroup/memory").join(&e.cgroup);
    let left = std::fs::read_dir(&parent).into_iter().flatten().flatten().filter(|d| d.path().is_dir()).count();
    assert_eq!(left, 0, "no cgroup left under {}", parent.display());
}

#[test]
fn top_stats_update_diff_and_export() {
    require_root!();
    let e = Env::new();
    e.t.ok(&e.run_args(
        "run",
        &["-d", "--name", "box", "-m", "64m", "busybox", "sh", "-c", "echo hi > /tmp/new; rm /bin/vi; touch /ready; sleep 300"],
    ));
    for _ in 0..100 {
        if e.t.run(&["exec", "box", "test", "-e", "/ready"]).status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let top = e.ok(&["top", "box"]);
    assert!(top.starts_with("UID") && top.contains("sleep 300"), "{top}");
    let comms: Vec<String> =
        e.ok(&["top", "box", "-o", "pid,comm"]).lines().map(|l| l.split_whitespace().last().unwrap().to_string()).collect();
    // busybox sh execs the last command of -c in place of itself.
    assert_eq!(comms, ["COMMAND", "sleep"]);
    // As docker: ps output without a PID column cannot be matched to the container.
    assert!(e.t.fails(&["top", "box", "-o", "comm"], 1).contains("PID"));
    let stats = e.ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "box"]);
    assert!(stats.starts_with("box ") && stats.ends_with(" / 64MiB 1\n"), "{stats}");

    e.ok(&["update", "--memory", "128m", "--cpus", "0.5", "--pids-limit", "20", "box"]);
    assert_eq!(
        e.ok(&[
            "exec",
            "box",
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
            "/sys/fs/cgroup/pids/pids.max"
        ]),
        "134217728\n50000\n20\n"
    );
    let i = e.inspect("box");
    assert_eq!((i["HostConfig"]["Memory"].as_i64(), i["HostConfig"]["NanoCpus"].as_i64()), (Some(128 << 20), Some(500_000_000)));
    let err = e.t.fails(&["update", "--memory", "1k", "box"], 1);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");

    let diff = e.ok(&["diff", "box"]);
    for line in ["C /bin", "D /bin/vi", "A /ready", "C /tmp", "A /tmp/new"] {
        assert!(diff.lines().any(|l| l == line), "{line} in:\n{diff}");
    }
    e.ok(&["stop", "-t", "0", "box"]);
    // A stopped container exports too (its filesystem is mounted for the time of it).
    e.ok(&["export", "-o", e.t.path("box.tar").to_str().unwrap(), "box"]);
    let list = Command::new("tar").arg("-tvf").arg(e.t.path("box.tar")).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains(" tmp/new") && list.contains("bin/sh -> busybox") && !list.contains("bin/vi"), "{list}");
    let err = e.t.fails(&["top", "box"], 1);
    assert!(err.contains("is not running"), "{err}");
}

#[test]
fn health_checks_turn_healthy_then_unhealthy() {
    require_root!();
    let e = Env::new();
    e.t.ok(&e.run_args(
        "run",
        &[
            "-d",
            "--name",
            "hc",
            "--health-cmd",
            "cat /tmp/ok",
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
            "busybox",
            "sh",
            "-c",
            "sleep 0.5; echo fine > /tmp/ok; sleep 60",
        ],
    ));
    // The test, not a timer in the container, ends the healthy spell: on a loaded machine a
    // check may come later than any window a sleep would give (CI once missed a 1 s one).
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut removed = false;
    while std::time::Instant::now() < deadline {
        let s = e.ok(&["ps", "--format", "{{.Status}}"]);
        let h = s.trim().rsplit('(').next().unwrap_or("").trim_end_matches(')').to_string();
        if seen.last() != Some(&h) {
            seen.push(h.clone());
        }
        if h == "healthy" && !removed {
            e.ok(&["exec", "hc", "rm", "/tmp/ok"]);
            removed = true;
        }
        if h == "unhealthy" && removed {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    let healthy = seen.iter().position(|x| x == "healthy").unwrap_or_else(|| panic!("never healthy: {seen:?}"));
    assert!(seen[healthy..].iter().any(|x| x == "unhealthy"), "{seen:?}");
    let i = e.inspect("hc");
    let h = &i["State"]["Health"];
    assert_eq!(h["Status"], "unhealthy");
    assert!(h["FailingStreak"].as_i64().unwrap() >= 2);
    assert!(h["Log"].as_array().unwrap().len() <= 5);
    assert!(h["Log"].as_array().unwrap().iter().any(|l| l["Output"] == "fine\n" && l["ExitCode"] == 0), "{h}");
    let err = e.t.fails(&e.run_args("run", &["--no-healthcheck", "--health-cmd", "true", "busybox", "true"]), 125);
    assert!(err.contains("--no-healthcheck conflicts with --health-* options"), "{err}");
}

#[test]
fn init_forwards_signals_and_reaps_orphans() {
    require_root!();
    let e = Env::new();
    // The orphaned sleep is reparented to PID 1, doca's init, which reaps it: no zombie.
    let (code, stdout, stderr) = out(&e.run(&["--rm", "--init", "busybox", "sh", "-c", "(sleep 0.1 &); sleep 0.6; ps -o pid,stat,args"]));
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[1].contains("/sbin/docker-init -- sh -c"), "PID 1 is the init: {stdout}");
    assert!(!lines.iter().any(|l| l.split_whitespace().nth(1) == Some("Z")), "no zombie: {stdout}");
    e.t.ok(&e.run_args(
        "run",
        &["-d", "--init", "--name", "trapper", "busybox", "sh", "-c", "trap 'echo got TERM; exit 3' TERM; touch /ready; sleep 1000 & wait"],
    ));
    for _ in 0..100 {
        if e.t.run(&["exec", "trapper", "test", "-e", "/ready"]).status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    e.ok(&["stop", "-t", "30", "trapper"]);
    assert_eq!(e.ok(&["wait", "trapper"]), "3\n", "SIGTERM reached the command through the init");
    assert_eq!(e.ok(&["logs", "trapper"]), "got TERM\n");
    assert_eq!(e.inspect("trapper")["HostConfig"]["Init"], true);
}

#[test]
fn commit_makes_an_image_of_the_changes() {
    require_root!();
    let e = Env::new();
    e.t.ok(&e.run_args(
        "run",
        &[
            "--name",
            "src",
            "-e",
            "MODE=prod",
            "busybox",
            "sh",
            "-c",
            "echo data > /hello; rm /bin/vi; rm -r /var; mkdir /var; touch /var/new; ln /hello /hello2",
        ],
    ));
    let id = e.ok(&["commit", "-a", "me", "-m", "added hello", "-c", "CMD [\"cat\", \"/hello\"]", "src", "committed:1"]).trim().to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(e.ok(&e.run_args("run", &["--rm", "committed:1"])), "data\n", "the --change set the command");
    let check = "test ! -e /bin/vi && test ! -e /var/www && test -e /var/new && test $(stat -c %h /hello) = 2 && echo $MODE";
    assert_eq!(
        e.ok(&e.run_args("run", &["--rm", "committed:1", "sh", "-c", check])),
        "prod\n",
        "deletions, an opaque directory, a hard link and the environment carried over"
    );
    let i: serde_json::Value = serde_json::from_str(&e.ok(&["image", "inspect", "committed:1"])).unwrap();
    assert_eq!(i[0]["Author"], "me");
    assert_eq!(i[0]["Comment"], "added hello");
    assert_eq!(i[0]["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    let h = e.ok(&["history", "--format", "{{.Comment}}", "committed:1"]);
    assert!(h.starts_with("added hello\n"), "{h}");
    let err = e.t.fails(&["commit", "-c", "BOGUS x", "src"], 1);
    assert!(err.to_lowercase().contains("bogus"), "{err}");
    e.ok(&["rm", "src"]);
}

#[test]
fn cp_both_ways_stays_inside_the_container() {
    require_root!();
    let e = Env::new();
    let src = e.t.path("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a"), "one").unwrap();
    std::fs::write(src.join("sub/b"), "two").unwrap();
    std::os::unix::fs::symlink("a", src.join("link")).unwrap();
    e.t.ok(&e.run_args(
        "run",
        &["-d", "--name", "cpx", "busybox", "sh", "-c", "mkdir /data; echo c > /data/c; ln -s /etc /data/escape; touch /ready; sleep 300"],
    ));
    for _ in 0..100 {
        if e.t.run(&["exec", "cpx", "test", "-e", "/ready"]).status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    e.ok(&["cp", src.to_str().unwrap(), "cpx:/data/"]);
    e.ok(&["cp", src.join("a").to_str().unwrap(), "cpx:/data/renamed"]);
    assert_eq!(
        e.ok(&["exec", "cpx", "sh", "-c", "cat /data/src/a /data/src/sub/b /data/renamed; readlink /data/src/link"]),
        "onetwoonea\n"
    );
    // Through the container's symlink to /etc: the container's /etc, never the host's.
    let marker = format!("doca-cp-test-{}", std::process::id());
    e.ok(&["cp", src.join("a").to_str().unwrap(), &format!("cpx:/data/escape/{marker}")]);
    assert!(!std::path::Path::new("/etc").join(&marker).exists(), "cp wrote to the host's /etc");
    assert_eq!(e.ok(&["exec", "cpx", "cat", &format!("/etc/{marker}")]), "one");
    let out = e.t.path("out");
    e.ok(&["cp", "cpx:/data", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(out.join("c")).unwrap(), "c\n");
    assert_eq!(std::fs::read_link(out.join("escape")).unwrap(), std::path::Path::new("/etc"), "links are copied as links");
    assert_eq!(std::fs::read_to_string(out.join("src/sub/b")).unwrap(), "two");
    // -L follows a source symlink, inside the container: /data/escape is the container's /etc.
    e.ok(&["cp", "-L", &format!("cpx:/data/escape/{marker}"), e.t.path("via-link").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(e.t.path("via-link")).unwrap(), "one");
    e.ok(&["cp", "cpx:/data/src/link", e.t.path("plain-link").to_str().unwrap()]);
    assert_eq!(std::fs::read_link(e.t.path("plain-link")).unwrap(), std::path::Path::new("a"), "without -L a link is copied as a link");
    e.ok(&["cp", "-L", "cpx:/data/src/link", e.t.path("followed").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(e.t.path("followed")).unwrap(), "one");
    let err = e.t.fails(&["cp", "cpx:/nope", out.to_str().unwrap()], 1);
    assert!(err.contains("No such container:path: cpx:/nope"), "{err}");
    // A stopped container's filesystem is reachable too.
    e.ok(&["stop", "-t", "0", "cpx"]);
    e.ok(&["cp", "cpx:/data/c", e.t.path("c2").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(e.t.path("c2")).unwrap(), "c\n");
}

#[test]
fn events_record_the_lifecycle() {
    require_root!();
    let e = Env::new();
    let since = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 1).to_string();
    e.t.run(&e.run_args("run", &["--rm", "--name", "ev", "-l", "app=x", "busybox", "sh", "-c", "exit 2"]));
    e.ok(&["tag", "busybox", "other:1"]);
    let until = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1).to_string();
    let all = e.ok(&["events", "--since", &since, "--until", &until, "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"]);
    // The fixture's import is in the log too (Env::new imports busybox).
    assert_eq!(all, "image import busybox:latest\ncontainer create ev\ncontainer attach ev\ncontainer start ev\ncontainer die ev\ncontainer destroy ev\nimage tag other:1\n");
    let die = e.ok(&["events", "--since", &since, "--until", &until, "--filter", "event=die", "--filter", "label=app=x"]);
    assert!(die.contains(" container die ") && die.contains("exitCode=2") && die.contains("name=ev"), "{die}");
    assert_eq!(
        e.ok(&["events", "--since", &since, "--until", &until, "--filter", "type=image", "--format", "{{.Action}}"]),
        "import\ntag\n"
    );
}

#[test]
fn bad_flags_get_dockers_messages_and_create_nothing() {
    require_root!();
    let e = Env::new();
    for (args, want) in [
        (vec!["--memory", "12zz"], "invalid argument \"12zz\" for \"--memory\" flag"),
        (vec!["--cpus", "-1"], "range of CPUs is from 0.01"),
        (vec!["--restart", "sometimes"], "invalid restart policy 'sometimes'"),
        (vec!["--cap-add", "NOPE"], "invalid capability: CAP_NOPE"),
        (vec!["-w", "relative"], "the working directory 'relative' is invalid"),
        (vec!["--ulimit", "nofile=10:5"], "ulimit soft limit must be less than or equal to hard limit"),
        (vec!["--stop-signal", "SIGNOPE"], "Invalid signal: SIGNOPE"),
        (vec!["--network", "nope"], "network nope not found"),
    ] {
        let mut a = args.clone();
        a.extend(["busybox", "true"]);
        let err = e.t.fails(&e.run_args("run", &a), 125);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "", "no record was created");
    assert_eq!(std::fs::read_dir(e.t.root().join("containers")).map(|d| d.count()).unwrap_or(0), 0);
    let err = e.t.fails(&["start", "nosuch"], 1);
    assert!(err.contains("No such container: nosuch"), "{err}");
    let err = e.t.fails(&["logs", "nosuch"], 1);
    assert!(err.contains("No such container: nosuch"), "{err}");
}

/// `info` counts this store's containers and images and reads the host as docker's does;
/// `version` reports doca and its runtime; both take docker's `--format` fields.
#[test]
fn info_and_version_report_the_store_and_the_host() {
    require_root!();
    let e = Env::new();
    e.t.ok(&e.run_args("run", &["-d", "--network", "none", "busybox", "sleep", "1000"]));
    e.t.ok(&e.run_args("create", &["--network", "none", "busybox", "true"]));
    let root = e.t.root().display().to_string();
    let cgroup = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() { "2" } else { "1" };
    let got = e.ok(&[
        "info",
        "--format",
        "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}} {{.Images}} {{.ServerVersion}} {{.DockerRootDir}} {{.CgroupVersion}} {{.DefaultRuntime}}",
    ]);
    assert_eq!(got, format!("2 1 0 1 1 {} {root} {cgroup} doca\n", env!("CARGO_PKG_VERSION")));
    assert_eq!(e.ok(&["system", "info", "--format", "{{.Containers}} {{.Images}}"]), "2 1\n", "docker's alias");
    let text = e.ok(&["info"]);
    assert!(text.contains("\nServer:\n Containers: 2\n  Running: 1\n  Paused: 0\n  Stopped: 1\n Images: 1\n"), "{text}");
    assert!(text.contains(&format!("\n Docker Root Dir: {root}\n")), "{text}");
    let j: serde_json::Value = serde_json::from_str(&e.ok(&["info", "--format", "{{json .}}"])).unwrap();
    let nproc: u64 = String::from_utf8(Command::new("nproc").output().unwrap().stdout).unwrap().trim().parse().unwrap();
    assert_eq!(j["NCPU"].as_u64(), Some(nproc));
    let kb: u64 =
        std::fs::read_to_string("/proc/meminfo").unwrap().lines().next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(j["MemTotal"].as_u64(), Some(kb * 1024));
    assert_eq!(
        j["KernelVersion"].as_str().map(str::to_string),
        Some(String::from_utf8(Command::new("uname").arg("-r").output().unwrap().stdout).unwrap().trim().to_string())
    );

    let v = e.ok(&["version", "--format", "{{.Client.Version}} {{.Server.Version}} {{json .Server.Components}}"]);
    let ver = env!("CARGO_PKG_VERSION");
    assert_eq!(
        v,
        format!("{ver} {ver} [{{\"Name\":\"Engine\",\"Version\":\"{ver}\"}},{{\"Name\":\"doca-runc\",\"Version\":\"{ver}\"}}]\n")
    );
    assert!(e.ok(&["version"]).starts_with(&format!("Client: doca\n Version:          {ver}\n")));
}

/// Prune filters as docker's: `label=`, `label!=` and `until=` choose what goes; `until` is
/// refused where docker refuses it.
#[test]
fn prune_filters_choose_by_label_and_age() {
    require_root!();
    let e = Env::new();
    let make = |label: Option<&str>| {
        let mut args = vec!["--network", "none"];
        if let Some(l) = label {
            args.extend(["--label", l]);
        }
        args.extend(["busybox", "true"]);
        e.t.ok(&e.run_args("create", &args)).trim().to_string()
    };
    let (a, b, none) = (make(Some("team=a")), make(Some("team=b")), make(None));
    let prune = |filter: &str| e.ok(&["container", "prune", "-f", "--filter", filter]);
    assert_eq!(prune("until=1h"), "Total reclaimed space: 0B\n", "everything is newer than an hour");
    assert!(prune("label=team=a").starts_with(&format!("Deleted Containers:\n{a}\n\n")));
    assert!(prune("label!=team").starts_with(&format!("Deleted Containers:\n{none}\n\n")));
    assert!(prune("until=2099-01-01").starts_with(&format!("Deleted Containers:\n{b}\n\n")));
    assert!(e.t.fails(&["container", "prune", "-f", "--filter", "foo=1"], 1).contains("invalid filter 'foo'"));

    e.ok(&["network", "create", "--label", "x", "labelled"]);
    e.ok(&["network", "create", "plain"]);
    assert_eq!(e.ok(&["network", "prune", "-f", "--filter", "label=x"]), "Deleted Networks:\nlabelled\n\n");
    assert_eq!(e.ok(&["network", "prune", "-f", "--filter", "label!=x"]), "Deleted Networks:\nplain\n\n");

    assert!(e.t.fails(&["volume", "prune", "-f", "--filter", "until=1h"], 1).contains("invalid filter 'until'"));
    let err = e.t.fails(&["system", "prune", "-f", "--volumes", "--filter", "until=1h"], 1);
    assert!(err.contains("The \"until\" filter is not supported with \"--volumes\""), "{err}");
    assert_eq!(e.ok(&["system", "prune", "-f", "--filter", "until=1h"]), "Total reclaimed space: 0B\n");
}

/// Concurrent `doca start` of one created container: one start wins, the others wait for it
/// and find it running (docker prints the name and exits 0); the container runs once, on one
/// address. (Before the container lock every start failed and none won.)
#[test]
fn concurrent_starts_of_one_container_let_one_win() {
    require_root!();
    let e = std::sync::Arc::new(Env::new());
    let id = e.t.ok(&e.run_args("create", &["busybox", "sleep", "600"])).trim().to_string();
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let (e, id) = (e.clone(), id.clone());
            std::thread::spawn(move || out(&e.t.run(&["start", &id])))
        })
        .collect();
    for s in starts {
        let (code, stdout, stderr) = s.join().unwrap();
        assert_eq!((code, stdout.trim()), (Some(0), id.as_str()), "{stderr}");
    }
    let i = e.inspect(&id);
    assert_eq!(i["State"]["Status"], "running");
    let pids = e.ok(&["top", &id]);
    assert_eq!(pids.lines().filter(|l| l.contains("sleep 600")).count(), 1, "{pids}");
    e.ok(&["rm", "-f", &id]);
}

/// Parallel `rm -f` of one container: one removes it, the others say there is no such
/// container (before, all eight printed success).
#[test]
fn parallel_rm_f_of_one_container_removes_it_once() {
    require_root!();
    let e = std::sync::Arc::new(Env::new());
    let id = e.t.ok(&e.run_args("run", &["-d", "busybox", "sleep", "600"])).trim().to_string();
    let rms: Vec<_> = (0..8)
        .map(|_| {
            let (e, id) = (e.clone(), id.clone());
            std::thread::spawn(move || out(&e.t.run(&["rm", "-f", &id])))
        })
        .collect();
    let results: Vec<_> = rms.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.0 == Some(0)).count(), 1, "{results:?}");
    for (code, _, stderr) in results.iter().filter(|r| r.0 != Some(0)) {
        assert_eq!(*code, Some(1));
        assert!(stderr.contains("No such container"), "{stderr}");
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

/// `doca cp` into a created container while `doca start` runs: every copy lands in the
/// container, and the running container keeps its rootfs (before, a copy's unmount took the
/// starting container's overlay away and later copies vanished).
#[test]
fn cp_into_a_container_while_it_starts_loses_nothing() {
    require_root!();
    let e = std::sync::Arc::new(Env::new());
    let id = e.t.ok(&e.run_args("create", &["busybox", "sleep", "600"])).trim().to_string();
    let file = e.t.path("payload");
    std::fs::write(&file, "copied\n").unwrap();
    let copies: Vec<_> = (0..8)
        .map(|n| {
            let (e, id, file) = (e.clone(), id.clone(), file.clone());
            std::thread::spawn(move || out(&e.t.run(&["cp", file.to_str().unwrap(), &format!("{id}:/f{n}")])))
        })
        .collect();
    e.ok(&["start", &id]);
    for c in copies {
        let (code, _, stderr) = c.join().unwrap();
        assert_eq!(code, Some(0), "{stderr}");
    }
    for n in 0..8 {
        assert_eq!(e.ok(&["exec", &id, "cat", &format!("/f{n}")]), "copied\n");
    }
    let merged = e.t.root().join("containers").join(&id).join("merged");
    assert!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(merged.to_str().unwrap()),
        "the running container's rootfs is mounted"
    );
    e.ok(&["cp", file.to_str().unwrap(), &format!("{id}:/late")]);
    assert_eq!(e.ok(&["exec", &id, "cat", "/late"]), "copied\n");
    e.ok(&["rm", "-f", &id]);
}

/// docker's device rules: CAP_MKNOD makes any node, the device cgroup still refuses to open
/// one that is not a default device.
#[test]
fn mknod_works_and_the_node_cannot_be_used() {
    require_root!();
    let e = Env::new();
    let (code, stdout, stderr) = out(&e.run(&[
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mknod /tmp/mem c 1 1 && echo made; head -c 1 /tmp/mem > /dev/null 2>&1 || echo refused; mknod /tmp/null c 1 3 && echo x > /tmp/null && echo usable",
    ]));
    assert_eq!((code, stdout.as_str()), (Some(0), "made\nrefused\nusable\n"), "{stderr}");
}

/// A health check that writes without end: the monitor keeps docker's 4 KiB of it, and its
/// own memory stays small (before, it grew by the check's whole output: 420 MB in 22 s).
#[test]
fn a_chatty_health_check_does_not_grow_the_monitor() {
    require_root!();
    let e = Env::new();
    let id = e.t.ok(&e.run_args(
        "run",
        &[
            "-d",
            "--health-cmd",
            "head -c 100000000 /dev/zero",
            "--health-interval",
            "200ms",
            "--health-timeout",
            "20s",
            "busybox",
            "sleep",
            "600",
        ],
    ));
    let id = id.trim();
    let mut log_len = 0;
    for _ in 0..300 {
        let i = e.inspect(id);
        if let Some(l) = i["State"]["Health"]["Log"].as_array().and_then(|l| l.first()) {
            log_len = l["Output"].as_str().unwrap_or("").len();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(log_len, 4096, "the health log keeps docker's 4 KiB");
    let shim = std::process::Command::new("pgrep").args(["-f", &format!("run/containers/{id}/shim.json")]).output().unwrap();
    let pid = String::from_utf8_lossy(&shim.stdout).lines().next().unwrap_or("").trim().to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm: u64 = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).unwrap().parse().unwrap();
    assert!(hwm < 50_000, "the monitor's peak RSS is {hwm} kB after a 100 MB health check output");
    e.ok(&["rm", "-f", id]);
}

/// `-D` (docker's flag, before the command) shows what the engine did; without it stderr
/// stays as it was; a container's runtime.log and shim.log keep JSON lines; a bad level is
/// refused with docker's words.
#[test]
fn debug_logging_is_asked_for_and_kept_beside_the_container() {
    require_root!();
    let e = Env::new();
    let (code, stdout, stderr) = out(&e.run(&["--rm", "busybox", "echo", "quiet"]));
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (Some(0), "quiet\n", ""), "no diagnostics unless asked");

    let mut args = vec!["-D"];
    args.extend(e.run_args("run", &["-d", "busybox", "sleep", "30"]));
    let (code, stdout, stderr) = out(&e.t.run(&args));
    assert_eq!(code, Some(0), "{stderr}");
    let id = stdout.trim().to_string();
    assert!(stderr.contains("DEBUG") && stderr.contains("runtime command") && stderr.contains("monitor replied"), "{stderr}");
    let run_dir = e.t.path("run").join("containers").join(&id);
    let shim_log = std::fs::read_to_string(run_dir.join("shim.log")).unwrap();
    let line: serde_json::Value = serde_json::from_str(shim_log.lines().next().expect("a debug line")).unwrap();
    assert_eq!(line["level"], "debug");
    assert!(line["msg"].as_str().unwrap().contains("created"), "{shim_log}");
    // An engine command the runtime refuses (no CPU 4095 here): its error is kept in
    // runtime.log, as runc's JSON line.
    let (code, _, stderr) = out(&e.t.run(&["update", "--cpuset-cpus", "4095", &id]));
    assert_eq!(code, Some(1), "{stderr}");
    let runtime_log = std::fs::read_to_string(run_dir.join("runtime.log")).unwrap();
    let v: serde_json::Value = serde_json::from_str(runtime_log.lines().last().expect("the update's error")).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("cpuset.cpus") && stderr.contains("cpuset.cpus"), "{runtime_log} / {stderr}");
    e.ok(&["rm", "-f", &id]);

    let (code, _, stderr) = out(&e.t.run(&["--log-level", "chatty", "ps"]));
    assert_eq!((code, stderr.trim()), (Some(1), "Unable to parse logging level: chatty"));
    let (code, _, stderr) = out(&e.t.cmd().env("DOCA_LOG", "debug").arg("ps").output().unwrap());
    assert_eq!(code, Some(0));
    assert!(stderr.contains("engine opened"), "DOCA_LOG works as --log-level: {stderr}");
}

/// docker's init layer (issue 17, items 7, 8 and 20): `/.dockerenv` (tools detect containers
/// by it) and `/etc/mtab` exist in every container and in its export, and neither they nor the
/// mount points doca mounts over (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`) are changes
/// in `diff` or `commit`.
#[test]
fn dockerenv_and_mtab_come_from_an_init_layer_that_diff_and_commit_leave_out() {
    require_root!();
    let e = Env::new();
    let out = e.ok(&e.run_args(
        "run",
        &["--name", "initlayer", "busybox", "sh", "-c", "stat -c '%A %s' /.dockerenv; readlink /etc/mtab; touch /etc/mine"],
    ));
    assert_eq!(out, "-rwxr-xr-x 0\n/proc/mounts\n");
    assert_eq!(e.ok(&["diff", "initlayer"]), "C /etc\nA /etc/mine\n", "only what the container did");
    let export = e.t.cmd().args(["export", "initlayer"]).output().unwrap();
    let mut names = Vec::new();
    for entry in tar::Archive::new(&export.stdout[..]).entries().unwrap() {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    assert!(names.iter().any(|n| n == ".dockerenv") && names.iter().any(|n| n == "etc/mtab"), "{names:?}");
    e.ok(&["commit", "initlayer", "initlayer:img"]);
    let layer = e.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cgroup-parent",
        &e.cgroup,
        "initlayer:img",
        "sh",
        "-c",
        "ls /etc/mine && ls -a / | grep -c dockerenv",
    ]);
    assert_eq!(layer, "/etc/mine\n1\n", "the image has the change; its container gets its own /.dockerenv");
    e.ok(&["rm", "-f", "initlayer"]);
}

/// With the host's network a container keeps the host's name, as docker's (issue 17, item 1).
#[test]
fn network_host_keeps_the_hosts_hostname() {
    require_root!();
    let e = Env::new();
    let host = nix::unistd::gethostname().unwrap().to_string_lossy().into_owned();
    let out = e.ok(&e.run_args("run", &["--name", "hostnet", "--network", "host", "busybox", "sh", "-c", "hostname; cat /etc/hostname"]));
    assert_eq!(out, format!("{host}\n{host}\n"));
    assert_eq!(e.inspect("hostnet")["Config"]["Hostname"], host.as_str());
    let own = e.ok(&e.run_args("run", &["--rm", "--network", "host", "-h", "mine", "busybox", "hostname"]));
    assert_eq!(own, "mine\n", "-h still names it");
    e.ok(&["rm", "-f", "hostnet"]);
}

/// Supplementary groups as docker 20.10.18+ sets them (issue 17, item 2): the primary group
/// first (CVE-2022-36109), the user's groups from the image's /etc/group when no group is
/// given, then --group-add.
#[test]
fn users_get_dockers_supplementary_groups() {
    require_root!();
    let e = Env::new();
    let id = |args: &[&str]| {
        let mut a = vec!["--rm"];
        a.extend_from_slice(args);
        a.extend(["busybox", "sh", "-c", "id; grep Groups /proc/self/status"]);
        e.ok(&e.run_args("run", &a))
    };
    assert_eq!(id(&["-u", "1000:1000"]), "uid=1000 gid=1000 groups=1000\nGroups:\t1000 \n");
    assert_eq!(id(&["-u", "nobody"]), "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\nGroups:\t65534 \n");
    assert_eq!(id(&["-u", "1000", "--group-add", "50"]), "uid=1000 gid=0(root) groups=0(root),50\nGroups:\t0 50 \n");
    assert_eq!(id(&[]), "uid=0(root) gid=0(root) groups=0(root)\nGroups:\t0 \n");
}

/// docker's other `ps` filters (issue 17, item 4): health, volume, network, publish, expose,
/// is-task; a bad health value gets docker's words.
#[test]
fn ps_filters_health_volume_network_ports_and_tasks() {
    require_root!();
    let e = Env::new();
    e.ok(&e.run_args(
        "run",
        &["-d", "--name", "checked", "--network", "host", "--health-cmd", "true", "--health-interval", "200ms", "busybox", "sleep", "60"],
    ));
    e.ok(&e.run_args("run", &["-d", "--name", "plain", "--network", "none", "-v", "fvol:/data", "busybox", "sleep", "60"]));
    e.ok(&e.run_args("create", &["--name", "ported", "--network", "bridge", "-p", "18931:80", "--expose", "9000/udp", "busybox", "true"]));
    let ps = |f: &str| e.ok(&["ps", "-a", "--filter", f, "--format", "{{.Names}}"]);
    let mut healthy = String::new();
    for _ in 0..100 {
        healthy = ps("health=healthy");
        if !healthy.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(healthy, "checked\n");
    assert_eq!(ps("health=none"), "ported\nplain\n");
    assert_eq!(ps("health=unhealthy"), "");
    assert_eq!(ps("volume=fvol"), "plain\n");
    assert_eq!(ps("volume=/data"), "plain\n");
    assert_eq!(ps("network=bridge"), "ported\n");
    assert_eq!(ps("network=none"), "plain\n");
    assert_eq!(ps("network=host"), "checked\n");
    assert_eq!(ps("publish=18931"), "ported\n");
    assert_eq!(ps("publish=18931/udp"), "");
    assert_eq!(ps("expose=80"), "ported\n");
    assert_eq!(ps("expose=9000/udp"), "ported\n");
    // Config.ExposedPorts has what is published and exposed, as docker merges them.
    assert_eq!(e.inspect("ported")["Config"]["ExposedPorts"], serde_json::json!({"80/tcp": {}, "9000/udp": {}}));
    assert_eq!(ps("is-task=true"), "");
    assert_eq!(ps("is-task=false").lines().count(), 3);
    let err = e.t.fails(&["ps", "--filter", "health=great"], 1);
    assert_eq!(err.trim(), "Error: Unrecognised filter value for health: great");
    e.ok(&["rm", "-f", "checked", "plain", "ported"]);
}

/// `--health-cmd` shows in Config.Healthcheck as docker keeps it (issue 17, item 3): the
/// container's fields over the image's, unset ones left out.
#[test]
fn health_cmd_shows_in_config_healthcheck() {
    require_root!();
    let e = Env::new();
    e.ok(&e.run_args("create", &["--name", "hc", "--network", "none", "--health-cmd", "true", "--health-interval", "5s", "busybox"]));
    assert_eq!(e.ok(&["inspect", "-f", "{{.Config.Healthcheck.Test}}", "hc"]), "[CMD-SHELL true]\n");
    assert_eq!(e.inspect("hc")["Config"]["Healthcheck"], serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64}));
    e.ok(&e.run_args("create", &["--name", "nohc", "--network", "none", "busybox"]));
    assert!(e.inspect("nohc")["Config"].get("Healthcheck").is_none(), "left out when there is none");
    e.ok(&["rm", "hc", "nohc"]);
}

/// `--dns`, `--dns-search` and `--dns-option` write resolv.conf in libnetwork's order, the
/// search line first (issue 17, item 19).
#[test]
fn resolv_conf_puts_search_first_as_docker() {
    require_root!();
    let e = Env::new();
    let out = e.ok(&e.run_args(
        "run",
        &[
            "--rm",
            "--network",
            "none",
            "--dns",
            "10.9.9.9",
            "--dns-search",
            "example.com",
            "--dns-option",
            "ndots:2",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ],
    ));
    assert_eq!(out, "search example.com\nnameserver 10.9.9.9\noptions ndots:2\n");
}

/// inspect names the files mounted at /etc/hostname, /etc/hosts and /etc/resolv.conf, and a
/// volume's mode is docker's "z" (issue 17, item 9).
#[test]
fn inspect_names_the_etc_files_and_volume_modes() {
    require_root!();
    let e = Env::new();
    e.ok(&e.run_args("run", &["--name", "paths", "--network", "none", "-v", "pvol:/data", "-v", "/tmp:/host:ro", "busybox", "true"]));
    let i = e.inspect("paths");
    let hosts = i["HostsPath"].as_str().unwrap();
    assert!(hosts.ends_with("/hosts") && std::path::Path::new(hosts).is_file(), "{hosts}");
    let content = std::fs::read_to_string(i["HostnamePath"].as_str().unwrap()).unwrap();
    assert_eq!(content.trim(), &i["Id"].as_str().unwrap()[..12]);
    assert!(i["ResolvConfPath"].as_str().unwrap().ends_with("/resolv.conf"));
    let modes: Vec<(&str, &str)> =
        i["Mounts"].as_array().unwrap().iter().map(|m| (m["Destination"].as_str().unwrap(), m["Mode"].as_str().unwrap())).collect();
    assert_eq!(modes, [("/data", "z"), ("/host", "ro")]);
    e.ok(&["rm", "paths"]);
}

/// `cp` with `-` streams a tar archive out of and into a container (issue 17, item 6); an
/// archive from stdin is untrusted: an entry climbing out with `..` lands nowhere on the host.
#[test]
fn cp_streams_tar_archives_both_ways_and_a_climbing_entry_lands_nowhere() {
    require_root!();
    let e = Env::new();
    e.ok(&e.run_args("run", &["-d", "--name", "tarcp", "--network", "none", "busybox", "sleep", "60"]));
    e.ok(&["exec", "tarcp", "sh", "-c", "mkdir -p /srv/d && echo one > /srv/d/a && ln -s /etc/hostname /srv/d/link"]);
    let out = e.t.cmd().args(["cp", "tarcp:/srv/d", "-"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut names = Vec::new();
    for entry in tar::Archive::new(&out.stdout[..]).entries().unwrap() {
        let entry = entry.unwrap();
        names.push((entry.path().unwrap().display().to_string(), entry.header().entry_type().is_symlink()));
    }
    names.sort();
    assert_eq!(names, [("d/".to_string(), false), ("d/a".into(), false), ("d/link".into(), true)]);

    // In: what a docker client sends, then a hostile entry.
    let escape = std::env::temp_dir().join(format!("doca-cp-escape-{}", std::process::id()));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h.clone(), "in/f", &b"in\n"[..]).unwrap();
    let climbing = format!("../../../../../../..{}", escape.display());
    let name = &mut h.as_old_mut().name;
    name[..climbing.len()].copy_from_slice(climbing.as_bytes());
    h.set_cksum();
    b.append(&h, &b"out"[..]).unwrap();
    let archive = b.into_inner().unwrap();
    let mut child = e.t.cmd().args(["cp", "-", "tarcp:/srv"]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(&archive).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!escape.exists(), "the climbing entry reached the host");
    // The archive is refused whole, naming the entry (docker's breakout error): nothing of it
    // lands, not even the entries before.
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is outside of the destination"), "{}", String::from_utf8_lossy(&out.stderr));
    e.t.fails(&["exec", "tarcp", "cat", "/srv/in/f"], 1);
    let err = e.t.cmd().args(["cp", "-", "tarcp:/srv/d/a"]).stdin(Stdio::null()).output().unwrap();
    assert!(!err.status.success());
    e.ok(&["rm", "-f", "tarcp"]);
}

/// export writes hard links as link entries, names directories with a trailing slash and
/// owners by name, as docker's archives do (issue 17, item 11).
#[test]
fn export_keeps_hard_links_and_names_owners() {
    require_root!();
    let e = Env::new();
    e.ok(&e
        .run_args("run", &["--name", "links", "--network", "none", "busybox", "sh", "-c", "mkdir /d && echo data > /d/a && ln /d/a /d/b"]));
    let out = e.t.cmd().args(["export", "links"]).output().unwrap();
    assert!(out.status.success());
    let mut seen = std::collections::HashMap::new();
    for entry in tar::Archive::new(&out.stdout[..]).entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let link = entry.link_name().unwrap().map(|l| l.display().to_string());
        seen.insert(path, (h.entry_type(), link, h.username().unwrap().map(str::to_string), h.size().unwrap()));
    }
    let (a, b) = (&seen["d/a"], &seen["d/b"]);
    // One of the two names carries the data; the other links to it.
    let (data, link) = if a.0 == tar::EntryType::Link { (b, a) } else { (a, b) };
    assert_eq!((data.0, data.3), (tar::EntryType::Regular, 5));
    assert_eq!(link.0, tar::EntryType::Link);
    assert!(link.1.as_deref() == Some("d/a") || link.1.as_deref() == Some("d/b"), "{link:?}");
    assert_eq!(seen["d/"].0, tar::EntryType::Directory, "directories end with a slash");
    assert_eq!(seen["d/"].2.as_deref(), Some("root"));
    e.ok(&["rm", "links"]);
}

/// `--format` as docker's (issue 17, item 5): rows have docker's `.Label` method, a field that
/// does not exist is an error (exit 1), structs print as Go prints them.
#[test]
fn format_templates_have_label_methods_errors_and_go_structs() {
    require_root!();
    let e = Env::new();
    e.ok(&e
        .run_args("create", &["--name", "fmt", "--network", "none", "-l", "com.example.tier=web", "--restart", "on-failure:3", "busybox"]));
    assert_eq!(e.ok(&["ps", "-a", "--format", "{{.Names}} {{.Label \"com.example.tier\"}}|{{.Label \"none\"}}|"]), "fmt web||\n");
    let err = e.t.fails(&["ps", "-a", "--format", "{{.Nonexistent}}"], 1);
    assert!(err.contains("can't evaluate field Nonexistent"), "{err}");
    assert_eq!(e.ok(&["inspect", "-f", "{{.HostConfig.RestartPolicy}}", "fmt"]), "{on-failure 3}\n");
    assert_eq!(e.ok(&["inspect", "-f", "{{.Config.Labels}}", "fmt"]), "map[com.example.tier:web]\n");
    let json: serde_json::Value = serde_json::from_str(&e.ok(&["ps", "-a", "--format", "{{json .}}"])).unwrap();
    assert!(json.as_object().unwrap().keys().all(|k| !k.starts_with('\0')), "no hidden key in json: {json}");
    e.ok(&["volume", "create", "--label", "owner=me", "fmtvol"]);
    assert_eq!(e.ok(&["volume", "ls", "--format", "{{.Name}} {{.Label \"owner\"}}"]), "fmtvol me\n");
    e.ok(&["rm", "fmt"]);
}

/// `rmi -f` of an image only stopped containers use deletes it as docker does (issue 17,
/// item 16): gone from every name and listing, while the containers still start; it goes for
/// good with its last container.
#[test]
fn rmi_force_deletes_an_image_stopped_containers_use_and_they_still_start() {
    require_root!();
    let e = Env::new();
    let id = e.t.busybox("solo:1");
    let c = e.ok(&e.run_args("create", &["--network", "none", "solo:1", "echo", "alive"])).trim().to_string();
    let err = e.t.fails(&["rmi", "solo:1"], 1);
    assert!(err.contains("unable to remove repository reference \"solo:1\" (must force)"), "{err}");
    assert_eq!(e.ok(&["rmi", "-f", "solo:1"]), format!("Untagged: solo:1\nDeleted: {id}\n"));
    assert!(!e.ok(&["images", "-aq", "--no-trunc"]).contains(&id), "gone from the listing");
    e.t.fails(&["image", "inspect", &id], 1);
    assert_eq!(e.ok(&["ps", "-a", "--format", "{{.Image}}"]), format!("{}\n", &id[7..19]), "ps shows the id its name no longer leads to");
    assert_eq!(e.ok(&["start", "-a", &c]), "alive\n", "the container still has its image's layers and config");
    let rows = |id: &str| -> i64 {
        let db = rusqlite::Connection::open(e.t.root().join("doca.db")).unwrap();
        db.query_row("SELECT count(*) FROM images WHERE id = ?1", [id], |r| r.get(0)).unwrap()
    };
    assert_eq!(rows(&id), 1, "kept for the container");
    e.ok(&["rm", &c]);
    // With its last container the image went for good: the store checks clean, and the same
    // image loaded again is an image like any other.
    assert_eq!(rows(&id), 0);
    e.ok(&["system", "check"]);
    assert_eq!(e.t.busybox("solo:1").len(), id.len());
}

/// The other shapes of a hostile archive on `cp -`: a hard link to a host file and a file
/// written through a symlink to a host directory. Neither reaches the host, nor brings a host
/// file's content into the container.
#[test]
fn cp_from_stdin_refuses_links_out_of_the_archive() {
    require_root!();
    let e = Env::new();
    e.ok(&e.run_args("run", &["-d", "--name", "tarlinks", "--network", "none", "busybox", "sleep", "60"]));
    let marker = std::env::temp_dir().join(format!("doca-cp-through-link-{}", std::process::id()));
    let send = |archive: Vec<u8>| {
        let mut child = e.t.cmd().args(["cp", "-", "tarlinks:/tmp"]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(&archive).unwrap();
        child.wait_with_output().unwrap()
    };
    // A hard link named for a host file (by a climbing path and by an absolute one).
    for target in ["../../../../../../../etc/shadow", "/etc/shadow"] {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        h.set_mode(0o644);
        let name = &mut h.as_old_mut().linkname;
        name[..target.len()].copy_from_slice(target.as_bytes());
        b.append_data(&mut h, "shadow", std::io::empty()).unwrap();
        let sent = send(b.into_inner().unwrap());
        let err = String::from_utf8_lossy(&sent.stderr);
        // Refused by the unpacking's containment, not by a malformed archive.
        assert!(!sent.status.success() && err.contains("outside"), "a hard link out of the archive was taken: {target}: {err}");
        let (code, _, _) = out(&e.t.run(&["exec", "tarlinks", "test", "-e", "/tmp/shadow"]));
        assert_eq!(code, Some(1), "the host's {target} came into the container");
    }
    // A symlink to a host directory, then a file through it.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "esc", marker.parent().unwrap()).unwrap();
    let mut f = tar::Header::new_gnu();
    f.set_size(6);
    f.set_mode(0o644);
    f.set_cksum();
    b.append_data(&mut f, format!("esc/{}", marker.file_name().unwrap().to_string_lossy()), &b"pwned\n"[..]).unwrap();
    let _ = send(b.into_inner().unwrap());
    assert!(!marker.exists(), "a file was written through the archive's symlink onto the host");
    e.ok(&["rm", "-f", "tarlinks"]);
}

//! A real engine drives doca-runc as it drives runc: Debian's podman, with its own temp state,
//! running containers from a busybox image imported from the fixture. Output, exit codes,
//! resource limits and stop come back through podman itself.

use doca_testkit::{require_root, require_tool, Podman};
use std::process::Output;

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn podman_runs_containers_on_doca_runc() {
    require_root!();
    require_tool!("podman");
    let dir = tempfile::Builder::new().prefix("doca-podman-").tempdir().unwrap();
    let pm = Podman::new(&dir.path().join("podman")).with_runtime(std::path::Path::new(env!("CARGO_BIN_EXE_doca-runc")));
    let o = pm.cmd().args(["import", "-q", "-c", "CMD [\"sh\"]"]).arg(doca_testkit::busybox_tar()).arg("localhost/bb:1").output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    // podman's own default seccomp profile applies.
    let run = |args: &[&str]| pm.cmd().args(["run", "--rm"]).args(args).output().unwrap();

    let o = run(&["localhost/bb:1", "sh", "-c", "echo hello; hostname; id -u"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!((lines[0], lines[2]), ("hello", "0"));
    // ... and is enforced: podman's profile refuses keyctl, Docker's too.
    let o = run(&["localhost/bb:1", "sh", "-c", "grep Seccomp: /proc/self/status"]);
    assert_eq!(text(&o).0.trim(), "Seccomp:\t2", "{:?}", text(&o));

    assert_eq!(run(&["localhost/bb:1", "sh", "-c", "exit 7"]).status.code(), Some(7));

    // -i: stdin reaches the container through conmon's pipes and doca-runc.
    let mut c = pm
        .cmd()
        .args(["run", "--rm", "-i", "localhost/bb:1", "sh"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut c.stdin.take().unwrap(), b"echo via-stdin; exit 3\n").unwrap();
    let o = c.wait_with_output().unwrap();
    assert_eq!((o.status.code(), text(&o).0.as_str()), (Some(3), "via-stdin\n"));

    // -t: the pty comes through doca-runc's --console-socket.
    let o = run(&["-t", "localhost/bb:1", "tty"]);
    assert_eq!(text(&o).0.trim(), "/dev/pts/0", "{:?}", text(&o));

    let o = run(&[
        "--memory",
        "64m",
        "--pids-limit",
        "32",
        "localhost/bb:1",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max",
    ]);
    if std::path::Path::new("/sys/fs/cgroup/memory").is_dir() {
        assert_eq!(text(&o).0, "67108864\n32\n", "{:?}", text(&o));
    }

    let o = run(&["localhost/bb:1", "nosuchcmd"]);
    assert_eq!(o.status.code(), Some(127), "{:?}", text(&o));
    assert!(text(&o).1.contains("executable file not found in $PATH"), "{:?}", text(&o));

    let o = pm.cmd().args(["run", "-d", "localhost/bb:1", "sleep", "1000"]).output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let id = text(&o).0.trim().to_string();
    let ps = pm.cmd().args(["ps", "--format", "{{.ID}} {{.Status}}", "--no-trunc"]).output().unwrap();
    assert!(text(&ps).0.contains(&format!("{id} Up")), "{:?}", text(&ps));
    let o = pm.cmd().args(["exec", &id, "sh", "-c", "echo $$; exit 6"]).output().unwrap();
    assert_eq!(o.status.code(), Some(6), "{:?}", text(&o));
    assert_ne!(text(&o).0.trim(), "1", "podman exec did not join the container's pid namespace");
    assert!(pm.cmd().args(["stop", "-t", "1", &id]).output().unwrap().status.success());
    let o = pm.cmd().args(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", &id]).output().unwrap();
    assert_eq!(text(&o).0.trim(), "exited 137");
    assert!(pm.cmd().args(["rm", &id]).output().unwrap().status.success());
}

//! CVE-2019-5736, as the attack on doca did it: the container makes an executable whose
//! interpreter is `#!/proc/self/exe`, so the next doca-runc process that execs it inside the
//! container runs doca-runc again, in the container's pid namespace and dumpable. A racer in
//! the container holds `/proc/PID/exe` of that process and, once it exits, reopens the link
//! for writing: on an unprotected runtime that is the host's doca-runc. Two triggers: the
//! user's `doca exec`, and (no user action at all) the container's own health check, whose
//! `/bin/sh` the container replaced. The runtime the container attacks is a private copy
//! (`--runtime PATH`), so a failing test cannot break the other tests' runtime.

use super::common::{runc, sha256_file, Env};
use std::path::{Path, PathBuf};

/// The host's C library at the paths a glibc image has them: a dynamically linked doca-runc
/// (the cargo build) runs inside the container only when the image has a loader and libc,
/// as every Debian or Ubuntu image has. The installed, static doca-runc needs none.
const HOST_LIBS: [&str; 4] = ["-v", "/usr/lib64:/lib64:ro", "-v", "/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro"];

/// A private copy of doca-runc for the container to attack, and its digest.
fn runtime_copy(e: &Env) -> (PathBuf, String) {
    let dir = e.t.path("runtime");
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("doca-runc");
    std::fs::copy(runc(), &copy).unwrap();
    let digest = sha256_file(&copy);
    (copy, digest)
}

/// A container on `runtime` running the racer (`racer_args`), with `run_args` for `doca run`.
fn racer(e: &Env, runtime: &Path, run_args: &[&str], racer_args: &[&str]) -> String {
    let tools = e.tools(&[("racer", &doca_testkit::c_program("racer", doca_testkit::PROC_EXE_RACER))]);
    let bind = format!("{}:/attack:ro", tools.display());
    let mut args = vec!["-d", "--runtime", runtime.to_str().unwrap(), "-v", &bind];
    args.extend(run_args);
    args.extend(HOST_LIBS);
    args.extend(["busybox", "/attack/racer"]);
    args.extend(racer_args);
    e.run_ok(&args)
}

fn verdict(logs: &str) -> bool {
    logs.contains("verdict:") || logs.contains("WROTE")
}

fn assert_untouched(logs: &str, runtime: &Path, digest: &str) {
    assert!(logs.contains("caught pid"), "the racer never caught a doca-runc process, so the attack was not performed:\n{logs}");
    assert!(!logs.contains("WROTE"), "the container wrote through /proc/PID/exe:\n{logs}");
    assert_eq!(sha256_file(runtime), digest, "the runtime binary on the host changed:\n{logs}");
}

#[test]
fn exec_of_a_proc_self_exe_trap_cannot_overwrite_the_runtime() {
    doca_testkit::require_root!();
    let e = Env::new();
    let (runtime, digest) = runtime_copy(&e);
    let id = racer(&e, &runtime, &[], &[]);
    e.logs_until(&id, 10, |l| l.contains("ready"));
    e.t.ok(&["exec", &id, "sh", "-c", "printf '#!/proc/self/exe\\n' > /bin/evil && chmod 755 /bin/evil"]);
    for _ in 0..30 {
        // The trap runs doca-runc with a path for a subcommand: it fails, as it should.
        let _ = e.t.run(&["exec", &id, "/bin/evil"]);
        if e.logs_until(&id, 1, |l| l.contains("caught")).contains("caught") {
            break;
        }
    }
    let logs = e.logs_until(&id, 20, verdict);
    assert_untouched(&logs, &runtime, &digest);
    e.t.ok(&["rm", "-f", &id]);
}

#[test]
fn a_health_check_through_a_replaced_shell_cannot_overwrite_the_runtime() {
    doca_testkit::require_root!();
    let e = Env::new();
    let (runtime, digest) = runtime_copy(&e);
    let id = racer(&e, &runtime, &["--health-cmd", "true", "--health-interval", "200ms"], &["health"]);
    let logs = e.logs_until(&id, 60, verdict);
    assert_untouched(&logs, &runtime, &digest);
    e.t.ok(&["rm", "-f", &id]);
}

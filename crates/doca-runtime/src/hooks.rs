//! OCI hooks (config.md "POSIX-platform Hooks"): each runs with the container's state on
//! stdin, its own args and env only, and is killed when its timeout passes.

use crate::error::{Result, RuntimeError};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The state document hooks read on stdin.
pub fn state_json(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &std::path::Path,
    annotations: &std::collections::HashMap<String, String>,
) -> String {
    serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": status, "pid": pid, "bundle": bundle, "annotations": annotations})
        .to_string()
}

/// Runs `hooks` in order; the first failure stops them and is returned.
pub fn run(kind: &str, hooks: &[Hook], state: &str) -> Result<()> {
    for h in hooks {
        run_one(kind, h, state)?;
    }
    Ok(())
}

/// For poststart and poststop, where the spec says a failure is a warning only.
pub fn run_warn(kind: &str, hooks: &[Hook], state: &str) {
    for h in hooks {
        if let Err(e) = run_one(kind, h, state) {
            eprintln!("doca-runc: warning: {e}");
        }
    }
}

fn run_one(kind: &str, h: &Hook, state: &str) -> Result<()> {
    let path = h.path();
    let fail = |what: String| RuntimeError::Sys(format!("{kind} hook {}: {what}", path.display()));
    let mut cmd = Command::new(path);
    if let Some(args) = h.args() {
        if let Some((first, rest)) = args.split_first() {
            std::os::unix::process::CommandExt::arg0(&mut cmd, first);
            cmd.args(rest);
        }
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(|e| fail(e.to_string()))?;
    // A hook that does not read its stdin must not block us: ignore EPIPE.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = h.timeout().map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| fail(e.to_string()))? {
            break s;
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!("timed out after {} s", h.timeout().unwrap_or(0))));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        return Err(fail(format!("{status}: {}", err.trim())));
    }
    Ok(())
}

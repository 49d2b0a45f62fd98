//! `kill`: a signal to the init, or with `all` to every process in the container's cgroup.

use crate::error::{Result, RuntimeError};
use crate::state::{State, Status};
use nix::sys::signal::{kill as send, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::str::FromStr;

/// "KILL", "SIGKILL" or "9", as runc takes them.
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| RuntimeError::Sys(format!("unknown signal {s:?}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    Signal::from_str(&name).map_err(|_| RuntimeError::Sys(format!("unknown signal {s:?}")))
}

pub fn kill(root: &Path, id: &str, sig: Signal, all: bool) -> Result<()> {
    let state = State::load(root, id)?;
    let status = state.status(root);
    if status == Status::Stopped {
        return Err(RuntimeError::Sys("container not running".into()));
    }
    // Without a cgroup (rootless, none delegated) the container's processes are those of its
    // pid namespace, which end with its init (pid_namespaces(7)): the init is signalled.
    if all && !state.cgroup_paths.is_empty() {
        for pid in crate::cgroups::pids(&state.cgroup_paths) {
            let _ = send(Pid::from_raw(pid), sig);
        }
        return Ok(());
    }
    send(Pid::from_raw(state.pid), sig).map_err(|e| RuntimeError::Sys(format!("kill container {id}: {}", e.desc().to_lowercase())))
}

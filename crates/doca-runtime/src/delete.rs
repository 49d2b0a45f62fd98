//! `delete`: removes a stopped container's cgroup and state. A created (never started)
//! container is killed first, as runc does; a running one only with `force`.

use crate::error::{Result, RuntimeError};
use crate::state::{State, Status};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let state = match State::load(root, id) {
        Ok(s) => s,
        // `delete --force` of a container that is already gone succeeds, as runc's does.
        Err(RuntimeError::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let status = state.status(root);
    match status {
        Status::Stopped => {}
        Status::Created => kill_all(&state)?,
        Status::Running | Status::Paused | Status::Creating if force => kill_all(&state)?,
        _ => return Err(RuntimeError::Sys(format!("cannot delete container {id} that is not stopped: {status}"))),
    }
    crate::cgroups::remove(&state.cgroup_paths)?;
    let dir = State::dir(root, id);
    std::fs::remove_dir_all(&dir).map_err(RuntimeError::io("remove", &dir))?;
    // poststop: after the container is deleted, before `delete` returns; failures only warn.
    if let Some(h) = state.hooks().and_then(|h| h.poststop().as_deref()) {
        crate::hooks::run_warn("poststop", h, &state.hook_json(Status::Stopped));
    }
    Ok(())
}

/// SIGKILL to every process of the container, then wait until the cgroup is empty and the init
/// is gone (it may not be our child, so poll rather than wait).
fn kill_all(state: &State) -> Result<()> {
    // A frozen cgroup would hold the signal: thaw it first.
    for p in &state.cgroup_paths {
        let _ = std::fs::write(p.join("freezer.state"), "THAWED");
    }
    let _ = kill(Pid::from_raw(state.pid), Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = crate::cgroups::pids(&state.cgroup_paths);
        for p in &pids {
            let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
        let init_alive = crate::state::process_start_time(state.pid).is_some_and(|(t, s)| t == state.init_start_time && s != 'Z');
        if pids.is_empty() && !init_alive {
            return Ok(());
        }
        // Our own child (the `run` case) must be reaped to disappear.
        let _ = nix::sys::wait::waitpid(Pid::from_raw(state.pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        if Instant::now() > deadline {
            return Err(RuntimeError::Sys(format!("container {}: processes {pids:?} did not exit after SIGKILL", state.id)));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

//! `pause` and `resume`: the freezer (v1 freezer.state, v2 cgroup.freeze), waiting until the
//! kernel reports every task frozen or thawed.

use crate::error::{Result, RuntimeError};
use crate::state::{State, Status};
use std::path::Path;
use std::time::{Duration, Instant};

fn set_frozen(state: &State, frozen: bool) -> Result<()> {
    let (v1, v2) = if frozen { ("FROZEN", "1") } else { ("THAWED", "0") };
    let mut done = false;
    for p in &state.cgroup_paths {
        if p.join("freezer.state").exists() {
            std::fs::write(p.join("freezer.state"), v1).map_err(RuntimeError::io("write freezer.state", p))?;
            let deadline = Instant::now() + Duration::from_secs(10);
            // FREEZING is transient; the write returns before all tasks are frozen.
            while std::fs::read_to_string(p.join("freezer.state")).unwrap_or_default().trim() != v1 {
                if Instant::now() > deadline {
                    return Err(RuntimeError::Sys(format!("container {}: freezer did not reach {v1}", state.id)));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            done = true;
        } else if p.join("cgroup.freeze").exists() {
            std::fs::write(p.join("cgroup.freeze"), v2).map_err(RuntimeError::io("write cgroup.freeze", p))?;
            done = true;
        }
    }
    if done {
        Ok(())
    } else {
        Err(RuntimeError::Unsupported("pause".into(), "no freezer controller for this container".into()))
    }
}

pub fn pause(root: &Path, id: &str) -> Result<()> {
    let state = State::load(root, id)?;
    match state.status(root) {
        Status::Running | Status::Created => set_frozen(&state, true),
        s => Err(RuntimeError::State { op: "pause", id: id.into(), status: s.to_string() }),
    }
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    let state = State::load(root, id)?;
    match state.status(root) {
        Status::Paused => set_frozen(&state, false),
        s => Err(RuntimeError::State { op: "resume", id: id.into(), status: s.to_string() }),
    }
}

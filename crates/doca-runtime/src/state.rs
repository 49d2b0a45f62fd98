//! Container state under `--root/<id>/`: `state.json` (what `state` prints, plus what the
//! runtime needs to find the container again) and `exec.fifo` while created but not started.

use crate::error::{Result, RuntimeError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What is kept on disk for a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Start time of the init process (field 22 of /proc/PID/stat): a pid reused by another
    /// process after the container died must not be mistaken for it.
    pub init_start_time: u64,
    /// Cgroup directories created for the container, to remove on delete.
    #[serde(default)]
    pub cgroup_paths: Vec<PathBuf>,
    /// The container's config as created (hooks for poststart/poststop, the process defaults
    /// and seccomp profile for exec); the bundle may be gone or changed by then.
    pub spec: oci_spec::runtime::Spec,
}

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// Valid container ids, as runc accepts them.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::BadId(id.to_string()))
    }
}

impl State {
    pub fn dir(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    pub fn load(root: &Path, id: &str) -> Result<State> {
        validate_id(id)?;
        let p = Self::dir(root, id).join(STATE_FILE);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(RuntimeError::NotFound(id.to_string())),
            Err(e) => return Err(RuntimeError::io("read", &p)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| RuntimeError::Sys(format!("parse {}: {e}", p.display())))
    }

    /// Written to a temp file and renamed: readers never see half a state.
    pub fn save(&self, root: &Path) -> Result<()> {
        let dir = Self::dir(root, &self.id);
        let tmp = dir.join(".state.json.tmp");
        let bytes = serde_json::to_vec(self).expect("json");
        std::fs::write(&tmp, bytes).map_err(RuntimeError::io("write", &tmp))?;
        std::fs::rename(&tmp, dir.join(STATE_FILE)).map_err(RuntimeError::io("rename", &tmp))
    }

    /// The status now: derived from the init process, never stored.
    pub fn status(&self, root: &Path) -> Status {
        match process_start_time(self.pid) {
            Some((t, state)) if t == self.init_start_time && state != 'Z' && state != 'X' => {
                if crate::cgroups::is_frozen(&self.cgroup_paths) {
                    Status::Paused
                } else if Self::dir(root, &self.id).join(EXEC_FIFO).exists() {
                    Status::Created
                } else {
                    Status::Running
                }
            }
            _ => Status::Stopped,
        }
    }

    pub fn hooks(&self) -> Option<&oci_spec::runtime::Hooks> {
        self.spec.hooks().as_ref()
    }

    /// The state document hooks get on stdin.
    pub fn hook_json(&self, status: Status) -> String {
        crate::hooks::state_json(&self.id, &status.to_string(), self.pid, &self.bundle, &self.annotations)
    }

    /// runc's `state` output.
    pub fn to_oci_json(&self, status: Status) -> serde_json::Value {
        serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "status": status.to_string(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": "",
            "annotations": self.annotations,
        })
    }
}

/// (start time, state letter) of a process, from /proc/PID/stat.
pub fn process_start_time(pid: i32) -> Option<(u64, char)> {
    if pid <= 0 {
        return None;
    }
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    // stat(5): starttime is field 22; `rest` starts at field 3.
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(1025)] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }
    #[test]
    fn own_start_time() {
        let (t, st) = process_start_time(std::process::id() as i32).unwrap();
        assert!(t > 0 && (st == 'R' || st == 'S'));
    }
}

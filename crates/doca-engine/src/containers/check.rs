//! `system check`: what killed processes left of containers that do not run. A SIGKILLed
//! `doca run` leaves the rootfs mounted; a SIGKILLed runtime `create` leaves its state
//! directory (with `exec.fifo`) and the container's cgroups. Each is found here and, with
//! `--repair`, taken away, under the container's lock so that a start under way is never
//! mistaken for a leftover.

use super::record::{Container, ContainerId};
use crate::{Engine, EngineError};
use std::path::{Path, PathBuf};

impl Engine {
    pub(crate) fn check_containers(&mut self, repair: bool) -> Result<Vec<String>, EngineError> {
        let mut found = Vec::new();
        let containers = self.containers()?;
        let live = |id: &str| containers.iter().any(|c| c.id.as_str() == id && c.state.status.is_live());
        // Rootfs mounts.
        let base = self.config().root.join("containers");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for point in mounts.lines().filter_map(|l| l.split(' ').nth(4)) {
            let Ok(rest) = Path::new(point).strip_prefix(&base) else { continue };
            let Some(id) = rest.iter().next().map(|c| c.to_string_lossy().into_owned()) else { continue };
            if live(&id) || rest != Path::new(&id).join("merged") {
                continue;
            }
            found.push(format!("rootfs of stopped container {} still mounted at {point}", short(&id)));
            if repair {
                self.settled(&id, |e, cid| e.unmount_container(cid))?;
            }
        }
        // Runtime state, for every runtime this store used.
        let runtimes = self.config().run_root.join("runtime");
        for rt in std::fs::read_dir(&runtimes).into_iter().flatten().flatten() {
            for st in std::fs::read_dir(rt.path()).into_iter().flatten().flatten() {
                let id = st.file_name().to_string_lossy().into_owned();
                // (Not every entry is a container's: doca-runc keeps compiled seccomp programs
                // in `@seccomp`.)
                if live(&id) || !st.path().is_dir() || ContainerId::parse(&id).is_err() {
                    continue;
                }
                found.push(format!("runtime state of stopped container {} at {}", short(&id), st.path().display()));
                if repair {
                    let dir = st.path();
                    let binary = rt.file_name().to_string_lossy().into_owned();
                    self.settled(&id, |e, cid| e.delete_runtime_state(cid, &binary, &dir))?;
                }
            }
        }
        // Cgroups of containers that do not run (those a runtime delete above took are gone).
        for c in containers.iter().filter(|c| !c.state.status.is_live()) {
            for dir in cgroup_dirs(c) {
                found.push(format!("cgroup of stopped container {} at {}", c.name, dir.display()));
                if repair {
                    let dir = dir.clone();
                    self.settled(c.id.as_str(), move |_, _| remove_cgroup(&dir))?;
                }
            }
        }
        Ok(found)
    }

    /// Runs `fix` under the container's lock if, read again there, it still does not run (or
    /// no longer exists).
    fn settled(&mut self, id: &str, fix: impl FnOnce(&mut Engine, &ContainerId) -> Result<(), EngineError>) -> Result<(), EngineError> {
        let Ok(cid) = ContainerId::parse(id) else { return Ok(()) };
        let _lock = self.lock_container(&cid)?;
        match self.container(id) {
            Ok(c) if c.state.status.is_live() => Ok(()),
            _ => fix(self, &cid),
        }
    }

    /// `runtime delete --force` (which also takes the cgroups), or the directory alone when the
    /// runtime is gone.
    fn delete_runtime_state(&mut self, id: &ContainerId, binary: &str, dir: &Path) -> Result<(), EngineError> {
        let helpers = super::runtime::Helpers::locate()?;
        let root = dir.parent().unwrap_or(dir).to_path_buf();
        let path = if binary == "doca-runc" { Some(helpers.runc.clone()) } else { super::runtime::find_in_path(binary) };
        if let Some(p) = path {
            let rt = super::runtime::OciRuntime { binary: p, root, log: None };
            let _ = rt.delete_force(id.as_str());
        }
        match std::fs::remove_dir_all(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(EngineError::io("remove", dir)(e)),
        }
    }
}

/// Removes a cgroup of a container that does not run. What is still in it (an init a killed
/// runtime cloned and never started) is killed first: it is nobody's any more.
fn remove_cgroup(dir: &Path) -> Result<(), EngineError> {
    for _ in 0..100 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // Killed processes leave the cgroup a moment after the signal.
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    std::fs::remove_dir(dir).map_err(EngineError::io("remove", dir))
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The cgroup directories container `c` has in every hierarchy, as the runtime names them
/// (`<cgroup parent or /doca>/<id>`).
fn cgroup_dirs(c: &Container) -> Vec<PathBuf> {
    let parent = c.config.cgroup_parent.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/doca".into());
    let rel = Path::new(parent.trim_matches('/')).join(c.id.as_str());
    let root = Path::new("/sys/fs/cgroup");
    let mut out = Vec::new();
    if root.join(&rel).is_dir() {
        out.push(root.join(&rel));
    }
    for h in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let d = h.path().join(&rel);
        if d.is_dir() {
            out.push(d);
        }
    }
    out
}

//! Joining a user namespace given by path (`linux.namespaces[].path` of type "user").
//!
//! The namespaces a container gets new must be owned by its user namespace, or root inside it
//! could not mount its own /proc nor configure its own network (user_namespaces(7): a new
//! namespace is owned by the user namespace of the process that makes it). So they are made by
//! a process that has joined the user namespace first. The runtime cannot be that process: it
//! would lose its rights on the host (placing the init in its cgroup, writing the state). As
//! runc's nsexec does, an intermediate forked for the purpose joins, makes the init with
//! CLONE_PARENT (so the init is the runtime's child, which waits for it), reports the init's pid
//! and exits.

use crate::error::{Result, RuntimeError};
use crate::sync::{self, Msg};
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::{Linux, LinuxIdMapping};
use std::path::Path;

/// Runs `clone` in a process inside the user namespace at `path`, passing the flags it must add;
/// returns the pid of the process `clone` made, a child of the caller.
pub fn spawn_in(path: &Path, linux: &Linux, clone: impl FnOnce(CloneFlags) -> Result<Pid>) -> Result<Pid> {
    let ns = std::fs::File::open(path).map_err(RuntimeError::io("open user namespace", path))?;
    spawn_with(|| join(&ns, path, linux), clone)
}

/// Namespaces given by path, joined by this process.
pub fn join_all(joins: &[(std::path::PathBuf, CloneFlags)]) -> Result<()> {
    for (p, f) in joins {
        let fd = std::fs::File::open(p).map_err(RuntimeError::io("open namespace", p))?;
        nix::sched::setns(fd, *f).map_err(|e| RuntimeError::Sys(format!("join namespace {}: {}", p.display(), e.desc().to_lowercase())))?;
    }
    Ok(())
}

/// Runs `prepare` (joining namespaces) then `clone` in an intermediate process forked for the
/// purpose, passing the flags `clone` must add (CLONE_PARENT, so what it makes is the caller's
/// child); returns the pid of the process `clone` made.
pub fn spawn_with(prepare: impl FnOnce() -> Result<()>, clone: impl FnOnce(CloneFlags) -> Result<Pid>) -> Result<Pid> {
    let (parent, child) = sync::pair()?;
    // SAFETY: doca-runc is single-threaded, so the forked copy may run ordinary code.
    match unsafe { fork() }.map_err(RuntimeError::sys("fork to join namespaces"))? {
        ForkResult::Child => {
            drop(parent);
            let msg = match prepare().and_then(|()| clone(CloneFlags::CLONE_PARENT)) {
                Ok(pid) => Msg::Pid(pid.as_raw()),
                Err(e) => Msg::Failed { message: e.to_string(), code: e.exit_code() },
            };
            let _ = sync::put(&child, &msg);
            // _exit, not exit: this copy must not run the runtime's destructors, which would
            // take the half-made container back.
            // SAFETY: ends this process; nothing of it is used afterwards.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child: intermediate } => {
            drop(child);
            let got = sync::get(&parent);
            let _ = waitpid(intermediate, None);
            match got? {
                Some(Msg::Pid(pid)) => Ok(Pid::from_raw(pid)),
                Some(Msg::Failed { message, code }) => Err(RuntimeError::Init { message, code }),
                other => Err(RuntimeError::Sys(format!("joining namespaces: no pid came back ({other:?})"))),
            }
        }
    }
}

fn join(ns: &std::fs::File, path: &Path, linux: &Linux) -> Result<()> {
    nix::sched::setns(ns, CloneFlags::CLONE_NEWUSER).map_err(RuntimeError::sys(format!("join user namespace {}", path.display())))?;
    // The namespace's own maps, as its members read them: the host's ids in the second column
    // (user_namespaces(7), "same user namespace" case). Mappings in the spec are a description
    // of the namespace then; if they say something else the config is wrong (runc refuses too).
    for (file, field, given) in [("uid_map", "uidMappings", linux.uid_mappings()), ("gid_map", "gidMappings", linux.gid_mappings())] {
        let Some(given) = given.as_ref().filter(|m| !m.is_empty()) else { continue };
        let text = std::fs::read_to_string(format!("/proc/self/{file}")).map_err(RuntimeError::io("read", format!("/proc/self/{file}")))?;
        let actual = parse_map(&text);
        if !same(given, &actual) {
            return Err(RuntimeError::Spec(format!(
                "linux.{field} {} differ from the maps of the user namespace {} ({})",
                given.iter().map(|m| format!("{} {} {}", m.container_id(), m.host_id(), m.size())).collect::<Vec<_>>().join(", "),
                path.display(),
                actual.iter().map(|(c, h, s)| format!("{c} {h} {s}")).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

/// "containerID hostID size" per line, as /proc/PID/uid_map shows it.
fn parse_map(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|x| x.parse::<u32>());
            match (f.next(), f.next(), f.next()) {
                (Some(Ok(c)), Some(Ok(h)), Some(Ok(s))) => Some((c, h, s)),
                _ => None,
            }
        })
        .collect()
}

fn same(given: &[LinuxIdMapping], actual: &[(u32, u32, u32)]) -> bool {
    let mut g: Vec<(u32, u32, u32)> = given.iter().map(|m| (m.container_id(), m.host_id(), m.size())).collect();
    let mut a = actual.to_vec();
    g.sort_unstable();
    a.sort_unstable();
    g == a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_compare_as_sets_of_ranges() {
        let actual = parse_map("         0     100000      65536\n     65536          0          1\n");
        assert_eq!(actual, [(0, 100000, 65536), (65536, 0, 1)]);
        let m = |c: u32, h: u32, s: u32| {
            oci_spec::runtime::LinuxIdMappingBuilder::default().container_id(c).host_id(h).size(s).build().unwrap()
        };
        assert!(same(&[m(65536, 0, 1), m(0, 100000, 65536)], &actual));
        assert!(!same(&[m(0, 100000, 65536)], &actual));
        assert!(!same(&[m(0, 100000, 65535), m(65536, 0, 1)], &actual));
    }
}

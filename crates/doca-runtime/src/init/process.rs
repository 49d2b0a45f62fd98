//! The process's own setup inside the container: rlimits, OOM score, user and groups,
//! capabilities, no_new_privs, working directory, and finding the executable as runc does.

use crate::error::{Result, RuntimeError};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capability as SpecCap, PosixRlimit, Process};
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub fn rlimits(limits: &[PosixRlimit]) -> Result<()> {
    for l in limits {
        let name = crate::spec::enum_name(&l.typ());
        let res = rlimit_resource(&name).ok_or_else(|| RuntimeError::Spec(format!("process.rlimits: unknown type {name:?}")))?;
        let lim = libc::rlimit { rlim_cur: l.soft(), rlim_max: l.hard() };
        // SAFETY: setrlimit reads a valid rlimit struct.
        if unsafe { libc::setrlimit(res, &lim) } != 0 {
            return Err(RuntimeError::Sys(format!("setrlimit {name} {}:{}: {}", l.soft(), l.hard(), std::io::Error::last_os_error())));
        }
    }
    Ok(())
}

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

/// linux.personality: the execution domain (LINUX, or LINUX32 so `uname -m` says i686).
/// Flags are refused: the spec lists none that Linux defines for containers.
pub fn personality(p: &oci_spec::runtime::LinuxPersonality) -> Result<()> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(RuntimeError::Unsupported("linux.personality.flags".into(), format!("{:?}", p.flags())));
    }
    let domain = match crate::spec::enum_name(&p.domain()).as_str() {
        "LINUX32" => 0x0008,
        _ => 0x0000,
    };
    // SAFETY: personality(2) takes a plain integer.
    if unsafe { libc::personality(domain) } < 0 {
        return Err(RuntimeError::Sys(format!("personality: {}", std::io::Error::last_os_error())));
    }
    Ok(())
}

pub fn oom_score_adj(v: i32) -> Result<()> {
    std::fs::write("/proc/self/oom_score_adj", v.to_string()).map_err(RuntimeError::io("write", "/proc/self/oom_score_adj"))
}

fn to_caps(set: Option<&oci_spec::runtime::Capabilities>) -> Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for c in set.into_iter().flatten() {
        out.insert(convert(*c)?);
    }
    Ok(out)
}

fn convert(c: SpecCap) -> Result<Capability> {
    let name = crate::spec::enum_name(&c);
    name.parse::<Capability>().map_err(|_| RuntimeError::Spec(format!("process.capabilities: unknown capability {name:?}")))
}

/// User, groups and capabilities, in the order that keeps the rights to do each step: the
/// bounding set first (needs CAP_SETPCAP), then the ids with PR_SET_KEEPCAPS so the permitted
/// set survives setuid, then the spec's sets exactly.
pub fn user_and_capabilities(p: &Process) -> Result<()> {
    let caps_spec = p.capabilities().as_ref();
    let bounding = to_caps(caps_spec.and_then(|c| c.bounding().as_ref()))?;
    if caps_spec.is_some() {
        for c in caps::all() {
            if !bounding.contains(&c) && caps::has_cap(None, CapSet::Bounding, c).unwrap_or(false) {
                caps::drop(None, CapSet::Bounding, c).map_err(|e| RuntimeError::Sys(format!("drop {c} from the bounding set: {e}")))?;
            }
        }
    }
    let user = p.user();
    nix::sys::prctl::set_keepcaps(true).map_err(RuntimeError::sys("prctl(PR_SET_KEEPCAPS)"))?;
    let mut groups: Vec<nix::unistd::Gid> = user.additional_gids().iter().flatten().map(|g| nix::unistd::Gid::from_raw(*g)).collect();
    groups.dedup();
    // In a user namespace whose gid map a user wrote, setgroups(2) is denied
    // (user_namespaces(7)): no supplementary groups are possible there, so none asked for is
    // fine and some asked for is an error that says why (runc's rootless rule).
    let denied = std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny");
    match (denied, groups.is_empty()) {
        (true, true) => {}
        (true, false) => {
            return Err(RuntimeError::Spec("process.user.additionalGids: setgroups is denied in this user namespace (rootless)".into()))
        }
        (false, _) => nix::unistd::setgroups(&groups).map_err(RuntimeError::sys("setgroups"))?,
    }
    let gid = nix::unistd::Gid::from_raw(user.gid());
    let uid = nix::unistd::Uid::from_raw(user.uid());
    nix::unistd::setresgid(gid, gid, gid).map_err(RuntimeError::sys(format!("setgid {}", user.gid())))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(RuntimeError::sys(format!("setuid {}", user.uid())))?;
    nix::sys::prctl::set_keepcaps(false).map_err(RuntimeError::sys("prctl(PR_SET_KEEPCAPS)"))?;
    // process.user.umask, else 0022 as runc sets it: never the runtime's caller's (doca's
    // own is 0077).
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(user.umask().unwrap_or(0o022) as libc::mode_t));
    if let Some(c) = caps_spec {
        let effective = to_caps(c.effective().as_ref())?;
        let permitted = to_caps(c.permitted().as_ref())?;
        let inheritable = to_caps(c.inheritable().as_ref())?;
        // capset(2) checks each call's sets together: lower effective while permitted is still
        // full, inheritable while we may, and permitted last (it must cover effective).
        caps::set(None, CapSet::Effective, &effective).map_err(|e| RuntimeError::Sys(format!("set effective capabilities: {e}")))?;
        caps::set(None, CapSet::Inheritable, &inheritable).map_err(|e| RuntimeError::Sys(format!("set inheritable capabilities: {e}")))?;
        caps::set(None, CapSet::Permitted, &permitted).map_err(|e| RuntimeError::Sys(format!("set permitted capabilities: {e}")))?;
        let ambient = to_caps(c.ambient().as_ref())?;
        caps::clear(None, CapSet::Ambient).map_err(|e| RuntimeError::Sys(format!("clear ambient capabilities: {e}")))?;
        // A capability can be ambient only while it is permitted and inheritable
        // (capabilities(7)); those that are not are skipped, as runc does, so that specs
        // listing ambient capabilities without inheritable ones (`runc spec`'s) still run.
        for a in ambient.iter().filter(|a| permitted.contains(a) && inheritable.contains(a)) {
            caps::raise(None, CapSet::Ambient, *a).map_err(|e| RuntimeError::Sys(format!("raise ambient capability {a}: {e}")))?;
        }
    }
    Ok(())
}

pub fn no_new_privs() -> Result<()> {
    nix::sys::prctl::set_no_new_privs().map_err(RuntimeError::sys("prctl(PR_SET_NO_NEW_PRIVS)"))
}

/// An exec failure as runc words it, with the exit code callers map it to.
fn exec_error(arg0: &str, what: String, code: i32) -> RuntimeError {
    RuntimeError::Init { message: format!("exec: {arg0:?}: {what}"), code }
}

/// Finds the executable as Go's exec.LookPath does with the container's PATH: names with a
/// slash are used as they are; others are searched in PATH.
pub fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf> {
    let check = |p: &Path| -> std::result::Result<(), (String, i32)> {
        match std::fs::metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err((format!("stat {}: no such file or directory", p.display()), 127)),
            Err(e) => Err((format!("stat {}: {e}", p.display()), 126)),
            Ok(m) if m.is_dir() => Err(("is a directory".into(), 126)),
            Ok(m) if m.permissions().mode() & 0o111 == 0 => Err(("permission denied".into(), 126)),
            Ok(_) => match nix::unistd::access(p, nix::unistd::AccessFlags::X_OK) {
                Ok(()) => Ok(()),
                Err(_) => Err(("permission denied".into(), 126)),
            },
        }
    };
    if arg0.contains('/') {
        return check(Path::new(arg0)).map(|_| PathBuf::from(arg0)).map_err(|(w, c)| exec_error(arg0, w, c));
    }
    let path = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let mut denied = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        match check(&cand) {
            Ok(()) => return Ok(cand),
            Err((w, 126)) if cand.exists() => {
                denied.get_or_insert(w);
            }
            Err(_) => {}
        }
    }
    match denied {
        Some(w) => Err(exec_error(arg0, w, 126)),
        None => Err(exec_error(arg0, "executable file not found in $PATH".into(), 127)),
    }
}

/// Marks every descriptor above stderr close-on-exec, except the preserved ones, so nothing
/// of the runtime leaks into the container (CVE-2024-21626 leaked a host cgroup directory fd).
pub fn close_fds_on_exec(keep: &HashSet<i32>) -> Result<()> {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(RuntimeError::io("read", "/proc/self/fd"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: F_SETFD on a possibly stale fd number is harmless (EBADF at worst).
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn finds_executables_like_runc() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(find_executable("sh", &env).unwrap().ends_with("sh"));
        let e = find_executable("no-such-cmd-xyz", &env).unwrap_err();
        assert_eq!(e.to_string(), "exec: \"no-such-cmd-xyz\": executable file not found in $PATH");
        assert_eq!(e.exit_code(), 127);
        let e = find_executable("/etc/passwd", &env).unwrap_err();
        assert_eq!((e.to_string().as_str(), e.exit_code()), ("exec: \"/etc/passwd\": permission denied", 126));
        assert_eq!(find_executable("/nope/x", &env).unwrap_err().exit_code(), 127);
    }
}

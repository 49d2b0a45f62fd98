//! The runtime never enters a container as its own host binary (CVE-2019-5736).
//!
//! A process that the runtime runs inside a container is doca-runc's image until its execve,
//! and a container can make that execve run doca-runc again (an executable whose first line is
//! `#!/proc/self/exe`). The container then holds `/proc/PID/exe` of a process it can see, and
//! once that process is gone it reopens the link for writing: without this module, that is
//! the host's doca-runc, and the next container operation runs the container's code as host
//! root. Clearing the dumpable flag only hides the init from unprivileged processes.
//!
//! So every command that enters a container (`create`, `run`, `exec`) runs from a copy the
//! container cannot write, as runc 1.2 does (libcontainer/exeseal), re-executing itself unless
//! its caller started it so (doca's engine and monitor do):
//! - a detached, read-only overlayfs made with fsopen(2)/fsmount(2) whose top lower layer is
//!   the binary's directory (doca-mount's `SealedExe`): no copy, the page cache is shared, and
//!   unlike a read-only bind mount there is no writable mount of the same inode to reopen it
//!   through;
//! - where overlayfs cannot be made (no CAP_SYS_ADMIN, no new mount API), a memfd copy
//!   sealed against writes, growth and shrinking (memfd_create(2), F_SEAL_*).
//!
//! After the re-exec `/proc/self/exe` is that copy, which `is_sealed` recognises; a copy that
//! is not recognised after the re-exec is an error, never a loop.

use crate::error::{Result, RuntimeError};
use rustix::fs::{self as rfs, MemfdFlags, Mode, OFlags, SealFlags};
use std::ffi::{CString, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Set across the re-exec, so a copy that is not recognised fails instead of looping.
const MARK: &str = "_DOCA_RUNC_SEALED";
/// overlayfs' statfs f_type (linux/magic.h).
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
/// The seals a memfd copy carries: nothing can change its content or lift them.
fn memfd_seals() -> SealFlags {
    SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE
}

fn sys(what: &str, e: rustix::io::Errno) -> RuntimeError {
    RuntimeError::Sys(format!("seal the runtime binary: {what}: {}", e.to_string().to_lowercase()))
}

/// Whether this process runs from a copy no container can write: a sealed memfd or a file on
/// a read-only overlayfs.
pub fn is_sealed() -> bool {
    let Ok(fd) = rfs::open("/proc/self/exe", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else { return false };
    if rfs::fcntl_get_seals(&fd).is_ok_and(|s| s.contains(memfd_seals())) {
        return true;
    }
    let ro = rfs::fstatvfs(&fd).is_ok_and(|v| v.f_flag.contains(rfs::StatVfsMountFlags::RDONLY));
    ro && rfs::fstatfs(&fd).is_ok_and(|s| s.f_type == OVERLAYFS_SUPER_MAGIC)
}

/// Re-executes this process from a sealed copy of its binary unless it already runs from
/// one. Returns only when it does; `scratch` is an existing directory of the runtime's own
/// (its state root), used as the overlay's second lower layer.
pub fn ensure(scratch: &Path) -> Result<()> {
    let marked = std::env::var_os(MARK).is_some();
    if is_sealed() {
        if marked {
            std::env::remove_var(MARK);
        }
        return Ok(());
    }
    if marked {
        return Err(RuntimeError::Sys("seal the runtime binary: the re-executed copy is not sealed".into()));
    }
    let exe = match sealed_overlay(scratch) {
        Ok(fd) => fd,
        Err(_) => sealed_memfd()?,
    };
    let argv: Vec<CString> = std::env::args_os().map(cstring).collect::<Result<_>>()?;
    let mut envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            cstring(kv)
        })
        .collect::<Result<_>>()?;
    envp.push(CString::new(format!("{MARK}=1")).expect("no NUL"));
    let e = nix::unistd::execveat(&exe, c"", &argv, &envp, nix::fcntl::AtFlags::AT_EMPTY_PATH).unwrap_err();
    Err(RuntimeError::Sys(format!("seal the runtime binary: execveat: {}", e.desc().to_lowercase())))
}

fn cstring(s: OsString) -> Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| RuntimeError::Sys("seal the runtime binary: an argument contains a NUL byte".into()))
}

/// The binary through a read-only overlayfs that is never attached to any mount namespace
/// (doca-mount's `SealedExe`).
fn sealed_overlay(scratch: &Path) -> Result<OwnedFd> {
    let real =
        std::fs::read_link("/proc/self/exe").map_err(|e| RuntimeError::Sys(format!("seal the runtime binary: /proc/self/exe: {e}")))?;
    let sealed =
        doca_mount::SealedExe::new(&real, scratch).map_err(|e| RuntimeError::Sys(format!("seal the runtime binary: overlayfs: {e}")))?;
    sealed.fd().try_clone().map_err(|e| RuntimeError::Sys(format!("seal the runtime binary: {e}")))
}

/// A sealed in-memory copy of the binary.
fn sealed_memfd() -> Result<OwnedFd> {
    let src = rfs::open("/proc/self/exe", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| sys("open /proc/self/exe", e))?;
    // MFD_EXEC (Linux 6.3): where vm.memfd_noexec asks for it; older kernels refuse the flag.
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    let fd = rfs::memfd_create("doca-runc", flags | MemfdFlags::EXEC)
        .or_else(|_| rfs::memfd_create("doca-runc", flags))
        .map_err(|e| sys("memfd_create", e))?;
    let mut from = std::fs::File::from(src);
    let mut to = std::fs::File::from(fd);
    std::io::copy(&mut from, &mut to).map_err(|e| RuntimeError::Sys(format!("seal the runtime binary: copy: {e}")))?;
    let fd = OwnedFd::from(to);
    rfs::fcntl_add_seals(&fd, memfd_seals()).map_err(|e| sys("add seals", e))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    /// The test binary runs from an ordinary file: not sealed.
    #[test]
    fn an_ordinary_binary_is_not_sealed() {
        assert!(!super::is_sealed());
    }

    /// A sealed memfd refuses every write, through any descriptor.
    #[test]
    fn the_memfd_copy_refuses_writes() {
        use std::io::Write;
        let fd = super::sealed_memfd().expect("memfd");
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).expect("reopen for writing is allowed, writing is not");
        assert!(f.write_all(b"x").is_err(), "a sealed memfd took a write");
        assert!(f.set_len(0).is_err(), "a sealed memfd was truncated");
    }
}

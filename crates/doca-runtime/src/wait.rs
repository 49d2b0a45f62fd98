//! Waiting for a child and turning its end into a shell-style exit code.

use crate::error::{Result, RuntimeError};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

/// The child's exit code, or 128 + the signal that killed it.
pub fn exit_code(pid: Pid) -> Result<i32> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(RuntimeError::Sys(format!("wait for process {pid}: {}", e.desc().to_lowercase()))),
        }
    }
}

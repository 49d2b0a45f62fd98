//! process.terminal: a pty from the container's own devpts instance. The slave becomes the
//! process's controlling terminal and stdio; the master goes back to the runtime, which hands it
//! to the engine's --console-socket (runc's protocol: SCM_RIGHTS with the pty name as data).

use crate::error::{Result, RuntimeError};
use nix::fcntl::{open, OFlag};
use nix::pty::{grantpt, ptsname_r, unlockpt, PtyMaster};
use nix::sys::stat::Mode;
use std::os::fd::{AsRawFd, OwnedFd};

/// Opens a pty in the current /dev (the container's, after pivot_root), makes the slave our
/// controlling terminal and stdio, and returns the master with the slave's name.
pub fn setup(size: Option<(u16, u16)>) -> Result<(OwnedFd, String)> {
    let master: PtyMaster =
        nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).map_err(RuntimeError::sys("open /dev/ptmx"))?;
    grantpt(&master).map_err(RuntimeError::sys("grantpt"))?;
    unlockpt(&master).map_err(RuntimeError::sys("unlockpt"))?;
    let name = ptsname_r(&master).map_err(RuntimeError::sys("ptsname"))?;
    let slave = open(name.as_str(), OFlag::O_RDWR | OFlag::O_NOCTTY, Mode::empty()).map_err(RuntimeError::sys("open pty slave"))?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads a valid winsize.
        if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
            return Err(RuntimeError::Sys(format!("set console size: {}", std::io::Error::last_os_error())));
        }
    }
    nix::unistd::setsid().map_err(RuntimeError::sys("setsid"))?;
    // SAFETY: TIOCSCTTY takes an int argument.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(RuntimeError::Sys(format!("set controlling terminal: {}", std::io::Error::last_os_error())));
    }
    for target in 0..3 {
        // SAFETY: dup2 onto the standard descriptors; `slave` stays valid.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(RuntimeError::Sys(format!("dup2 pty to fd {target}: {}", std::io::Error::last_os_error())));
        }
    }
    // SAFETY: PtyMaster owns a valid fd; into_raw_fd transfers it.
    let master_fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
    Ok((master_fd, name))
}

/// Runtime side: hands the master to the engine's console socket.
pub fn send_to_console_socket(path: &std::path::Path, master: &OwnedFd, name: &str) -> Result<()> {
    let s = std::os::unix::net::UnixStream::connect(path).map_err(RuntimeError::io("connect to console socket", path))?;
    crate::sync::send_fd(&s, name, master.as_raw_fd())
}

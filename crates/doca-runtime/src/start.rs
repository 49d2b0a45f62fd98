//! `start`: releases the init waiting on the exec fifo, so it execs the process.

use crate::error::{Result, RuntimeError};
use crate::state::{State, Status, EXEC_FIFO};
use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;
use std::os::fd::AsFd;
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let state = State::load(root, id)?;
    let status = state.status(root);
    if status != Status::Created {
        return Err(RuntimeError::State { op: "start", id: id.into(), status: status.to_string() });
    }
    let fifo = State::dir(root, id).join(EXEC_FIFO);
    // Non-blocking open and poll, checking the init is alive: a blocking open would hang for
    // ever if the init died after `create`.
    let fd = open(&fifo, OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RuntimeError::Sys(format!("open {}: {}", fifo.display(), e.desc().to_lowercase())))?;
    loop {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(n) if n > 0 => {
                let mut b = [0u8; 1];
                match nix::unistd::read(&fd, &mut b) {
                    Ok(1) => break,
                    Ok(_) | Err(nix::Error::EAGAIN) => {}
                    Err(e) => return Err(RuntimeError::Sys(format!("read exec fifo: {}", e.desc().to_lowercase()))),
                }
            }
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(RuntimeError::Sys(format!("poll exec fifo: {}", e.desc().to_lowercase()))),
        }
        if state.status(root) == Status::Stopped {
            return Err(RuntimeError::Sys(format!("container {id}: the init process exited before start")));
        }
        // Readable with no data: the init has not opened its end yet; wait a little.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // The process has started. A short-lived one may already have exited and its monitor
    // deleted the state directory (fifo included) in the meantime: that is not an error.
    match std::fs::remove_file(&fifo) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(RuntimeError::io("remove", &fifo)(e)),
        _ => {}
    }
    // poststart: after the program started, before `start` returns; failures only warn.
    if let Some(h) = state.hooks().and_then(|h| h.poststart().as_deref()) {
        crate::hooks::run_warn("poststart", h, &state.hook_json(Status::Running));
    }
    Ok(())
}

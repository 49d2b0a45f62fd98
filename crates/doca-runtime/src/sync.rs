//! The runtime and the container's init talk over a SOCK_SEQPACKET socketpair: one message per
//! step, so neither side can misread a partial message.

use crate::error::{Result, RuntimeError};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Msg {
    /// Runtime → init: the cgroup is set up (or the hooks ran); go on. Carries the state
    /// document the init's own hooks get on stdin.
    Go { state: String },
    /// Init → runtime: the container's namespaces and mounts exist, pivot_root is next: run the
    /// prestart and createRuntime hooks now.
    RuntimeHooks,
    /// Init → runtime: everything is in place; the process waits for `start`.
    Ready,
    /// exec helper → runtime: the host pid of the process being exec'd.
    Pid(i32),
    /// Init → runtime: setup failed.
    Failed { message: String, code: i32 },
}

pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?)
}

pub fn put(fd: &OwnedFd, m: &Msg) -> Result<()> {
    let bytes = serde_json::to_vec(m).expect("json");
    send(fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)?;
    Ok(())
}

/// The next message; `None` when the other side closed without sending one.
pub fn get(fd: &OwnedFd) -> Result<Option<Msg>> {
    let mut buf = vec![0u8; 64 << 10];
    let n = loop {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(nix::Error::EINTR) => continue,
            r => break r?,
        }
    };
    if n == 0 {
        return Ok(None);
    }
    serde_json::from_slice(&buf[..n]).map(Some).map_err(|e| RuntimeError::Sys(format!("bad message from the container's init: {e}")))
}

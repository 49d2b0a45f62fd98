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
    /// Init → runtime: the pty master follows in the next message (SCM_RIGHTS).
    Console { name: String },
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

/// Sends one descriptor with a short text (SCM_RIGHTS), as runc's utils.SendFd does: the text is
/// the pty's name.
pub fn send_fd(sock: &impl std::os::fd::AsRawFd, name: &str, fd: std::os::fd::RawFd) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage};
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    let fds = [fd];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)?;
    Ok(())
}

/// Receives one descriptor sent by `send_fd`.
pub fn recv_fd(sock: &impl std::os::fd::AsRawFd) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    use std::os::fd::FromRawFd;
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor in our table for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(RuntimeError::Sys("expected a descriptor from the container's init, got none".into()))
}

//! Published ports of rootless doca: sockets on the host's network, made by a helper that
//! stayed there, and relayed into the user's namespace by each container's monitor.
//!
//! Every doca command runs in the user's network namespace (doca-engine `rootless`), where a
//! socket bound is bound there, not on the host; and nothing in it may join the host's
//! namespace again (setns(2) needs CAP_SYS_ADMIN over the host's, which the user has not). So
//! the pause process starts this helper before it unshares the network namespace: the helper stays on the
//! host's network, as the user (root of their user namespace, nothing more: a port below
//! `net.ipv4.ip_unprivileged_port_start` is refused to it as to the user), and answers on
//! `<run root>/ports.sock` with a listening socket for each request, passed with SCM_RIGHTS.
//! The container's monitor accepts on it and connects to the container's address in the
//! namespace, splicing the bytes (doca-shim `proxy.rs`): RootlessKit's "builtin" port driver,
//! whose throughput is far above slirp4netns's host forwards, which went through a user-space
//! TCP stack. The port is the host's for as long as the monitor holds the socket: it goes
//! with the container.
//!
//! One request per connection, a line `PROTO ADDRESS PORT` ("tcp :: 8080"); the answer is
//! "ok" with the socket, or "error: ERRNO-NAME: message" without.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The helper's socket in `run_root`.
pub fn socket(run_root: &Path) -> PathBuf {
    run_root.join("ports.sock")
}

/// The helper: serves `path` until `parent`, the pause process, ends (it is killed then:
/// PR_SET_PDEATHSIG). Started before the pause process unshared its network namespace.
pub fn serve(path: &Path, parent: i32) -> ! {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if nix::unistd::getppid().as_raw() != parent {
        std::process::exit(0);
    }
    let _ = std::fs::remove_file(path);
    let Ok(listener) = UnixListener::bind(path) else { std::process::exit(1) };
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let mut req = Vec::new();
        let _ = (&mut conn).take(256).read_to_end(&mut req);
        match String::from_utf8(req).map_err(|_| "not text".to_string()).and_then(|r| parse(&r)) {
            Ok((udp, addr)) => match bind(udp, addr) {
                Ok(fd) => {
                    let _ = send(&conn, b"ok", Some(&fd));
                }
                Err(e) => {
                    // Go's words, as docker prints them ("bind: address already in use").
                    let errno = e.raw_os_error().unwrap_or(0);
                    let said = nix::errno::Errno::from_raw(errno).desc().to_lowercase();
                    let _ = send(&conn, format!("error: {}: {said}", errno_name(errno)).as_bytes(), None);
                }
            },
            Err(why) => {
                let _ = conn.write_all(format!("error: EINVAL: {why}").as_bytes());
            }
        }
    }
    std::process::exit(0)
}

/// A request line, or why it is refused.
fn parse(line: &str) -> Result<(bool, SocketAddr), String> {
    let bad = |w: &str| format!("bad request {line:?}: {w}");
    let mut f = line.split_whitespace();
    let udp = match f.next() {
        Some("tcp") => false,
        Some("udp") => true,
        _ => return Err(bad("tcp or udp")),
    };
    let ip: IpAddr = f.next().and_then(|a| a.parse().ok()).ok_or_else(|| bad("address"))?;
    let port: u16 = f.next().and_then(|p| p.parse().ok()).ok_or_else(|| bad("port"))?;
    Ok((udp, SocketAddr::new(ip, port)))
}

/// A listening TCP socket or a bound UDP one. `::` is both families (IPV6_V6ONLY off), as a
/// port published without an address answers on both; on a host without IPv6, 0.0.0.0.
fn bind(udp: bool, addr: SocketAddr) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{self as s, sockopt, AddressFamily, Backlog, SockFlag, SockType, SockaddrStorage};
    let make = |addr: SocketAddr| -> std::io::Result<OwnedFd> {
        let family = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
        let kind = if udp { SockType::Datagram } else { SockType::Stream };
        let fd = s::socket(family, kind, SockFlag::SOCK_CLOEXEC, None)?;
        if addr.is_ipv6() {
            s::setsockopt(&fd, sockopt::Ipv6V6Only, &false)?;
        }
        if !udp {
            s::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
        }
        s::bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
        if !udp {
            s::listen(&fd, Backlog::new(1024).unwrap_or(Backlog::MAXCONN))?;
        }
        Ok(fd)
    };
    match make(addr) {
        Err(e) if addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED) && e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
            make(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port()))
        }
        r => r,
    }
}

fn send(conn: &UnixStream, payload: &[u8], fd: Option<&OwnedFd>) -> std::io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(payload)];
    let fds = fd.map(|f| [f.as_raw_fd()]);
    let cmsgs: Vec<ControlMessage<'_>> = fds.as_ref().map(|f| vec![ControlMessage::ScmRights(f)]).unwrap_or_default();
    sendmsg::<()>(conn.as_raw_fd(), &iov, &cmsgs, MsgFlags::empty(), None)?;
    Ok(())
}

fn errno_name(n: i32) -> &'static str {
    match n {
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EACCES => "EACCES",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        _ => "ERROR",
    }
}

/// Why there is no socket for a port.
#[derive(Debug, thiserror::Error)]
pub enum HostPortError {
    /// Another program (or container) has the port.
    #[error("{0}")]
    InUse(String),
    /// Below `net.ipv4.ip_unprivileged_port_start`.
    #[error("{0}")]
    Privileged(String),
    #[error("{0}")]
    Refused(String),
    #[error("rootless port helper ({path}): {source}")]
    Helper { path: PathBuf, source: std::io::Error },
}

/// Asks the helper of `run_root` for a socket on the host: TCP listening, or UDP bound, on
/// `addr` (`::` for every address).
pub fn listen(run_root: &Path, udp: bool, addr: SocketAddr) -> Result<OwnedFd, HostPortError> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let path = socket(run_root);
    let fail = |source: std::io::Error| HostPortError::Helper { path: path.clone(), source };
    let mut s = UnixStream::connect(&path).map_err(fail)?;
    s.write_all(format!("{} {} {}", if udp { "udp" } else { "tcp" }, addr.ip(), addr.port()).as_bytes()).map_err(fail)?;
    s.shutdown(std::net::Shutdown::Write).map_err(fail)?;
    let mut buf = [0u8; 512];
    let mut fd = None;
    let n = {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(s.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC).map_err(|e| fail(e.into()))?;
        for c in msg.cmsgs().map_err(|e| fail(e.into()))? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for raw in fds {
                    // SAFETY: the kernel just installed these descriptors in this process.
                    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                    fd.get_or_insert(owned);
                }
            }
        }
        msg.bytes
    };
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    match (text.as_str(), fd) {
        ("ok", Some(fd)) => Ok(fd),
        (t, _) => {
            let t = t.strip_prefix("error: ").unwrap_or(t);
            Err(match t.split_once(": ") {
                Some(("EADDRINUSE", m)) => HostPortError::InUse(m.to_string()),
                Some(("EACCES", m)) => HostPortError::Privileged(m.to_string()),
                _ => HostPortError::Refused(t.to_string()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_parsed_strictly() {
        assert_eq!(parse("tcp :: 8080").unwrap(), (false, "[::]:8080".parse().unwrap()));
        assert_eq!(parse("udp 127.0.0.1 53").unwrap(), (true, "127.0.0.1:53".parse().unwrap()));
        for bad in ["sctp :: 1", "tcp nowhere 1", "tcp :: 70000", "tcp ::", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

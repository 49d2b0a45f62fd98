//! docker-proxy's work for IPv6 clients: a published port without a host address is reached
//! on the host's IPv4 addresses through nftables DNAT, and on `[::]` through this relay, which
//! the monitor runs for as long as the container runs (doca has no daemon to hold it). TCP
//! connections are spliced both ways; UDP datagrams go out from one socket per client, so the
//! replies find their way back.

use crate::config::ProxyConfig;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;

/// At most this many UDP clients get a socket of their own (a flood makes no more).
const MAX_UDP_CLIENTS: usize = 1024;

/// A socket on `[::]:port`, IPv6 only: the IPv4 side is the kernel's DNAT, and an IPv4
/// listener of another process on the port is not in the way.
fn bind_v6only(udp: bool, port: u16) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{bind, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType, SockaddrIn6};
    let kind = if udp { SockType::Datagram } else { SockType::Stream };
    let fd = socket(AddressFamily::Inet6, kind, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    let addr = SockaddrIn6::from(std::net::SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, port, 0, 0));
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr)?;
    if !udp {
        listen(&fd, Backlog::new(128).unwrap_or(Backlog::MAXCONN))?;
    }
    Ok(fd)
}

pub fn spawn(p: ProxyConfig) {
    let Ok(target) = p.target.parse::<SocketAddr>() else {
        crate::log::error(format!("proxy: bad target {:?}", p.target));
        return;
    };
    let udp = p.proto == "udp";
    let socket = match p.fd {
        // SAFETY: the engine passed this descriptor for this relay alone (ProxyConfig::fd),
        // and nothing else in the monitor takes it.
        Some(fd) => Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }),
        None => bind_v6only(udp, p.port),
    };
    match socket {
        Ok(fd) if udp => {
            std::thread::spawn(move || relay_udp(UdpSocket::from(fd), target));
        }
        Ok(fd) => {
            std::thread::spawn(move || relay_tcp(TcpListener::from(fd), target));
        }
        Err(e) => crate::log::error(format!("proxy: listen on [::]:{}/{}: {e}", p.port, p.proto)),
    }
}

fn relay_tcp(listener: TcpListener, target: SocketAddr) {
    for client in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let Ok(upstream) = TcpStream::connect(target) else { return };
            let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else { return };
            let back = std::thread::spawn(move || {
                let _ = pump(&u2, &c2);
                let _ = c2.shutdown(Shutdown::Write);
            });
            let _ = pump(&client, &upstream);
            let _ = upstream.shutdown(Shutdown::Write);
            let _ = back.join();
        });
    }
}

/// How much one splice moves at most, and the pipe's size for it.
const SPLICE_CHUNK: usize = 1 << 20;

/// Moves bytes from `from` to `to` until `from` ends: splice(2) through a pipe, so that they
/// never pass through this process's memory (the relay of every rootless published port:
/// throughput near the kernel's own forwarding); read and write where splice is refused.
fn pump(from: &TcpStream, to: &TcpStream) -> std::io::Result<()> {
    use nix::fcntl::{splice, FcntlArg, OFlag, SpliceFFlags};
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_MORE;
    let Ok((r, w)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
        return std::io::copy(&mut &*from, &mut &*to).map(|_| ());
    };
    // A bigger pipe moves more per call; the default (16 pages) is kept where this is refused.
    let _ = nix::fcntl::fcntl(&w, FcntlArg::F_SETPIPE_SZ(SPLICE_CHUNK as i32));
    loop {
        let n = match splice(from, None, &w, None, SPLICE_CHUNK, flags) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(nix::Error::EINTR) => continue,
            Err(nix::Error::EINVAL) => return std::io::copy(&mut &*from, &mut &*to).map(|_| ()),
            Err(e) => return Err(e.into()),
        };
        let mut left = n;
        while left > 0 {
            match splice(&r, None, to, None, left, flags) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(m) => left -= m,
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// How long a UDP client's socket lives without a datagram either way (docker-proxy's
/// `UDPConnTrackTimeout`).
const UDP_IDLE: std::time::Duration = std::time::Duration::from_secs(90);

fn relay_udp(sock: UdpSocket, target: SocketAddr) {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let clients: Arc<Mutex<HashMap<SocketAddr, UdpSocket>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else { return };
        let mut map = clients.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(&from) {
            if map.len() >= MAX_UDP_CLIENTS {
                continue;
            }
            let Ok(out) = UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect(target).map(|_| s)) else { continue };
            let (Ok(replies), Ok(back)) = (out.try_clone(), sock.try_clone()) else { continue };
            let _ = replies.set_read_timeout(Some(UDP_IDLE));
            let clients = Arc::clone(&clients);
            std::thread::spawn(move || {
                relay_replies(&replies, &back, from);
                clients.lock().unwrap_or_else(|e| e.into_inner()).remove(&from);
            });
            map.insert(from, out);
        }
        let _ = map[&from].send(&buf[..n]);
    }
}

/// Sends `from`'s replies back until it has been idle for `UDP_IDLE`. A datagram that reached
/// the container before its server listened comes back as an ICMP port unreachable, which a
/// connected socket reports on its next `recv` as `ECONNREFUSED`: that is no reason to stop
/// relaying (the client asks again once the server is up).
fn relay_replies(replies: &UdpSocket, back: &UdpSocket, from: SocketAddr) {
    let mut b = vec![0u8; 65536];
    loop {
        match replies.recv(&mut b) {
            Ok(n) => {
                if back.send_to(&b[..n], from).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::Interrupted) => {}
            Err(_) => return,
        }
    }
}

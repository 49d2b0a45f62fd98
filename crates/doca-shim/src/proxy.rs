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
    match bind_v6only(udp, p.port) {
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
            let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else { return };
            let (mut client, mut upstream) = (client, upstream);
            let back = std::thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut c2);
                let _ = c2.shutdown(Shutdown::Write);
            });
            let _ = std::io::copy(&mut client, &mut upstream);
            let _ = upstream.shutdown(Shutdown::Write);
            let _ = back.join();
        });
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

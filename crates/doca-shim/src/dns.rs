//! The container's resolver at 127.0.0.11:53, served by its monitor for as long as it runs
//! (doca has no daemon to do it, as dockerd does): a thread that joins the container's network
//! namespace only after making its upstream sockets' namespace its own, so names of the
//! container's networks are answered from their records and everything else is forwarded from
//! the host's namespace (`doca_net::dns`).

use crate::config::DnsConfig;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

/// Names → addresses from the records files ("NAME IP" lines) the list names, read at each
/// question so that containers joining or leaving, and networks connected, are seen at once.
fn lookup(list: &std::path::Path, name: &str) -> Option<Vec<IpAddr>> {
    let mut ips = Vec::new();
    let list = std::fs::read_to_string(list).unwrap_or_default();
    // A link's alias answers as the linked container's name does.
    let name = list
        .lines()
        .filter_map(|l| l.strip_prefix("alias "))
        .filter_map(|l| l.split_once(' '))
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, target)| target);
    for f in list.lines().filter(|l| !l.starts_with("alias ")) {
        for line in std::fs::read_to_string(f).unwrap_or_default().lines() {
            let mut it = line.split_whitespace();
            if let (Some(n), Some(ip)) = (it.next(), it.next()) {
                if n.eq_ignore_ascii_case(name) {
                    if let Ok(ip) = ip.parse() {
                        ips.push(ip);
                    }
                }
            }
        }
    }
    (!ips.is_empty()).then_some(ips)
}

pub fn spawn(cfg: DnsConfig) {
    std::thread::spawn(move || {
        let upstream: Vec<SocketAddr> = cfg.upstream.iter().filter_map(|s| s.parse().ok()).collect();
        let listeners = (|| -> std::io::Result<(UdpSocket, TcpListener)> {
            let ns = std::fs::File::open(&cfg.netns)?;
            // Only this thread moves; the forwarding sockets are made per query, and a socket
            // stays in the namespace it was made in, so they are made back in the host's.
            let host = std::fs::File::open("/proc/thread-self/ns/net")?;
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
            let l = UdpSocket::bind("127.0.0.11:53").and_then(|u| Ok((u, TcpListener::bind("127.0.0.11:53")?)));
            nix::sched::setns(&host, nix::sched::CloneFlags::CLONE_NEWNET)?;
            l
        })();
        match listeners {
            Ok((udp, tcp)) => {
                let (list, up) = (cfg.records_list.clone(), upstream.clone());
                std::thread::spawn(move || {
                    if let Err(e) = doca_net::dns::serve_tcp(tcp, &up, |name| lookup(&list, name)) {
                        crate::log::error(format!("dns over tcp: {e}"));
                    }
                });
                if let Err(e) = doca_net::dns::serve(udp, &upstream, |name| lookup(&cfg.records_list, name)) {
                    crate::log::error(format!("dns: {e}"));
                }
            }
            Err(e) => crate::log::error(format!("dns: serve 127.0.0.11:53 in {}: {e}", cfg.netns.display())),
        }
    });
}

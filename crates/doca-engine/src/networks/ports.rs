//! Published ports (`-p`, `-P`): host ports chosen at start (given ones checked free, a range's
//! first free one, a random one from the kernel), recorded in the container's first endpoint,
//! and forwarded by DNAT rules in doca's table. A port is refused when another container
//! publishes it (docker's "port is already allocated") or a host process listens on it (named,
//! with its pid), before anything is set up.

use super::attach::{EndpointConfig, PublishedPort};
use crate::containers::Container;
use crate::{Engine, EngineError};
use doca_net::nft::PortRule;
use doca_net::{Port, Proto};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

fn overlaps(a: &PublishedPort, b: &PublishedPort) -> bool {
    a.container.proto == b.container.proto
        && a.host_port == b.host_port
        && (a.host_ip.is_none() || b.host_ip.is_none() || a.host_ip == b.host_ip)
}

/// Whether a published port without a host address is also relayed on `[::]` by the
/// container's monitor (docker-proxy's IPv6 side): when the host has IPv6.
pub fn publishes_on_ipv6() -> bool {
    // Read once per process: a listing asks for every published port.
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6").is_ok_and(|v| v.trim() == "0"))
}

/// The host addresses a published port answers on, as docker lists them: its own, and `::`
/// too for one without an address when the host has IPv6.
pub fn host_addresses(p: &PublishedPort) -> Vec<String> {
    match p.host_ip {
        Some(ip) => vec![ip.to_string()],
        None if publishes_on_ipv6() && p.container.proto != Proto::Sctp => vec![Ipv4Addr::UNSPECIFIED.to_string(), "::".into()],
        None => vec![Ipv4Addr::UNSPECIFIED.to_string()],
    }
}

fn shown(ip: Option<Ipv4Addr>, port: u16) -> String {
    format!("{}:{port}", ip.unwrap_or(Ipv4Addr::UNSPECIFIED))
}

/// Where ports are bound: here, or (rootless) on the host's network through the port helper
/// of this run root (doca-shim `hostports`), since this namespace is not the host's.
#[derive(Clone, Copy)]
enum Binder<'a> {
    Here,
    Helper(&'a Path),
}

impl Binder<'_> {
    /// A socket on `ip:port` (port 0: the kernel's choice), or why not.
    fn bind(self, proto: Proto, ip: Option<Ipv4Addr>, port: u16) -> Result<OwnedFd, doca_shim::hostports::HostPortError> {
        let addr = SocketAddrV4::new(ip.unwrap_or(Ipv4Addr::UNSPECIFIED), port);
        match self {
            Binder::Here => {
                let r = match proto {
                    Proto::Udp => UdpSocket::bind(addr).map(OwnedFd::from),
                    _ => TcpListener::bind(addr).map(OwnedFd::from),
                };
                r.map_err(|e| doca_shim::hostports::HostPortError::Refused(e.to_string()))
            }
            // `::` when no address is given: the relay listens on both families there.
            Binder::Helper(run_root) => {
                let ip = ip.map_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), IpAddr::V4);
                doca_shim::hostports::listen(run_root, proto == Proto::Udp, std::net::SocketAddr::new(ip, port))
            }
        }
    }
}

/// Whether a host process could take the port now (and so whether doca's DNAT would steal its
/// traffic): a bind that succeeds and is dropped at once. A privileged port counts as free:
/// the start refuses it later with why.
fn bindable(binder: Binder<'_>, proto: Proto, ip: Option<Ipv4Addr>, port: u16) -> bool {
    proto == Proto::Sctp || matches!(binder.bind(proto, ip, port), Ok(_) | Err(doca_shim::hostports::HostPortError::Privileged(_)))
}

/// A free port from the kernel's ephemeral range, on the host's network.
fn random_port(binder: Binder<'_>, proto: Proto, ip: Option<Ipv4Addr>) -> Result<u16, EngineError> {
    let proto = if proto == Proto::Udp { Proto::Udp } else { Proto::Tcp };
    let fail = |e: String| EngineError::Internal(format!("find a free {} port: {e}", proto.name()));
    let fd = binder.bind(proto, ip, 0).map_err(|e| fail(e.to_string()))?;
    let addr: nix::sys::socket::SockaddrStorage = nix::sys::socket::getsockname(fd.as_raw_fd()).map_err(|e| fail(e.to_string()))?;
    addr.as_sockaddr_in().map(|a| a.port()).or_else(|| addr.as_sockaddr_in6().map(|a| a.port())).ok_or_else(|| fail("no port".into()))
}

/// Who listens on a port, from /proc/net/{tcp,udp}{,6} and the processes' descriptors.
fn holder(proto: Proto, port: u16) -> Option<String> {
    let files = match proto {
        Proto::Tcp => ["/proc/net/tcp", "/proc/net/tcp6"],
        _ => ["/proc/net/udp", "/proc/net/udp6"],
    };
    let inode = files.iter().find_map(|f| {
        std::fs::read_to_string(f).ok()?.lines().skip(1).find_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            let local_port = u16::from_str_radix(c.get(1)?.rsplit(':').next()?, 16).ok()?;
            // TCP: LISTEN (0A) only; UDP: any bound socket.
            (local_port == port && (proto != Proto::Tcp || c.get(3) == Some(&"0A"))).then(|| c.get(9).map(|s| s.to_string()))?
        })
    })?;
    let target = format!("socket:[{inode}]");
    for p in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        if fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str())) {
            let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
            return Some(format!("pid {pid} ({})", comm.trim()));
        }
    }
    None
}

impl Engine {
    /// Every published port of every running container.
    fn published_ports(&mut self) -> Result<Vec<(Ipv4Addr, PublishedPort)>, EngineError> {
        let rows = self.store.db.read(|tx| tx.endpoints())?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some((r.ip.parse().ok()?, serde_json::from_str::<EndpointConfig>(&r.config).ok()?.ports)))
            .flat_map(|(ip, ports)| ports.into_iter().map(move |p| (ip, p)))
            .collect())
    }

    pub(crate) fn published_port_rules(&mut self) -> Result<Vec<PortRule>, EngineError> {
        Ok(self
            .published_ports()?
            .into_iter()
            .map(|(ip, p)| PortRule {
                host_ip: p.host_ip,
                host_port: p.host_port,
                proto: p.container.proto,
                container_ip: ip,
                container_port: p.container.port,
            })
            .collect())
    }

    /// The ports container `c` publishes, each with its host port chosen.
    pub(crate) fn host_ports(&mut self, c: &Container) -> Result<Vec<PublishedPort>, EngineError> {
        let mut wanted = c.config.publish.clone();
        if c.config.publish_all {
            for port in self.exposed_ports(c)? {
                if !wanted.iter().any(|b| b.container == port) {
                    wanted.push(doca_net::PortBinding { host_ip: None, host_port_start: 0, host_port_end: 0, container: port });
                }
            }
        }
        let taken: Vec<PublishedPort> = self.published_ports()?.into_iter().map(|(_, p)| p).collect();
        let run_root = self.config().run_root.clone();
        let binder = if crate::rootless::is_rootless() { Binder::Helper(&run_root) } else { Binder::Here };
        let mut out: Vec<PublishedPort> = Vec::new();
        for b in wanted {
            let host_ip = match b.host_ip {
                None => None,
                Some(IpAddr::V4(ip)) => Some(ip),
                Some(IpAddr::V6(ip)) => {
                    return Err(EngineError::InvalidArgument(format!("publish on {ip}: IPv6 host addresses are not there yet in doca")))
                }
            };
            let proto = b.container.proto;
            let candidate = |port: u16| PublishedPort { host_ip, host_port: port, container: b.container };
            let free = |p: &PublishedPort| !taken.iter().chain(out.iter()).any(|t| overlaps(t, p));
            let chosen = if b.host_port_start == 0 {
                let mut found = None;
                for _ in 0..16 {
                    let p = candidate(random_port(binder, proto, host_ip)?);
                    if free(&p) {
                        found = Some(p);
                        break;
                    }
                }
                found.ok_or_else(|| EngineError::Conflict(format!("no free host port for {}", b.container)))?
            } else {
                let range = b.host_port_start..=b.host_port_end;
                match range.clone().map(candidate).find(|p| free(p) && bindable(binder, proto, host_ip, p.host_port)) {
                    Some(p) => p,
                    None => {
                        let first = candidate(b.host_port_start);
                        let what = shown(host_ip, b.host_port_start);
                        return Err(if !free(&first) {
                            EngineError::Conflict(format!("Bind for {what} failed: port is already allocated"))
                        } else {
                            let who = holder(proto, b.host_port_start).map(|h| format!(", held by {h}")).unwrap_or_default();
                            EngineError::Conflict(format!(
                                "driver failed programming external connectivity on endpoint {}: listen {}4 {what}: bind: address already in use{who}",
                                c.name,
                                proto.name()
                            ))
                        });
                    }
                }
            };
            out.push(chosen);
        }
        Ok(out)
    }

    /// The image's ExposedPorts and `--expose`.
    pub(crate) fn exposed_ports(&mut self, c: &Container) -> Result<Vec<Port>, EngineError> {
        let image = self.image_config(&c.image_id)?.config.unwrap_or_default();
        let mut ports: Vec<Port> = image.exposed_ports.iter().flat_map(|m| m.keys()).filter_map(|k| Port::parse(k).ok()).collect();
        for p in &c.config.expose {
            if !ports.contains(p) {
                ports.push(*p);
            }
        }
        ports.sort();
        Ok(ports)
    }
}

/// The check inside the endpoint's transaction: no other container took one of these ports
/// since they were chosen.
pub(crate) fn conflict(rows: &[doca_store::EndpointRow], mine: &[PublishedPort]) -> Option<String> {
    for r in rows {
        let Ok(cfg) = serde_json::from_str::<EndpointConfig>(&r.config) else { continue };
        if let Some(p) = mine.iter().find(|p| cfg.ports.iter().any(|t| overlaps(t, p))) {
            return Some(format!("Bind for {} failed: port is already allocated", shown(p.host_ip, p.host_port)));
        }
    }
    None
}

impl Engine {
    /// The container's ports as `ps` and `port` show them: each exposed or published
    /// container port, with where the host publishes it while the container runs.
    pub fn container_ports(&mut self, c: &Container) -> Result<Vec<(Port, Option<PublishedPort>)>, EngineError> {
        let endpoints = self.endpoints_of(c)?;
        self.ports_of(c, &endpoints)
    }

    /// The same, from endpoints already read.
    pub(crate) fn ports_of(
        &mut self,
        c: &Container,
        endpoints: &[super::attach::Endpoint],
    ) -> Result<Vec<(Port, Option<PublishedPort>)>, EngineError> {
        let published: Vec<PublishedPort> = endpoints.iter().flat_map(|e| e.config.ports.iter().cloned()).collect();
        let mut out: Vec<(Port, Option<PublishedPort>)> = published.iter().map(|p| (p.container, Some(p.clone()))).collect();
        for p in self.exposed_ports(c)? {
            if !out.iter().any(|(q, _)| *q == p) {
                out.push((p, None));
            }
        }
        // By container port; a port published twice keeps the order it was given in.
        out.sort_by_key(|(p, _)| *p);
        Ok(out)
    }
}

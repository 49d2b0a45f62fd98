//! Published ports of rootless doca. The user's network namespace (`crate::rootless`) is not
//! the host's: a port published there would be published nowhere. For each published port the
//! start asks the port helper, which stayed on the host's network, for a socket on the host's
//! address and port (doca-shim `hostports`), and hands it to the container's monitor, which
//! relays what arrives to the container's address in the namespace (doca-shim `proxy`, as
//! docker-proxy does). The port is held for as long as the monitor runs: it goes with the
//! container. Before this, slirp4netns's host forwards carried published ports, through its
//! user-space TCP stack; it now carries only the containers' outgoing traffic.
//!
//! In the namespace the firewall table's DNAT rules stay as on root's host (a container that
//! connects to the namespace's own address reaches a published port), without the host
//! address, which is the host's and not the namespace's.

use super::attach::Endpoint;
use crate::containers::Container;
use crate::{Engine, EngineError};
use doca_net::nft::PortRule;
use doca_net::Proto;
use doca_shim::hostports::HostPortError;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

/// The sysctl is per network namespace, and the helper binds in the host's, whose value this
/// namespace cannot read: its own copy (the kernel's default, 1024: ip-sysctl.rst) is what is
/// said, beside the kernel's own refusal.
fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(1024)
}

/// The port rules as the user's namespace applies them: a host address given with `-p` is the
/// helper's to listen on, not the DNAT rule's to match.
pub(crate) fn namespace_rules(rules: &[PortRule]) -> Vec<PortRule> {
    rules.iter().map(|r| PortRule { host_ip: None, ..r.clone() }).collect()
}

impl Engine {
    /// The monitor's relays for a rootless container's published ports, and their sockets on
    /// the host (the monitor inherits them: see `start`). A port the host refuses is named with
    /// why: one another program holds (docker's message), or one below
    /// `net.ipv4.ip_unprivileged_port_start`.
    pub(crate) fn host_port_relays(
        &self,
        c: &Container,
        endpoints: &[Endpoint],
    ) -> Result<(Vec<doca_shim::ProxyConfig>, Vec<OwnedFd>), EngineError> {
        let (mut relays, mut sockets) = (Vec::new(), Vec::new());
        for e in endpoints {
            for p in &e.config.ports {
                let udp = match p.container.proto {
                    Proto::Tcp => false,
                    Proto::Udp => true,
                    Proto::Sctp => {
                        return Err(EngineError::InvalidArgument(format!("rootless: cannot publish {}: SCTP is not relayed", p.container)))
                    }
                };
                let ip = p.host_ip.map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), IpAddr::V4);
                let shown = format!("{}:{}", p.host_ip.map_or("0.0.0.0".to_string(), |i| i.to_string()), p.host_port);
                let fd =
                    doca_shim::hostports::listen(&self.config().run_root, udp, SocketAddr::new(ip, p.host_port)).map_err(
                        |err| match err {
                            HostPortError::InUse(m) => EngineError::Conflict(format!(
                                "driver failed programming external connectivity on endpoint {}: listen {}4 {shown}: bind: {m}",
                                c.name,
                                p.container.proto.name()
                            )),
                            HostPortError::Privileged(m) => EngineError::InvalidArgument(format!(
                        "rootless: cannot expose privileged port {}: a user may bind ports from net.ipv4.ip_unprivileged_port_start ({}) \
                         up: publish a higher port, or lower that sysctl ({m})",
                        p.host_port,
                        unprivileged_port_start()
                    )),
                            other => {
                                EngineError::InvalidArgument(format!("rootless: publish {shown}/{}: {other}", p.container.proto.name()))
                            }
                        },
                    )?;
                relays.push(doca_shim::ProxyConfig {
                    proto: p.container.proto.name().to_string(),
                    port: p.host_port,
                    target: format!("{}:{}", e.ip, p.container.port),
                    fd: Some(fd.as_raw_fd()),
                });
                sockets.push(fd);
            }
        }
        Ok((relays, sockets))
    }
}

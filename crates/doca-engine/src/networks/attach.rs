//! A container on its networks while it runs. Before the runtime starts it, the engine makes a
//! network namespace pinned at `<run_root>/netns/<id>` and, per network, takes an address (the
//! `endpoints` row), makes a veth pair whose container end is born inside that namespace as
//! `eth0` with docker's MAC for the address, enslaves the host end to the bridge, and sets up
//! loopback, address and default route inside. The runtime joins the namespace by path. When the
//! container stops, the rows, the veths and the namespace go.
//!
//! /etc/hosts, /etc/resolv.conf and /etc/hostname are written per container (docker's
//! content) and bind-mounted unless the user mounts something there.

use super::Network;
use crate::containers::spec::NetworkMode;
use crate::containers::Container;
use crate::{Engine, EngineError};
use doca_net::ipam;
use doca_net::link::Netlink;
use doca_net::netns;
use doca_store::EndpointRow;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

pub use crate::containers::config::Attachment;

/// The container's networks: `--network`'s first (with `--ip`, `--network-alias`), then those
/// of `network connect`.
pub fn attachments(c: &Container) -> Vec<Attachment> {
    let mut v: Vec<Attachment> = c
        .config
        .network
        .networks()
        .into_iter()
        .filter(|_| !c.config.left_primary)
        .map(|network| Attachment { network, ip: c.config.ip, aliases: c.config.network_aliases.clone() })
        .collect();
    v.extend(c.config.connected.iter().cloned());
    v
}

/// A container's network namespace, and a netlink socket inside it.
pub(crate) struct Sandbox {
    pub ns: std::fs::File,
    pub inside: Netlink,
}

impl Sandbox {
    pub(crate) fn open(path: &Path) -> Result<Sandbox, EngineError> {
        let ns = netns::open(path)?;
        let inside = Netlink::open_in(ns.as_fd())?;
        Ok(Sandbox { ns, inside })
    }
}

/// What an endpoint row keeps beside the address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointConfig {
    pub mac: String,
    /// The host end of the veth pair.
    pub veth: String,
    /// The container end's name (eth0, eth1, ...).
    pub ifname: String,
    pub prefix: u8,
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Published ports, on the container's first network.
    #[serde(default)]
    pub ports: Vec<PublishedPort>,
    /// On an IPv6 network: the container's IPv6 address, prefix and gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<std::net::Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix6: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<std::net::Ipv6Addr>,
}

/// A port the host forwards to the container (`-p`), host port resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    #[serde(default)]
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container: doca_net::Port,
}

/// A running container's attachment, as inspect shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub network: Network,
    pub ip: Ipv4Addr,
    pub config: EndpointConfig,
}

impl Engine {
    pub(crate) fn netns_path(&self, c: &Container) -> PathBuf {
        self.config().run_root.join("netns").join(c.id.as_str())
    }

    /// The container's running endpoints.
    pub fn endpoints_of(&mut self, c: &Container) -> Result<Vec<Endpoint>, EngineError> {
        let rows: Vec<EndpointRow> =
            self.store.db.read(|tx| tx.endpoints())?.into_iter().filter(|r| r.container_id == c.id.as_str()).collect();
        if rows.is_empty() {
            // Nothing to name: no network lookup (which makes the built-in networks).
            return Ok(Vec::new());
        }
        let nets = self.networks()?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let network = nets.iter().find(|n| n.id == r.network_id)?.clone();
                Some(Endpoint { network, ip: r.ip.parse().ok()?, config: serde_json::from_str(&r.config).unwrap_or_default() })
            })
            .collect())
    }

    /// Before start: the namespace the runtime is to join (None: the runtime makes its own,
    /// or shares the host's), attached to the container's networks.
    #[tracing::instrument(level = "debug", skip_all, fields(container = %c.id, network = %c.config.network.name()), err(level = "debug"))]
    pub(crate) fn setup_network(&mut self, c: &Container) -> Result<Option<PathBuf>, EngineError> {
        crate::rootless::in_netns(|| self.setup_network_here(c))
    }

    fn setup_network_here(&mut self, c: &Container) -> Result<Option<PathBuf>, EngineError> {
        match &c.config.network {
            NetworkMode::None | NetworkMode::Host => Ok(None),
            NetworkMode::Container(other) => {
                let o = self.container(other)?;
                if !o.state.status.is_live() {
                    return Err(EngineError::Conflict(format!("cannot join network of a non running container: {}", o.id)));
                }
                let p = self.netns_path(&o);
                if !p.exists() {
                    return Err(EngineError::Conflict(format!(
                        "cannot join network of container {}: it has no network namespace doca made (--network {})",
                        o.name,
                        o.config.network.name()
                    )));
                }
                // Marked, so that its teardown deletes its veths itself (see teardown_network).
                let _ = std::fs::write(shared_marker(&p), b"");
                Ok(Some(p))
            }
            NetworkMode::Bridge(_) => {
                let path = self.netns_path(c);
                let done = self.attach_all(c, &path);
                if done.is_err() {
                    let _ = self.teardown_network(c);
                }
                done.map(|_| Some(path))
            }
        }
    }

    fn attach_all(&mut self, c: &Container, path: &Path) -> Result<(), EngineError> {
        let dir = path.parent().expect("netns dir");
        std::fs::create_dir_all(dir).map_err(EngineError::io("create", dir))?;
        netns::remove(path)?;
        let (ns, inside) = netns::create(path, Netlink::open)?;
        let mut sandbox = Sandbox { ns, inside };
        if let Some(lo) = sandbox.inside.index("lo")? {
            sandbox.inside.set_up(lo, None)?;
        }
        for (i, att) in attachments(c).iter().enumerate() {
            let net = self.network(&att.network)?;
            if !net.is_bridge() {
                return Err(EngineError::InvalidArgument(format!(
                    "container cannot be connected to network {} with --network {}: use --network {}",
                    net.name, att.network, net.name
                )));
            }
            self.attach(c, &net, att, &format!("eth{i}"), &mut sandbox, i == 0)?;
        }
        self.write_dns_list(c)
    }

    /// One network: address, veth pair, configuration inside.
    pub(crate) fn attach(
        &mut self,
        c: &Container,
        net: &Network,
        att: &Attachment,
        ifname: &str,
        sandbox: &mut Sandbox,
        default_route: bool,
    ) -> Result<(), EngineError> {
        let Sandbox { ns, inside } = sandbox;
        let (Some(subnet), Some(gateway)) = (net.config.subnet, net.config.gateway) else {
            return Err(EngineError::Internal(format!("network {} has no subnet", net.name)));
        };
        {
            let _lock = self.lock_networks()?;
            if self.ensure_bridge(net)? {
                self.sync_firewall()?;
            }
        }
        // docker's naming: "veth" and 7 random hex digits.
        let hex: String = crate::containers::record::random_bytes::<4>()?.iter().map(|b| format!("{b:02x}")).collect();
        let veth = format!("veth{}", &hex[..7]);
        let wanted = att.ip;
        let ports = if default_route { self.host_ports(c)? } else { Vec::new() };
        // `--mac-address` is the first network's; the others get docker's address-derived MAC.
        let given_mac = match c.config.mac_address.as_deref().filter(|_| default_route) {
            Some(m) => Some(ipam::parse_mac(m)?),
            None => None,
        };
        let mac_of = |ip: Ipv4Addr| given_mac.unwrap_or_else(|| ipam::mac_for(ip));
        let (ip, endpoint) = self.allocate_endpoint(c, net, wanted, |ip| EndpointConfig {
            mac: ipam::mac_string(&mac_of(ip)),
            veth: veth.clone(),
            ifname: ifname.to_string(),
            prefix: subnet.prefix(),
            gateway: (!net.config.internal).then_some(gateway),
            aliases: att.aliases.clone(),
            ports: if default_route { ports.clone() } else { Vec::new() },
            ip6: None,
            prefix6: None,
            gateway6: None,
        })?;
        if default_route && !ports.is_empty() {
            let _lock = self.lock_networks()?;
            self.sync_firewall()?;
        }
        self.write_records(net)?;
        let mut host = Netlink::open()?;
        let bridge =
            host.index(&net.config.bridge)?.ok_or_else(|| EngineError::Internal(format!("bridge {} is gone", net.config.bridge)))?;
        host.create_veth(&veth, ifname, ns.as_fd(), ipam::parse_mac(&endpoint.mac)?)?;
        let h = host.index(&veth)?.ok_or_else(|| EngineError::Internal(format!("veth {veth} vanished")))?;
        host.set_up(h, Some(bridge))?;
        let e = inside.index(ifname)?.ok_or_else(|| EngineError::Internal(format!("{ifname} missing in the container's namespace")))?;
        inside.add_address(e, ip, subnet.prefix())?;
        if let (Some(ip6), Some(prefix6)) = (endpoint.ip6, endpoint.prefix6) {
            inside.add_address6(e, ip6, prefix6)?;
        }
        inside.set_up(e, None)?;
        if default_route && !net.config.internal {
            inside.add_default_route(gateway.into())?;
            if let Some(g6) = endpoint.gateway6 {
                inside.add_default_route(g6.into())?;
            }
        }
        Ok(())
    }

    /// Takes an address on `net` for `c` (the wanted one, or the first free one) by inserting
    /// the endpoint row: the table's uniqueness makes concurrent starts take different ones.
    fn allocate_endpoint(
        &mut self,
        c: &Container,
        net: &Network,
        wanted: Option<Ipv4Addr>,
        config: impl Fn(Ipv4Addr) -> EndpointConfig,
    ) -> Result<(Ipv4Addr, EndpointConfig), EngineError> {
        let subnet = net.config.subnet.expect("bridge subnet");
        if let Some(w) = wanted {
            if !subnet.contains(w) {
                return Err(EngineError::InvalidArgument(format!("no configured subnet or ip-range contain the IP address {w}")));
            }
        }
        self.store.db.write(|tx| {
            let mut used: HashSet<Ipv4Addr> =
                tx.endpoints()?.into_iter().filter(|e| e.network_id == net.id).filter_map(|e| e.ip.parse().ok()).collect();
            used.extend(net.config.gateway);
            let ip = match wanted {
                Some(w) if used.contains(&w) => {
                    return Ok(Err(EngineError::Conflict(format!("Address already in use: {w} on network {}", net.name))))
                }
                Some(w) => w,
                None => match ipam::allocate(&subnet, net.config.ip_range.as_ref(), &used) {
                    Some(ip) => ip,
                    None => return Ok(Err(EngineError::Conflict(format!("no available IPv4 addresses on network {}", net.name)))),
                },
            };
            let mut cfg = config(ip);
            // IPv6: the first address after the gateway that no endpoint of the network holds
            // (in this same transaction, so two starts cannot take one).
            if let Some(s6) = net.config.subnet6.as_deref().and_then(|s| ipam::Subnet6::parse(s).ok()) {
                let used6: HashSet<std::net::Ipv6Addr> = tx
                    .endpoints()?
                    .into_iter()
                    .filter(|e| e.network_id == net.id)
                    .filter_map(|e| serde_json::from_str::<EndpointConfig>(&e.config).ok()?.ip6)
                    .chain(net.config.gateway6)
                    .collect();
                let Some(ip6) = (1..u128::from(u32::MAX)).map_while(|n| s6.nth(n)).find(|a| !used6.contains(a)) else {
                    return Ok(Err(EngineError::Conflict(format!("no available IPv6 addresses on network {}", net.name))));
                };
                cfg.ip6 = Some(ip6);
                cfg.prefix6 = Some(s6.prefix());
                cfg.gateway6 = net.config.gateway6.filter(|_| !net.config.internal);
            }
            if let Some(m) = super::ports::conflict(&tx.endpoints()?, &cfg.ports) {
                return Ok(Err(EngineError::Conflict(m)));
            }
            let row = EndpointRow {
                network_id: net.id.clone(),
                container_id: c.id.to_string(),
                ip: ip.to_string(),
                config: serde_json::to_string(&cfg).expect("json"),
            };
            if !tx.insert_endpoint(&row)? {
                return Ok(Err(EngineError::Conflict(format!("container {} is already attached to network {}", c.name, net.name))));
            }
            Ok(Ok((ip, cfg)))
        })?
    }

    /// After the container stopped: its endpoints, veths and namespace go. Safe to call twice.
    /// The veths are not deleted one by one: RTM_DELLINK waits for an RCU grace period (14 ms
    /// measured here, most of what a bridge added to `run --rm`), while the namespace, once
    /// unpinned and empty of processes, takes its veths (and so their host ends) with it in the
    /// kernel's own cleanup, off this path.
    ///
    /// Unless something else keeps the namespace: the container's own processes when it is
    /// still live (a failed start, a dead monitor), or containers that joined it with
    /// `--network container:` - their veth would live on with an address handed out again.
    pub(crate) fn teardown_network(&mut self, c: &Container) -> Result<(), EngineError> {
        crate::rootless::in_netns(|| self.teardown_network_here(c))
    }

    fn teardown_network_here(&mut self, c: &Container) -> Result<(), EngineError> {
        let shared = shared_marker(&self.netns_path(c));
        let sync = c.state.status.is_live() || shared.exists();
        self.remove_endpoints(c, |_| true, sync)?;
        netns::remove(&self.netns_path(c))?;
        let _ = std::fs::remove_file(shared);
        Ok(())
    }

    /// Takes the container off one network while its namespace lives on.
    pub(crate) fn detach_one(&mut self, c: &Container, net: &Network) -> Result<(), EngineError> {
        crate::rootless::in_netns(|| self.detach_one_here(c, net))
    }

    fn detach_one_here(&mut self, c: &Container, net: &Network) -> Result<(), EngineError> {
        self.remove_endpoints(c, |r| r.network_id == net.id, true)
    }

    /// Deletes the container's endpoints that `which` picks: their rows, names in the records,
    /// port rules, and with `delete_veths` their veths (the pair goes with its host end).
    fn remove_endpoints(&mut self, c: &Container, which: impl Fn(&EndpointRow) -> bool, delete_veths: bool) -> Result<(), EngineError> {
        let rows: Vec<EndpointRow> =
            self.store.db.read(|tx| tx.endpoints())?.into_iter().filter(|e| e.container_id == c.id.as_str() && which(e)).collect();
        if rows.is_empty() {
            return Ok(());
        }
        if delete_veths {
            let mut host = Netlink::open()?;
            for r in &rows {
                let cfg: EndpointConfig = serde_json::from_str(&r.config).unwrap_or_default();
                if let Some(i) = host.index(&cfg.veth)? {
                    match host.delete_link(i) {
                        Ok(()) | Err(doca_net::NetError::Errno(nix::errno::Errno::ENODEV)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        self.store.db.write(|tx| {
            for r in &rows {
                tx.delete_endpoint(&r.network_id, &r.container_id)?;
            }
            Ok(())
        })?;
        for net in self.networks()?.into_iter().filter(|n| rows.iter().any(|r| r.network_id == n.id)) {
            self.write_records(&net)?;
        }
        if rows.iter().any(|r| serde_json::from_str::<EndpointConfig>(&r.config).is_ok_and(|c| !c.ports.is_empty())) {
            let _lock = self.lock_networks()?;
            self.sync_firewall()?;
        }
        Ok(())
    }

    /// Where the embedded DNS server finds a network's names: "NAME IP" lines.
    pub(crate) fn records_path(&self, net: &Network) -> PathBuf {
        self.config().run_root.join("networks").join(&net.id).join("records")
    }

    /// Rewrites a user-defined network's records from its endpoints: each container's name and
    /// aliases (docker resolves these on user-defined networks, never on the default bridge).
    fn write_records(&mut self, net: &Network) -> Result<(), EngineError> {
        if net.name == "bridge" {
            return Ok(());
        }
        // Read and written whole under the networks' lock: two starts at once (compose starts
        // independent services together) would otherwise each write the endpoints they saw,
        // and the last rename would drop the other's names.
        let _lock = self.lock_networks()?;
        let rows = self.store.db.read(|tx| tx.endpoints())?;
        let mut text = String::new();
        for r in rows.iter().filter(|r| r.network_id == net.id) {
            let cfg: EndpointConfig = serde_json::from_str(&r.config).unwrap_or_default();
            if let Some(c) = self.store.db.read(|tx| tx.container(&r.container_id))? {
                // The short id is an alias too, as docker's (its inspect lists it).
                let short = r.container_id.get(..12).unwrap_or(&r.container_id).to_string();
                for name in [&c.name, &short].into_iter().chain(cfg.aliases.iter()) {
                    text.push_str(&format!("{name} {}\n", r.ip));
                    if let Some(ip6) = cfg.ip6 {
                        text.push_str(&format!("{name} {ip6}\n"));
                    }
                }
            }
        }
        let path = self.records_path(net);
        let dir = path.parent().expect("records dir");
        let io = EngineError::io("write", &path);
        std::fs::create_dir_all(dir).map_err(&io)?;
        // Renamed into place: the DNS server reads it whole or not at all.
        let tmp = dir.join(format!(".records-{}", std::process::id()));
        // (Unique to this writer while the lock is held, across processes and threads.)
        std::fs::write(&tmp, text).map_err(&io)?;
        std::fs::rename(&tmp, &path).map_err(&io)
    }

    /// The embedded DNS server's configuration. Every container in a network namespace of its
    /// own gets the server, also one on the default bridge (whose resolv.conf keeps the host's
    /// resolvers, as docker's does): `network connect` to a user-defined network then only has
    /// to point resolv.conf at 127.0.0.11, as docker does when it connects such a container.
    pub(crate) fn dns_config(&self, c: &Container, netns: &Path, _endpoints: &[Endpoint]) -> Option<doca_shim::DnsConfig> {
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let upstream = host
            .lines()
            .filter_map(|l| l.strip_prefix("nameserver "))
            .filter_map(|s| s.trim().parse::<std::net::IpAddr>().ok())
            .map(|ip| std::net::SocketAddr::new(ip, 53).to_string())
            .collect();
        Some(doca_shim::DnsConfig { netns: netns.to_path_buf(), records_list: self.dns_list_path(c), upstream })
    }

    fn dns_list_path(&self, c: &Container) -> PathBuf {
        self.container_paths(&c.id).run.join("dns-records")
    }

    /// The records files of the container's user-defined networks, for its DNS server, and its
    /// links' aliases (`alias ALIAS NAME`: ALIAS answers as NAME does, for this container only,
    /// and follows NAME to its address of the moment).
    pub(crate) fn write_dns_list(&mut self, c: &Container) -> Result<(), EngineError> {
        let nets: Vec<Network> = self.endpoints_of(c)?.into_iter().map(|e| e.network).filter(|n| n.name != "bridge").collect();
        let mut text: String = nets.iter().map(|n| format!("{}\n", self.records_path(n).display())).collect();
        for l in &c.config.links {
            if let Some((name, alias)) = l.split_once(':') {
                text.push_str(&format!("alias {alias} {name}\n"));
            }
        }
        let path = self.dns_list_path(c);
        let io = EngineError::io("write", &path);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(&io)?;
        std::fs::rename(&tmp, &path).map_err(&io)
    }

    /// After `network connect`/`disconnect` of a running container: /etc/resolv.conf names the
    /// embedded server exactly when a user-defined network is joined. Written in place (the
    /// file is bind-mounted: a rename would not reach the container), unless the user mounts
    /// their own.
    pub(crate) fn refresh_resolv_conf(&mut self, c: &Container) -> Result<(), EngineError> {
        if c.config.mounts.iter().any(|m| m.target.trim_end_matches('/') == "/etc/resolv.conf")
            || matches!(c.config.network, NetworkMode::Host)
        {
            return Ok(());
        }
        let embedded_dns = self.endpoints_of(c)?.iter().any(|e| e.network.name != "bridge");
        let file = self.bind_dir(c).join("resolv.conf");
        let content = resolv_file(c, true, embedded_dns);
        if std::fs::read_to_string(&file).ok().as_deref() == Some(content.as_str()) {
            return Ok(());
        }
        std::fs::write(&file, content).map_err(EngineError::io("write", &file))
    }

    /// /etc/hosts, /etc/resolv.conf and /etc/hostname for this start, as OCI bind mounts
    /// (those the user mounts over are left out).
    pub(crate) fn etc_files(
        &mut self,
        c: &Container,
        hostname: &str,
        endpoints: &[Endpoint],
    ) -> Result<Vec<oci_spec::runtime::Mount>, EngineError> {
        let dir = self.bind_dir(c);
        let own_netns = !matches!(c.config.network, NetworkMode::Host);
        let ips: Vec<Ipv4Addr> = endpoints.iter().map(|e| e.ip).collect();
        // `host-gateway`: the host as the container reaches it, its first network's gateway
        // (docker uses the default bridge's; a container on another network could not reach
        // that one).
        let wants_gateway = c.config.extra_hosts.iter().any(|h| h.ends_with("host-gateway"));
        // (An internal network has no default route, but its bridge is still the host's.)
        let gateway = match endpoints.iter().find_map(|e| e.network.config.gateway) {
            Some(g) => Some(g),
            None if wants_gateway => self.network("bridge")?.config.gateway,
            None => None,
        };
        let mut hosts = hosts_file(c, hostname, &ips, gateway)?;
        // Links on the default bridge, which has no DNS server: the linked container's address
        // there, as docker writes it (`IP ALIAS NAME`).
        if endpoints.iter().any(|e| e.network.name == "bridge") {
            for l in &c.config.links {
                let Some((name, alias)) = l.split_once(':') else { continue };
                let Ok(other) = self.container(name) else { continue };
                if let Some(e) = self.endpoints_of(&other)?.into_iter().find(|e| e.network.name == "bridge") {
                    hosts.push_str(&format!("{}\t{alias} {name}\n", e.ip));
                }
            }
        }
        if c.config.network != NetworkMode::Host {
            for ip6 in endpoints.iter().filter_map(|e| e.config.ip6) {
                hosts.push_str(&format!("{ip6}\t{hostname}\n"));
            }
        }
        let embedded_dns = endpoints.iter().any(|e| e.network.name != "bridge");
        let resolv = resolv_file(c, own_netns, embedded_dns);
        let mut out = Vec::new();
        for (name, content) in [("hostname", format!("{hostname}\n")), ("hosts", hosts), ("resolv.conf", resolv)] {
            let target = format!("/etc/{name}");
            if c.config.mounts.iter().any(|m| m.target.trim_end_matches('/') == target) {
                continue;
            }
            let file = dir.join(name);
            // 0644: every user of the container reads them (bind-mounted, as docker's).
            std::fs::write(&file, content)
                .and_then(|_| std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)))
                // The container's root edits them, as in docker, also from a user namespace.
                .and_then(|_| match &c.config.id_map {
                    Some(m) => std::os::unix::fs::chown(&file, Some(m.uid), Some(m.gid)),
                    None => Ok(()),
                })
                .map_err(EngineError::io("write", &file))?;
            out.push(crate::containers::spec::bind_mount(&target, &file, &["rbind", "rprivate"])?);
        }
        Ok(out)
    }
}

/// Beside a pinned namespace: another container joined it (`--network container:`).
fn shared_marker(netns: &Path) -> PathBuf {
    netns.with_extension("shared")
}

/// docker's /etc/hosts: loopback and IPv6 names, `--add-host` entries, the container's own
/// addresses under its hostname. With the host's network, the host's own file.
fn hosts_file(c: &Container, hostname: &str, ips: &[Ipv4Addr], host_gateway: Option<Ipv4Addr>) -> Result<String, EngineError> {
    if c.config.network == NetworkMode::Host {
        return Ok(std::fs::read_to_string("/etc/hosts").unwrap_or_default());
    }
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for h in &c.config.extra_hosts {
        let (name, ip) = h.split_once([':', '=']).ok_or_else(|| {
            EngineError::InvalidArgument(format!("invalid argument \"{h}\" for \"--add-host\" flag: bad format for add-host: \"{h}\""))
        })?;
        let ip = match (ip, host_gateway) {
            ("host-gateway", Some(g)) => g.to_string(),
            ("host-gateway", None) => return Err(EngineError::InvalidArgument("--add-host host-gateway: no gateway to the host".into())),
            (ip, _) => ip.to_string(),
        };
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    for ip in ips {
        s.push_str(&format!("{ip}\t{hostname}\n"));
    }
    Ok(s)
}

/// The host's resolv.conf, with `--dns*` applied. In a namespace of its own the host's
/// loopback resolvers cannot answer, so they are dropped and docker's fallbacks (8.8.8.8,
/// 8.8.4.4) used when nothing else is left (docker's FilterResolvDNS).
/// On user-defined networks the embedded server answers (127.0.0.11, `options ndots:0`, as
/// docker's); `--dns` replaces it there.
fn resolv_file(c: &Container, own_netns: bool, embedded_dns: bool) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let field = |key: &str| -> Vec<String> {
        host.lines().filter_map(|l| l.strip_prefix(key)).flat_map(|v| v.split_whitespace().map(String::from)).collect()
    };
    let embedded = embedded_dns && c.config.dns.is_empty();
    let mut servers: Vec<String> = if embedded {
        vec!["127.0.0.11".into()]
    } else if c.config.dns.is_empty() {
        field("nameserver ")
    } else {
        c.config.dns.clone()
    };
    if own_netns && !embedded {
        servers.retain(|s| !(s.starts_with("127.") || s == "::1"));
        if servers.is_empty() {
            servers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
        }
    }
    let search = if c.config.dns_search.is_empty() { field("search ") } else { c.config.dns_search.clone() };
    let mut options = if c.config.dns_options.is_empty() { field("options ") } else { c.config.dns_options.clone() };
    if embedded && !options.iter().any(|o| o.starts_with("ndots:")) {
        options.push("ndots:0".into());
    }
    // libnetwork's resolvconf.Build order: search, nameservers, options.
    let mut s = String::new();
    if !search.is_empty() && search != ["."] {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    for n in servers {
        s.push_str(&format!("nameserver {n}\n"));
    }
    if !options.is_empty() {
        s.push_str(&format!("options {}\n", options.join(" ")));
    }
    s
}

impl Engine {
    /// `system check`: what networking a crash left behind - endpoints (addresses held) and
    /// pinned namespaces of containers that are not running (a CLI killed during a start, a
    /// host that went down). With `repair` they are released. Returns what was found.
    pub fn check_networks(&mut self, repair: bool) -> Result<Vec<String>, EngineError> {
        crate::rootless::in_netns(|| self.check_networks_here(repair))
    }

    fn check_networks_here(&mut self, repair: bool) -> Result<Vec<String>, EngineError> {
        let containers = self.containers()?;
        let live: std::collections::HashMap<String, &Container> =
            containers.iter().filter(|c| c.state.status.is_live()).map(|c| (c.id.to_string(), c)).collect();
        let mut found = Vec::new();
        let mut stale: Vec<&Container> = Vec::new();
        for r in self.store.db.read(|tx| tx.endpoints())? {
            if !live.contains_key(&r.container_id) {
                found.push(format!(
                    "endpoint of stopped container {} on network {} holds {}",
                    &r.container_id[..12],
                    &r.network_id[..12],
                    r.ip
                ));
                if let Some(c) = containers.iter().find(|c| c.id.as_str() == r.container_id) {
                    stale.push(c);
                } else if repair {
                    self.store.db.write(|tx| tx.delete_endpoint(&r.network_id, &r.container_id))?;
                }
            }
        }
        let dir = self.config().run_root.join("netns");
        for f in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            let id = name.trim_end_matches(".shared");
            if !live.contains_key(id) && !name.ends_with(".shared") {
                found.push(format!("network namespace of stopped container {} pinned at {}", &id[..id.len().min(12)], f.path().display()));
                if repair {
                    netns::remove(&f.path())?;
                }
            }
        }
        if repair {
            for c in stale {
                self.teardown_network(c)?;
            }
        }
        Ok(found)
    }
}

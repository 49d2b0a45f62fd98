//! Networks, as docker's bridge driver has them: a row in `networks` (migration 4) and a Linux
//! bridge with the gateway address; containers attach through veth pairs while they run
//! (`attach.rs`), one `endpoints` row per attachment, which is the address's allocation.
//! `bridge` (the default), `host` and `none` are made on first use, as dockerd makes them.
//!
//! Rootless, links, namespaces and the firewall table are the user's network namespace's,
//! which a command's main thread is not in (`crate::rootless::in_netns`): each operation that
//! touches them is a wrapper that runs its `_here` body there.

pub mod attach;
pub mod connect;
pub mod ports;
mod rootless;

pub use connect::ConnectNetwork;
pub use ports::{host_addresses, publishes_on_ipv6};

use crate::docker::{ConfigReference, EndpointResource, Ipam, IpamConfig, NetworkResource};
use crate::{Engine, EngineError};
use doca_net::ipam::{self, Subnet};
use doca_net::link::Netlink;
use doca_net::nft::{self, BridgeRules, Firewall};
use doca_store::{LockMode, NetworkRow, StoreLock};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// None for the `host` and `null` drivers.
    #[serde(default)]
    pub subnet: Option<Subnet>,
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    #[serde(default)]
    pub ip_range: Option<Subnet>,
    /// `--ipv6 --subnet fd00:...::/64`: the IPv6 subnet (as written) and its gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<std::net::Ipv6Addr>,
    /// The Linux bridge's name.
    #[serde(default)]
    pub bridge: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub created: String,
    pub config: NetworkConfig,
}

/// `doca network create`.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    pub name: String,
    pub driver: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// `--ipv6`, with the IPv6 `--subnet` (required) and `--gateway`.
    pub ipv6: bool,
    pub subnet6: Option<String>,
    pub gateway6: Option<String>,
}

/// docker's option naming the bridge.
const BRIDGE_NAME_OPT: &str = "com.docker.network.bridge.name";
/// Bridges and firewall tables change under this host-wide lock (`lock_networks`).
pub const NETWORKS_LOCK: &str = "/run/doca-networks.lock";

fn invalid(m: String) -> EngineError {
    EngineError::InvalidArgument(m)
}

impl Network {
    fn from_row(r: NetworkRow) -> Network {
        Network {
            config: serde_json::from_str(&r.config).unwrap_or_default(),
            id: r.id,
            name: r.name,
            driver: r.driver,
            created: r.created,
        }
    }

    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }

    /// As docker shows it; `containers` are the running endpoints.
    pub fn resource(&self, containers: BTreeMap<String, EndpointResource>) -> NetworkResource {
        let v4 = self.config.subnet.iter().map(|s| IpamConfig {
            subnet: s.to_string(),
            ip_range: self.config.ip_range.map(|r| r.to_string()).unwrap_or_default(),
            gateway: self.config.gateway.map(|g| g.to_string()).unwrap_or_default(),
        });
        let v6 = self.config.subnet6.iter().map(|s6| IpamConfig {
            subnet: s6.clone(),
            gateway: self.config.gateway6.map(|g| g.to_string()).unwrap_or_default(),
            ..IpamConfig::default()
        });
        NetworkResource {
            name: self.name.clone(),
            id: self.id.clone(),
            created: self.created.clone(),
            scope: "local".into(),
            driver: self.driver.clone(),
            enable_ipv6: self.config.subnet6.is_some(),
            ipam: Ipam { driver: "default".into(), options: BTreeMap::new(), config: v4.chain(v6).collect() },
            internal: self.config.internal,
            attachable: false,
            ingress: false,
            config_from: ConfigReference::default(),
            config_only: false,
            containers,
            options: self.config.options.clone(),
            labels: self.config.labels.clone(),
        }
    }
}

/// `network ls --filter`: driver, id (prefix), name (substring), label, type (builtin|custom),
/// dangling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkFilter {
    Driver(String),
    Id(String),
    Name(String),
    Label(String, Option<String>),
    Type(bool),
    Dangling(bool),
}

impl NetworkFilter {
    pub fn parse(s: &str) -> Result<NetworkFilter, EngineError> {
        let (k, v) = s.split_once('=').ok_or_else(|| invalid(format!("bad format of filter (expected name=value): {s}")))?;
        Ok(match k {
            "driver" => NetworkFilter::Driver(v.into()),
            "id" => NetworkFilter::Id(v.into()),
            "name" => NetworkFilter::Name(v.into()),
            "label" => match v.split_once('=') {
                Some((a, b)) => NetworkFilter::Label(a.into(), Some(b.into())),
                None => NetworkFilter::Label(v.into(), None),
            },
            "type" => match v {
                "builtin" => NetworkFilter::Type(true),
                "custom" => NetworkFilter::Type(false),
                _ => return Err(invalid(format!("invalid filter: 'type'='{v}'"))),
            },
            "dangling" => match v {
                "true" | "1" => NetworkFilter::Dangling(true),
                "false" | "0" => NetworkFilter::Dangling(false),
                _ => return Err(invalid(format!("invalid filter 'dangling={v}'"))),
            },
            _ => return Err(EngineError::InvalidFilter(k.to_string())),
        })
    }
}

pub fn is_builtin(name: &str) -> bool {
    matches!(name, "bridge" | "host" | "none")
}

impl Engine {
    /// A tag that keeps this store's kernel objects apart from another store's on the same host:
    /// none for the default root; a short hash of the root for others (tests, side-by-side
    /// installs), used in the default bridge's name and the firewall table's.
    fn net_instance(&self) -> Option<String> {
        let root = &self.config().root;
        (root != std::path::Path::new("/var/lib/doca"))
            .then(|| doca_store::Digest::of(root.as_os_str().as_encoded_bytes()).hex()[..6].to_string())
    }

    fn firewall_table(&self) -> String {
        match self.net_instance() {
            None => nft::TABLE.to_string(),
            Some(t) => format!("{}-{t}", nft::TABLE),
        }
    }

    /// Serializes changes to bridges and firewall tables among all doca processes of the host,
    /// whatever their store: a subnet is chosen from the host's routes, so two stores picking
    /// at once would otherwise take the same one before either bridge exists.
    /// The lock lives in /run, which only root can write: in /run/lock (mode 1777) any local
    /// user could make the file first and hold it, hanging every doca network change.
    fn lock_networks(&self) -> Result<StoreLock, EngineError> {
        // Rootless, the host is the user's network namespace, and the lock the user's own.
        let rootless_lock = self.config().run_root.join("networks.lock");
        let path = if crate::rootless::is_rootless() { rootless_lock.as_path() } else { std::path::Path::new(NETWORKS_LOCK) };
        StoreLock::acquire(path, LockMode::Exclusive).map_err(|e| EngineError::Internal(format!("lock networks: {e}")))
    }

    pub fn networks(&mut self) -> Result<Vec<Network>, EngineError> {
        self.ensure_builtin_networks()?;
        Ok(self.store.db.read(|tx| tx.networks())?.into_iter().map(Network::from_row).collect())
    }

    /// By exact name, exact id, or unique id prefix (docker's lookup order).
    pub fn network(&mut self, key: &str) -> Result<Network, EngineError> {
        find_network(self.networks()?, key)
    }

    /// Whether `key` names a network, without making the built-in ones (a refused create
    /// must leave the store as it was): create checks `--network` with it.
    pub(crate) fn check_network_exists(&mut self, key: &str) -> Result<(), EngineError> {
        if is_builtin(key) {
            return Ok(());
        }
        let rows = self.store.db.read(|tx| tx.networks())?;
        find_network(rows.into_iter().map(Network::from_row).collect(), key).map(drop)
    }

    /// `bridge`, `host` and `none`, made once per store.
    fn ensure_builtin_networks(&mut self) -> Result<(), EngineError> {
        let have: Vec<String> = self.store.db.read(|tx| tx.networks())?.into_iter().map(|n| n.name).collect();
        if ["bridge", "host", "none"].iter().all(|b| have.iter().any(|h| h == b)) {
            return Ok(());
        }
        crate::rootless::in_netns(|| self.make_builtin_networks(&have))
    }

    fn make_builtin_networks(&mut self, have: &[String]) -> Result<(), EngineError> {
        for (name, driver) in [("host", "host"), ("none", "null")] {
            if !have.iter().any(|h| h == name) {
                self.insert_network(name, driver, NetworkConfig::default())?;
            }
        }
        if !have.iter().any(|h| h == "bridge") {
            let bridge = match self.net_instance() {
                None => "doca0".to_string(),
                Some(t) => format!("doca-{t}"),
            };
            let mut options = BTreeMap::new();
            options.insert(BRIDGE_NAME_OPT.to_string(), bridge.clone());
            let _lock = self.lock_networks()?;
            let subnet = self.free_subnet(None)?;
            let config = NetworkConfig { gateway: subnet.first_host(), subnet: Some(subnet), bridge, options, ..Default::default() };
            // The bridge at once, while the lock is held: its route is what keeps the next
            // store's choice off this subnet (dockerd makes docker0 at its start the same way).
            if let Some(net) = self.insert_network("bridge", "bridge", config)? {
                self.ensure_bridge(&net)?;
                self.sync_firewall()?;
            }
        }
        Ok(())
    }

    fn insert_network(&mut self, name: &str, driver: &str, config: NetworkConfig) -> Result<Option<Network>, EngineError> {
        let row = NetworkRow {
            id: crate::containers::ContainerId::random()?.to_string(),
            name: name.to_string(),
            driver: driver.to_string(),
            created: doca_image::config::rfc3339_nano(crate::now()),
            config: serde_json::to_string(&config).expect("json"),
        };
        if !self.store.db.write(|tx| tx.insert_network(&row))? {
            return Ok(None);
        }
        Ok(Some(Network::from_row(row)))
    }

    /// The given subnet checked, or the first of docker's pools that overlaps no other network
    /// and no route of the host.
    fn free_subnet(&mut self, wanted: Option<Subnet>) -> Result<Subnet, EngineError> {
        let nets: Vec<(String, Subnet)> = self
            .store
            .db
            .read(|tx| tx.networks())?
            .into_iter()
            .map(Network::from_row)
            .filter_map(|n| n.config.subnet.map(|s| (n.name, s)))
            .collect();
        if let Some(w) = wanted {
            if let Some((name, s)) = nets.iter().find(|(_, s)| s.overlaps(&w)) {
                return Err(invalid(format!(
                    "invalid pool request: Pool overlaps with other one on this address space ({w} overlaps {s} of network {name})"
                )));
            }
            return Ok(w);
        }
        let mut taken: Vec<Subnet> = nets.into_iter().map(|(_, s)| s).collect();
        taken.extend(ipam::host_routes());
        ipam::pick_subnet(&ipam::default_pools(), &taken).ok_or_else(|| {
            invalid("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into())
        })
    }

    /// `doca network create`: the record and its bridge.
    #[tracing::instrument(level = "debug", skip_all, fields(network = %req.name), err(level = "debug"))]
    pub fn create_network(&mut self, req: &CreateNetwork) -> Result<Network, EngineError> {
        crate::rootless::in_netns(|| self.create_network_here(req))
    }

    fn create_network_here(&mut self, req: &CreateNetwork) -> Result<Network, EngineError> {
        let driver = req.driver.clone().unwrap_or_else(|| "bridge".into());
        if driver != "bridge" {
            return Err(invalid(format!("plugin \"{driver}\" not found")));
        }
        if !crate::containers::record::is_docker_name(&req.name) {
            return Err(invalid(format!("invalid network name \"{}\": must match [a-zA-Z0-9][a-zA-Z0-9_.-]", req.name)));
        }
        self.ensure_builtin_networks()?;
        if self.store.db.read(|tx| tx.networks())?.iter().any(|n| n.name == req.name) {
            return Err(EngineError::Conflict(format!("network with name {} already exists", req.name)));
        }
        let parse = |s: &Option<String>| s.as_deref().map(str::parse::<Subnet>).transpose();
        let wanted = parse(&req.subnet)?;
        let ip_range = parse(&req.ip_range)?;
        let gateway = match &req.gateway {
            Some(g) => Some(g.parse::<Ipv4Addr>().map_err(|_| invalid(format!("invalid gateway address: {g}")))?),
            None => None,
        };
        if wanted.is_none() && (gateway.is_some() || ip_range.is_some()) {
            return Err(invalid("--gateway and --ip-range need --subnet".into()));
        }
        let subnet6 = match (&req.subnet6, req.ipv6) {
            (Some(s), true) => Some(doca_net::ipam::Subnet6::parse(s)?),
            (Some(s), false) => return Err(invalid(format!("subnet {s} is IPv6: add --ipv6"))),
            (None, true) => return Err(invalid("--ipv6 needs an IPv6 --subnet (doca has no default IPv6 pool)".into())),
            (None, false) => None,
        };
        let gateway6 = match (&req.gateway6, &subnet6) {
            (Some(g), Some(s6)) => {
                let g: std::net::Ipv6Addr = g.parse().map_err(|_| invalid(format!("invalid gateway address: {g}")))?;
                if !s6.contains(g) {
                    return Err(invalid(format!("invalid gateway {g}: not in subnet {s6}")));
                }
                Some(g)
            }
            (Some(g), None) => return Err(invalid(format!("gateway {g} is IPv6: add --ipv6 and an IPv6 --subnet"))),
            (None, Some(s6)) => s6.nth(1),
            (None, None) => None,
        };
        let _lock = self.lock_networks()?;
        if let Some(s6) = &subnet6 {
            for n in self.store.db.read(|tx| tx.networks())?.into_iter().map(Network::from_row) {
                if n.config.subnet6.as_deref().and_then(|o| doca_net::ipam::Subnet6::parse(o).ok()).is_some_and(|o| o.overlaps(s6)) {
                    return Err(EngineError::Conflict(format!(
                        "Pool overlaps with other one on this address space: {s6} (network {})",
                        n.name
                    )));
                }
            }
        }
        let subnet = self.free_subnet(wanted)?;
        if let Some(g) = gateway.filter(|g| !subnet.contains(*g)) {
            return Err(invalid(format!("invalid gateway {g}: not in subnet {subnet}")));
        }
        if let Some(r) = ip_range.filter(|r| !subnet.contains(r.addr()) || r.prefix() < subnet.prefix()) {
            return Err(invalid(format!("invalid ip range {r}: not in subnet {subnet}")));
        }
        let gateway = gateway.or(subnet.first_host()).ok_or_else(|| invalid(format!("subnet {subnet} has no room for a gateway")))?;
        // The options as given (docker shows a user network's bridge name only when it was
        // asked for; compose compares them to decide whether to recreate a network).
        let options = req.options.clone();
        let id = crate::containers::ContainerId::random()?.to_string();
        let bridge = options.get(BRIDGE_NAME_OPT).cloned().unwrap_or_else(|| format!("br-{}", &id[..12]));
        if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ', ':']) {
            return Err(invalid(format!("invalid bridge name {bridge:?}: at most 15 characters, no '/', ':' or spaces")));
        }
        if self.store.db.read(|tx| tx.networks())?.into_iter().map(Network::from_row).any(|n| n.config.bridge == bridge) {
            return Err(EngineError::Conflict(format!("bridge name {bridge} is used by another network")));
        }
        // An interface doca did not make is never adopted: `network rm` deletes the bridge.
        if Netlink::open()?.index(&bridge)?.is_some() {
            return Err(EngineError::Conflict(format!("bridge name {bridge}: an interface of that name exists on the host already")));
        }
        let config = NetworkConfig {
            subnet: Some(subnet),
            gateway: Some(gateway),
            ip_range,
            subnet6: subnet6.map(|s| s.to_string()),
            gateway6,
            bridge,
            internal: req.internal,
            labels: req.labels.clone(),
            options,
        };
        let row = NetworkRow {
            id,
            name: req.name.clone(),
            driver,
            created: doca_image::config::rfc3339_nano(crate::now()),
            config: serde_json::to_string(&config).expect("json"),
        };
        if !self.store.db.write(|tx| tx.insert_network(&row))? {
            return Err(EngineError::Conflict(format!("network with name {} already exists", req.name)));
        }
        let net = Network::from_row(row);
        if let Err(e) = self.ensure_bridge(&net).and_then(|_| self.sync_firewall()) {
            let _ = self.store.db.write(|tx| tx.delete_network(&net.id));
            let _ = self.delete_bridge(&net);
            let _ = self.sync_firewall();
            return Err(e);
        }
        self.emit("network", "create", &net.id, &[("name", &net.name), ("type", "bridge")]);
        Ok(net)
    }

    /// The network's bridge, up, with the gateway address; made if missing (a new network, or
    /// after a reboot). Returns whether it had to be made. Called under the networks lock.
    fn ensure_bridge(&self, net: &Network) -> Result<bool, EngineError> {
        let (Some(subnet), Some(gateway)) = (net.config.subnet, net.config.gateway) else { return Ok(false) };
        let mut nl = Netlink::open()?;
        let made = match nl.index(&net.config.bridge)? {
            Some(_) => false,
            None => {
                nl.create_bridge(&net.config.bridge).or_else(exists_ok)?;
                true
            }
        };
        let index = nl.index(&net.config.bridge)?.ok_or_else(|| EngineError::Internal(format!("bridge {} vanished", net.config.bridge)))?;
        if made {
            nl.add_address(index, gateway, subnet.prefix()).or_else(exists_ok)?;
            if let (Some(s6), Some(g6)) =
                (net.config.subnet6.as_deref().and_then(|s| doca_net::ipam::Subnet6::parse(s).ok()), net.config.gateway6)
            {
                // The bridge's own switch (an interface doca made), whatever the host's default.
                let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", net.config.bridge), "0");
                nl.add_address6(index, g6, s6.prefix()).or_else(exists_ok)?;
            }
            // Published ports reached at 127.0.0.1 from the host are routed out this bridge
            // (ip-sysctl.rst: route_localnet).
            let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{}/route_localnet", net.config.bridge), "1");
            if !net.config.internal {
                enable_forwarding()?;
            }
        }
        nl.set_up(index, None)?;
        Ok(made)
    }

    fn delete_bridge(&self, net: &Network) -> Result<(), EngineError> {
        if net.config.bridge.is_empty() {
            return Ok(());
        }
        let mut nl = Netlink::open()?;
        if let Some(i) = nl.index(&net.config.bridge)? {
            nl.delete_link(i)?;
        }
        Ok(())
    }

    /// Rebuilds this store's firewall table from the records: every bridge network, every
    /// published port of a running container. Called under the networks lock.
    pub(crate) fn sync_firewall(&mut self) -> Result<(), EngineError> {
        crate::rootless::in_netns(|| self.sync_firewall_here())
    }

    fn sync_firewall_here(&mut self) -> Result<(), EngineError> {
        let nets: Vec<BridgeRules> = self
            .store
            .db
            .read(|tx| tx.networks())?
            .into_iter()
            .map(Network::from_row)
            .filter(|n| n.is_bridge())
            .filter_map(|n| {
                n.config.subnet.map(|subnet| BridgeRules { bridge: n.config.bridge.clone(), subnet, internal: n.config.internal })
            })
            .collect();
        let mut ports = self.published_port_rules()?;
        if crate::rootless::is_rootless() {
            ports = rootless::namespace_rules(&ports);
        }
        let script = nft::ruleset(&nets, &ports).replace(&format!("inet {}", nft::TABLE), &format!("inet {}", self.firewall_table()));
        nft::Nft.apply(&script)?;
        Ok(())
    }

    /// `doca network rm`: refused while a container is attached (docker's message).
    #[tracing::instrument(level = "debug", skip_all, fields(network = key), err(level = "debug"))]
    pub fn remove_network(&mut self, key: &str) -> Result<Network, EngineError> {
        crate::rootless::in_netns(|| self.remove_network_here(key))
    }

    fn remove_network_here(&mut self, key: &str) -> Result<Network, EngineError> {
        let net = self.network(key)?;
        if is_builtin(&net.name) {
            return Err(EngineError::Conflict(format!("{} is a pre-defined network and cannot be removed", net.name)));
        }
        let _lock = self.lock_networks()?;
        let users: Vec<String> =
            self.store.db.read(|tx| tx.endpoints())?.into_iter().filter(|e| e.network_id == net.id).map(|e| e.container_id).collect();
        if !users.is_empty() {
            return Err(EngineError::Conflict(format!(
                "error while removing network: network {} id {} has active endpoints",
                net.name, net.id
            )));
        }
        // Stopped containers do not hold it (docker's rule): starting one later says the
        // network is not found.
        self.store.db.write(|tx| tx.delete_network(&net.id))?;
        let _ = std::fs::remove_dir_all(self.config().run_root.join("networks").join(&net.id));
        self.delete_bridge(&net)?;
        self.sync_firewall()?;
        self.emit("network", "destroy", &net.id, &[("name", &net.name), ("type", "bridge")]);
        Ok(net)
    }

    /// `doca network prune`: user-defined networks no container uses.
    pub fn prune_networks(&mut self, filters: &crate::prune::PruneFilters) -> Result<Vec<String>, EngineError> {
        let mut removed = Vec::new();
        for n in self.networks()? {
            if is_builtin(&n.name) || !filters.allows(&n.created, &n.config.labels) {
                continue;
            }
            match self.remove_network(&n.id) {
                Ok(n) => removed.push(n.name),
                Err(EngineError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// `doca network inspect`: Docker's JSON with the running containers' endpoints.
    pub fn inspect_network(&mut self, key: &str) -> Result<NetworkResource, EngineError> {
        let net = self.network(key)?;
        let rows = self.store.db.read(|tx| tx.endpoints())?;
        let mut containers = BTreeMap::new();
        for r in rows.into_iter().filter(|r| r.network_id == net.id) {
            let cfg: attach::EndpointConfig = serde_json::from_str(&r.config).unwrap_or_default();
            let name = self.store.db.read(|tx| tx.container(&r.container_id))?.map(|c| c.name).unwrap_or_default();
            containers.insert(
                r.container_id.clone(),
                EndpointResource {
                    name,
                    endpoint_id: crate::containers::inspect::endpoint_id(&r.network_id, &r.container_id),
                    mac_address: cfg.mac,
                    ipv4_address: format!("{}/{}", r.ip, cfg.prefix),
                    ipv6_address: cfg.ip6.map(|a| format!("{a}/{}", cfg.prefix6.unwrap_or(64))).unwrap_or_default(),
                },
            );
        }
        Ok(net.resource(containers))
    }

    pub fn list_networks(&mut self, filters: &[NetworkFilter]) -> Result<Vec<Network>, EngineError> {
        let all = self.networks()?;
        let used: std::collections::HashSet<String> = self.containers()?.into_iter().flat_map(|c| c.config.network.networks()).collect();
        Ok(all
            .into_iter()
            .filter(|n| {
                filters.iter().all(|f| match f {
                    NetworkFilter::Driver(d) => n.driver == *d,
                    NetworkFilter::Id(i) => n.id.starts_with(i.as_str()),
                    NetworkFilter::Name(x) => n.name.contains(x.as_str()),
                    NetworkFilter::Label(k, v) => n.config.labels.get(k).is_some_and(|x| v.as_ref().is_none_or(|w| w == x)),
                    NetworkFilter::Type(builtin) => is_builtin(&n.name) == *builtin,
                    NetworkFilter::Dangling(d) => (!is_builtin(&n.name) && !used.contains(&n.name) && !used.contains(&n.id)) == *d,
                })
            })
            .collect())
    }
}

fn find_network(all: Vec<Network>, key: &str) -> Result<Network, EngineError> {
    if let Some(n) = all.iter().find(|n| n.name == key || n.id == key) {
        return Ok(n.clone());
    }
    let mut by_prefix = all.into_iter().filter(|n| n.id.starts_with(key));
    match (by_prefix.next(), by_prefix.next()) {
        (Some(n), None) => Ok(n),
        (Some(_), Some(_)) => Err(invalid(format!("network {key} is ambiguous"))),
        _ => Err(EngineError::NoSuchNetwork(key.to_string())),
    }
}

fn exists_ok(e: doca_net::NetError) -> Result<(), doca_net::NetError> {
    match e {
        doca_net::NetError::Errno(nix::errno::Errno::EEXIST) => Ok(()),
        e => Err(e),
    }
}

/// Containers reach the world through the host, which must forward (docker and podman turn
/// it on the same way); doca changes it only when it is off.
fn enable_forwarding() -> Result<(), EngineError> {
    let p = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(p).map(|v| v.trim() == "1").unwrap_or(false) {
        return Ok(());
    }
    std::fs::write(p, "1").map_err(|e| EngineError::Internal(format!("enable IPv4 forwarding ({p}): {e}")))
}

//! `doca network connect` and `disconnect`: a container's networks change in its record and,
//! while it runs, in its namespace at once (a veth more or less, its name in the network's
//! records).

use super::attach::{attachments, Attachment};
use crate::containers::spec::NetworkMode;
use crate::{Engine, EngineError};
use std::net::Ipv4Addr;

/// `network connect [--ip] [--alias] NETWORK CONTAINER`.
#[derive(Debug, Clone, Default)]
pub struct ConnectNetwork {
    pub network: String,
    pub container: String,
    pub ip: Option<Ipv4Addr>,
    pub aliases: Vec<String>,
}

impl Engine {
    pub fn connect_network(&mut self, req: &ConnectNetwork) -> Result<(), EngineError> {
        crate::rootless::in_netns(|| self.connect_network_here(req))
    }

    fn connect_network_here(&mut self, req: &ConnectNetwork) -> Result<(), EngineError> {
        let net = self.network(&req.network)?;
        let mut c = self.container(&req.container)?;
        if !net.is_bridge() || !matches!(c.config.network, NetworkMode::Bridge(_)) {
            return Err(EngineError::InvalidArgument(format!(
                "container sharing network namespace with another container or host cannot be connected to any other network ({} uses {}, {} is {})",
                c.name,
                c.config.network.name(),
                net.name,
                net.driver
            )));
        }
        if attachments(&c).iter().any(|a| a.network == net.name || a.network == net.id) {
            return Err(EngineError::Conflict(format!("endpoint with name {} already exists in network {}", c.name, net.name)));
        }
        let att = Attachment { network: net.name.clone(), ip: req.ip, aliases: req.aliases.clone() };
        if c.state.status.is_live() {
            let mut sandbox = super::attach::Sandbox::open(&self.netns_path(&c))?;
            // The first free ethN (a network left earlier frees its name).
            let mut n = 0;
            while sandbox.inside.index(&format!("eth{n}"))?.is_some() {
                n += 1;
            }
            let ifname = format!("eth{n}");
            if let Err(e) = self.attach(&c, &net, &att, &ifname, &mut sandbox, false) {
                self.detach_one(&c, &net)?;
                return Err(e);
            }
            self.write_dns_list(&c)?;
            self.refresh_resolv_conf(&c)?;
        }
        c.config.connected.push(att);
        self.save_config(&c)?;
        self.emit("network", "connect", &net.id, &[("container", c.id.as_str()), ("name", &net.name), ("type", "bridge")]);
        Ok(())
    }

    /// `network disconnect [-f] NETWORK CONTAINER`, from a network joined with `connect` or
    /// from the one of `--network`.
    pub fn disconnect_network(&mut self, network: &str, container: &str, force: bool) -> Result<(), EngineError> {
        crate::rootless::in_netns(|| self.disconnect_network_here(network, container, force))
    }

    fn disconnect_network_here(&mut self, network: &str, container: &str, force: bool) -> Result<(), EngineError> {
        let net = match self.network(network) {
            Ok(n) => n,
            Err(EngineError::NoSuchNetwork(_)) if force => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut c = self.container(container)?;
        let before = c.config.connected.len();
        c.config.connected.retain(|a| a.network != net.name && a.network != net.id);
        if c.config.connected.len() == before {
            let primary = !c.config.left_primary && c.config.network.networks().iter().any(|n| *n == net.name || *n == net.id);
            if !primary {
                return Err(EngineError::InvalidArgument(format!("container {} is not connected to network {}", c.name, net.name)));
            }
            c.config.left_primary = true;
        }
        if c.state.status.is_live() {
            self.detach_one(&c, &net)?;
            self.write_dns_list(&c)?;
            self.refresh_resolv_conf(&c)?;
        }
        self.save_config(&c)?;
        self.emit("network", "disconnect", &net.id, &[("container", c.id.as_str()), ("name", &net.name), ("type", "bridge")]);
        Ok(())
    }
}

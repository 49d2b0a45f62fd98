//! The rules dockerd applies to a create request, between its fields (daemon/create.go,
//! verifyContainerSettings and the network checks of daemon/container_operations.go), with
//! docker's words. They live in the engine so that every front end gets them: a request the
//! CLI builds and one an API handler builds are refused alike. What is left to a front end is
//! its own syntax (a flag's value that does not parse).

use super::record::{CreateContainer, RestartPolicy};
use super::spec::NetworkMode;
use crate::EngineError;

fn invalid(m: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(m.into())
}

/// Checks `req` without touching the store or the host: front ends may call it before work
/// such as a pull, as dockerd refuses a bad request before it looks for the image.
pub fn check_create(req: &CreateContainer) -> Result<(), EngineError> {
    if req.auto_remove && req.restart != RestartPolicy::No {
        return Err(invalid("Conflicting options: --restart and --rm"));
    }
    let net = &req.network;
    let bridge = matches!(net, NetworkMode::Bridge(_));
    if (!req.publish.is_empty() || req.publish_all) && !bridge {
        return Err(invalid(format!("conflicting options: port publishing and the {} network mode", net.name())));
    }
    if (req.ip.is_some() || !req.network_aliases.is_empty()) && !matches!(net, NetworkMode::Bridge(n) if n != "bridge") {
        return Err(invalid("user specified IP address and network aliases are supported only on user defined networks"));
    }
    if matches!(net, NetworkMode::Host | NetworkMode::Container(_)) && (!req.dns.is_empty() || !req.extra_hosts.is_empty()) {
        return Err(invalid(format!("conflicting options: custom DNS and --add-host cannot be used with --network {}", net.name())));
    }
    if let Some(m) = &req.mac_address {
        doca_net::ipam::parse_mac(m).map_err(|e| invalid(e.to_string()))?;
        if !bridge {
            return Err(invalid(format!("conflicting options: mac-address and the network mode {}", net.name())));
        }
    }
    for h in &req.extra_hosts {
        match h.split_once([':', '=']) {
            Some((name, addr)) if !name.is_empty() && addr.parse::<std::net::IpAddr>().is_ok() => {}
            Some((name, "host-gateway")) if !name.is_empty() => {}
            _ => return Err(invalid(format!("invalid argument \"{h}\" for \"--add-host\" flag: invalid IP address in add-host: \"{h}\""))),
        }
    }
    if let Some(d) = req.log_driver.as_deref().filter(|d| !d.is_empty() && *d != "json-file") {
        return Err(invalid(format!("logging driver {d}: doca writes json-file logs only")));
    }
    if req.log_max_files == Some(0) {
        return Err(invalid("max-file cannot be less than 1"));
    }
    if !(-1000..=1000).contains(&req.oom_score_adj) {
        return Err(invalid(format!("Invalid value {}, range for oom score adj is [-1000, 1000]", req.oom_score_adj)));
    }
    let mut targets: Vec<&str> = req.mounts.iter().map(|m| m.target.trim_end_matches('/')).collect();
    targets.sort();
    if let Some(w) = targets.windows(2).find(|w| w[0] == w[1]) {
        return Err(invalid(format!("Duplicate mount point: {}", w[0])));
    }
    if let Some(s) = &req.stop_signal {
        super::stop::parse_signal(s)?;
    }
    super::sysctl::check(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(req: CreateContainer, why: &str) {
        let e = check_create(&req).unwrap_err().to_string();
        assert!(e.contains(why), "{e}");
    }

    /// A request an API handler would build, field by field: refused as the CLI's would be.
    #[test]
    fn requests_built_in_code_meet_dockers_rules() {
        let base = || CreateContainer { image: "busybox".into(), network: NetworkMode::Bridge("bridge".into()), ..Default::default() };
        assert!(check_create(&base()).is_ok());
        refused(CreateContainer { auto_remove: true, restart: RestartPolicy::Always, ..base() }, "--restart and --rm");
        let publish = doca_net::ports::parse_publish("8080:80").unwrap();
        refused(CreateContainer { publish, network: NetworkMode::Host, ..base() }, "port publishing and the host network mode");
        refused(CreateContainer { ip: Some("10.0.0.2".parse().unwrap()), ..base() }, "only on user defined networks");
        refused(CreateContainer { dns: vec!["1.1.1.1".into()], network: NetworkMode::Host, ..base() }, "custom DNS");
        refused(CreateContainer { mac_address: Some("zz".into()), ..base() }, "mac");
        refused(CreateContainer { extra_hosts: vec!["nohost".into()], ..base() }, "invalid IP address in add-host");
        refused(CreateContainer { log_driver: Some("syslog".into()), ..base() }, "json-file logs only");
        refused(CreateContainer { log_max_files: Some(0), ..base() }, "max-file");
        refused(CreateContainer { oom_score_adj: 1001, ..base() }, "range for oom score adj");
        refused(CreateContainer { stop_signal: Some("SIGNOPE".into()), ..base() }, "SIGNOPE");
        let m = super::super::mounts::parse_volume_flag("/a:/x").unwrap();
        refused(CreateContainer { mounts: vec![m.clone(), m], ..base() }, "Duplicate mount point: /x");
    }
}

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
    // What docker's CLI refuses before it sends anything (exit 125 from `create` too).
    if req.auto_remove && req.restart != RestartPolicy::No {
        return Err(EngineError::Usage("Conflicting options: --restart and --rm".into()));
    }
    let net = &req.network;
    // dockerd's (daemon/daemon_unix.go verifyPlatformContainerSettings with user namespaces):
    // what needs the host's namespaces cannot have one of its own.
    match req.userns.as_str() {
        "" | "host" => {}
        "auto" => {
            let conflict = if req.privileged {
                Some("privileged mode is incompatible with user namespaces")
            } else if req.pid_host {
                Some("--pid=host is incompatible with user namespaces")
            } else if *net == NetworkMode::Host {
                Some("--network=host is incompatible with user namespaces")
            } else if req.ipc_host {
                Some("--ipc=host is incompatible with user namespaces")
            } else if req.uts_host {
                Some("--uts=host is incompatible with user namespaces")
            } else {
                None
            };
            if let Some(c) = conflict {
                return Err(invalid(format!("{c}: run the container with --userns=host")));
            }
        }
        // Podman's rule: only an ordinary user has an id of their own to keep.
        super::keepid::MODE if !crate::rootless::is_rootless() => {
            return Err(invalid("--userns=keep-id is only supported in rootless mode: as root, use --userns=auto"))
        }
        super::keepid::MODE => {}
        other => return Err(invalid(format!("invalid user namespace mode {other:?}: auto, host or keep-id"))),
    }
    let user_network = matches!(net, NetworkMode::Bridge(n) if n != "bridge");
    if !req.network_aliases.is_empty() && !user_network {
        return Err(EngineError::Usage("network-scoped aliases are only supported for user-defined networks".into()));
    }
    // dockerd's (runconfig/hostconfig_unix.go validateNetContainerMode): what a container
    // sharing another's network cannot set; a host-network container has no MAC of its own.
    // Published ports with the host's network are discarded (the front end warns), with none
    // they are kept and unused, as docker keeps them.
    if let NetworkMode::Container(_) = net {
        let conflict = if req.hostname.as_deref().is_some_and(|h| !h.is_empty()) {
            Some("hostname and the network mode")
        } else if !req.dns.is_empty() {
            Some("dns and the network mode")
        } else if !req.extra_hosts.is_empty() {
            Some("custom host-to-IP mapping and the network mode")
        } else if !req.publish.is_empty() || req.publish_all {
            Some("port publishing and the container type network mode")
        } else if !req.expose.is_empty() {
            Some("port exposing and the container type network mode")
        } else {
            None
        };
        if let Some(c) = conflict {
            return Err(invalid(format!("conflicting options: {c}")));
        }
    }
    if req.ip.is_some() && matches!(net, NetworkMode::Bridge(n) if n == "bridge") {
        return Err(invalid("user specified IP address is supported on user defined networks only"));
    }
    if let Some(m) = &req.mac_address {
        doca_net::ipam::parse_mac(m).map_err(|e| invalid(e.to_string()))?;
        if matches!(net, NetworkMode::Host | NetworkMode::Container(_)) {
            return Err(invalid("conflicting options: mac-address and the network mode"));
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
        // As dockerd 20.10 answered each, side by side: only a container sharing another's
        // network conflicts; with the host's, published ports are discarded, DNS kept.
        let publish = doca_net::ports::parse_publish("8080:80").unwrap();
        let shared = || NetworkMode::Container("other".into());
        refused(
            CreateContainer { publish: publish.clone(), network: shared(), ..base() },
            "port publishing and the container type network mode",
        );
        assert!(check_create(&CreateContainer { publish, network: NetworkMode::Host, ..base() }).is_ok());
        assert!(check_create(&CreateContainer { dns: vec!["1.1.1.1".into()], network: NetworkMode::Host, ..base() }).is_ok());
        refused(
            CreateContainer { dns: vec!["1.1.1.1".into()], network: shared(), ..base() },
            "conflicting options: dns and the network mode",
        );
        refused(CreateContainer { extra_hosts: vec!["a:1.2.3.4".into()], network: shared(), ..base() }, "custom host-to-IP mapping");
        refused(CreateContainer { hostname: Some("h".into()), network: shared(), ..base() }, "hostname and the network mode");
        refused(CreateContainer { ip: Some("10.0.0.2".parse().unwrap()), ..base() }, "user defined networks only");
        assert!(check_create(&CreateContainer { ip: Some("10.0.0.2".parse().unwrap()), network: NetworkMode::None, ..base() }).is_ok());
        refused(CreateContainer { network_aliases: vec!["x".into()], network: NetworkMode::Host, ..base() }, "network-scoped aliases");
        refused(
            CreateContainer { mac_address: Some("02:42:ac:11:00:02".into()), network: NetworkMode::Host, ..base() },
            "mac-address and the network mode",
        );
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

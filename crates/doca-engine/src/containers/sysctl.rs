//! `--sysctl`: docker's rules. Only sysctls a container has a namespace of its own for are
//! accepted (docker's CLI whitelist, opts.ValidateSysctl: the IPC namespace's, `fs.mqueue.*`,
//! `net.*`), and not when that namespace is the host's (`--ipc host`, `--network host`): any
//! other key under /proc/sys is the host kernel's. The runtime enforces the same again
//! (doca-runtime `sysctl.rs`, as runc does).

use super::record::CreateContainer;
use super::spec::NetworkMode;
use crate::EngineError;

/// The IPC namespace's sysctls besides `fs.mqueue.*` (ipc_namespaces(7)).
const IPC: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

fn is_ipc(key: &str) -> bool {
    IPC.contains(&key) || key.starts_with("fs.mqueue.")
}

/// `KEY=VALUE` as `--sysctl` takes it, with docker's message for the rest.
pub fn parse(kv: &str) -> Result<(String, String), EngineError> {
    let refused = || EngineError::InvalidArgument(format!("sysctl '{kv}' is not whitelisted"));
    let (k, v) = kv.split_once('=').ok_or_else(refused)?;
    if is_ipc(k) || k.starts_with("net.") {
        Ok((k.to_string(), v.to_string()))
    } else {
        Err(refused())
    }
}

/// A create request's sysctls against its namespaces.
pub(crate) fn check(req: &CreateContainer) -> Result<(), EngineError> {
    for (k, v) in &req.sysctls {
        parse(&format!("{k}={v}"))?;
        if k.starts_with("net.") && req.network == NetworkMode::Host {
            return Err(EngineError::InvalidArgument(format!("sysctl \"{k}\" not allowed in host network namespace")));
        }
        if is_ipc(k) && req.ipc_host {
            return Err(EngineError::InvalidArgument(format!("sysctl \"{k}\" is not allowed in the hosts ipc namespace")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_sysctls_as_docker_whitelists_them() {
        for ok in ["kernel.shmmax=1", "fs.mqueue.msg_max=20", "net.ipv4.ip_forward=1"] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        for bad in ["kernel.core_pattern=|/tmp/x", "vm.drop_caches=3", "kernel.hostname=x", "net.ipv4.ip_forward"] {
            assert_eq!(parse(bad).unwrap_err().to_string(), format!("sysctl '{bad}' is not whitelisted"));
        }
        let mut req = CreateContainer { network: NetworkMode::Host, ..Default::default() };
        req.sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
        assert!(check(&req).unwrap_err().to_string().contains("host network namespace"));
        req.network = NetworkMode::Bridge("bridge".into());
        assert!(check(&req).is_ok());
        req.sysctls.insert("kernel.sem".into(), "1".into());
        req.ipc_host = true;
        assert!(check(&req).unwrap_err().to_string().contains("hosts ipc namespace"));
    }
}

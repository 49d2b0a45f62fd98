//! linux.sysctl: only what belongs to a namespace the container has its own of, as runc's
//! validator (libcontainer/configs/validate) allows. Everything else under /proc/sys is the
//! host kernel's: `kernel.core_pattern=|prog` would run `prog` as host root at the next crash
//! anywhere, `vm.drop_caches` empties the host's caches.

use crate::error::{Result, RuntimeError};
use oci_spec::runtime::{Linux, LinuxNamespaceType};
use std::path::PathBuf;

/// The IPC namespace's sysctls (ipc_namespaces(7), besides fs.mqueue.*).
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

/// `/proc/sys/...` for `key`, as sysctl(8) names it: dots separate directories and a slash
/// stands for a dot inside a name (`net.ipv4.conf.eth0/1.rp_filter`). No component may be
/// empty, "." or "..".
pub fn path(key: &str) -> Result<PathBuf> {
    let rel: String = key
        .chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            c => c,
        })
        .collect();
    if rel.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(RuntimeError::Spec(format!("linux.sysctl: {key:?} is not a sysctl name")));
    }
    Ok(PathBuf::from("/proc/sys").join(rel))
}

/// Whether the container gets a namespace of `kind` of its own: a new one, or one joined by
/// path that is not the runtime's (the host's) own.
fn own(linux: &Linux, kind: LinuxNamespaceType, proc_name: &str) -> bool {
    linux.namespaces().iter().flatten().filter(|n| n.typ() == kind).any(|n| match n.path() {
        None => true,
        Some(p) => {
            let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| std::os::unix::fs::MetadataExt::ino(&m));
            id(p).is_some() && id(p) != id(std::path::Path::new(&format!("/proc/self/ns/{proc_name}")))
        }
    })
}

pub fn validate(linux: &Linux) -> Result<()> {
    for key in linux.sysctl().iter().flatten().map(|(k, _)| k) {
        path(key)?;
        let refused = |why: &str| Err(RuntimeError::Spec(format!("linux.sysctl: sysctl {key:?} {why}")));
        if IPC.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            if !own(linux, LinuxNamespaceType::Ipc, "ipc") {
                return refused("is not allowed in the hosts ipc namespace");
            }
        } else if key.starts_with("net.") {
            if !own(linux, LinuxNamespaceType::Network, "net") {
                return refused("is not allowed in the hosts network namespace");
            }
        } else if key == "kernel.domainname" && own(linux, LinuxNamespaceType::Uts, "uts") {
        } else if key == "kernel.hostname" && own(linux, LinuxNamespaceType::Uts, "uts") {
            return refused("is not allowed as it conflicts with the OCI \"hostname\" field");
        } else {
            return refused("is not in a separate kernel namespace");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(namespaces: &[(&str, Option<&str>)], sysctl: &[(&str, &str)]) -> Linux {
        let ns: Vec<serde_json::Value> = namespaces
            .iter()
            .map(|(t, p)| match p {
                Some(p) => serde_json::json!({"type": t, "path": p}),
                None => serde_json::json!({"type": t}),
            })
            .collect();
        let s: serde_json::Map<String, serde_json::Value> = sysctl.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect();
        serde_json::from_value(serde_json::json!({"namespaces": ns, "sysctl": s})).unwrap()
    }

    #[test]
    fn only_namespaced_sysctls_of_the_containers_own_namespaces() {
        let all = [("ipc", None), ("network", None), ("uts", None), ("mount", None)];
        for ok in ["kernel.shmmax", "fs.mqueue.msg_max", "net.ipv4.ip_forward", "net.ipv4.conf.eth0/1.rp_filter", "kernel.domainname"] {
            assert!(validate(&linux(&all, &[(ok, "1")])).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("kernel.core_pattern", "not in a separate kernel namespace"),
            ("vm.drop_caches", "not in a separate kernel namespace"),
            ("kernel.hostname", "conflicts with the OCI"),
            ("net..x", "not a sysctl name"),
            ("net.ipv4/../../kernel.core_pattern", "not a sysctl name"),
        ] {
            let e = validate(&linux(&all, &[(bad, "1")])).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        // The host's namespaces, shared or joined by path.
        let host = [("mount", None), ("network", Some("/proc/self/ns/net")), ("ipc", Some("/proc/1/ns/ipc"))];
        assert!(validate(&linux(&host, &[("net.ipv4.ip_forward", "1")])).unwrap_err().to_string().contains("hosts network namespace"));
        assert!(validate(&linux(&host, &[("kernel.sem", "1")])).unwrap_err().to_string().contains("hosts ipc namespace"));
        assert!(validate(&linux(&[("mount", None)], &[("kernel.domainname", "x")])).is_err());
        assert_eq!(path("net.ipv4.conf.eth0/1.rp_filter").unwrap(), PathBuf::from("/proc/sys/net/ipv4/conf/eth0.1/rp_filter"));
    }
}

//! Published ports of rootless doca: the host forwards of slirp4netns, which connects the
//! user's network namespace to the host (`rootless`). slirp4netns listens on the host's
//! address and port and delivers to 10.0.2.100 (its tap address in the namespace) on the same
//! port, where the firewall table's DNAT takes the connection to the container, as on root's
//! host. The forwards are made to match the records each time the firewall table is, through
//! slirp4netns's API (one JSON request per connection to its socket: `add_hostfwd`,
//! `list_hostfwd`, `remove_hostfwd`; slirp4netns(1) "API SOCKET").

use crate::EngineError;
use doca_net::nft::PortRule;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::Path;

/// slirp4netns's address in the namespace (`--configure` with the default 10.0.2.0/24).
const GUEST_ADDR: &str = "10.0.2.100";

/// One request; the answer's `return`, or its `error` as a refusal.
fn call(socket: &Path, request: Value) -> Result<Value, EngineError> {
    let fail = |e: std::io::Error| EngineError::Internal(format!("slirp4netns API ({}): {e}", socket.display()));
    let mut s = std::os::unix::net::UnixStream::connect(socket).map_err(fail)?;
    s.write_all(request.to_string().as_bytes()).map_err(fail)?;
    s.shutdown(std::net::Shutdown::Write).map_err(fail)?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(fail)?;
    let v: Value = serde_json::from_str(&out).map_err(|e| EngineError::Internal(format!("slirp4netns API answered {out:?}: {e}")))?;
    match v.get("error") {
        Some(e) => Err(EngineError::InvalidArgument(e["desc"].as_str().unwrap_or("refused").to_string())),
        // `list_hostfwd` answers with its entries at the top (slirp4netns 1.2), the others
        // under `return`.
        None => Ok(v.get("return").cloned().unwrap_or(v)),
    }
}

/// A forward as slirp4netns lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Forward {
    proto: String,
    host_addr: String,
    host_port: u16,
}

fn wanted(rule: &PortRule) -> Forward {
    Forward {
        proto: rule.proto.name().to_string(),
        host_addr: rule.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string()),
        host_port: rule.host_port,
    }
}

/// Makes slirp4netns's forwards those of `rules`: the missing ones added, the others removed.
/// A port the host refuses is named with why (a port below
/// `net.ipv4.ip_unprivileged_port_start`, or one another program holds).
pub(crate) fn sync(socket: &Path, rules: &[PortRule]) -> Result<(), EngineError> {
    if !socket.exists() {
        if rules.is_empty() {
            return Ok(());
        }
        return Err(EngineError::InvalidArgument(
            "rootless: published ports need slirp4netns (apt-get install slirp4netns), and the user's network namespace was made without it"
                .into(),
        ));
    }
    let listed = call(socket, json!({"execute": "list_hostfwd"}))?;
    let mut have: Vec<(u64, Forward)> = listed["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["id"].as_u64()?,
                Forward {
                    proto: e["proto"].as_str()?.to_string(),
                    host_addr: e["host_addr"].as_str()?.to_string(),
                    host_port: u16::try_from(e["host_port"].as_u64()?).ok()?,
                },
            ))
        })
        .collect();
    let want: Vec<Forward> = rules.iter().map(wanted).collect();
    for (id, f) in &have {
        if !want.contains(f) {
            call(socket, json!({"execute": "remove_hostfwd", "arguments": {"id": id}}))?;
        }
    }
    have.retain(|(_, f)| want.contains(f));
    for f in want {
        if have.iter().any(|(_, h)| *h == f) {
            continue;
        }
        let args = json!({"proto": f.proto, "host_addr": f.host_addr, "host_port": f.host_port, "guest_addr": GUEST_ADDR, "guest_port": f.host_port});
        match call(socket, json!({"execute": "add_hostfwd", "arguments": args})) {
            Ok(r) => have.push((r["id"].as_u64().unwrap_or(0), f)),
            Err(e) => {
                let low = f.host_port < unprivileged_port_start();
                return Err(EngineError::InvalidArgument(if low {
                    format!(
                        "rootless: cannot expose privileged port {}: a user may bind ports from net.ipv4.ip_unprivileged_port_start ({}) up: \
                         publish a higher port, or lower that sysctl ({e})",
                        f.host_port,
                        unprivileged_port_start()
                    )
                } else {
                    format!("rootless: publish {}:{}/{}: {e}", f.host_addr, f.host_port, f.proto)
                }));
            }
        }
    }
    Ok(())
}

/// The sysctl is per network namespace, and slirp4netns binds in the host's, whose value this
/// namespace cannot read: its own copy (the kernel's default, 1024: ip-sysctl.rst) is what is
/// said, beside slirp4netns's own refusal.
fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(1024)
}

/// The port rules as the user's namespace applies them: slirp4netns delivers every forward to
/// its own address there, so a host address given with `-p` is slirp4netns's to listen on,
/// not the DNAT rule's to match.
pub(crate) fn namespace_rules(rules: &[PortRule]) -> Vec<PortRule> {
    rules.iter().map(|r| PortRule { host_ip: None, ..r.clone() }).collect()
}

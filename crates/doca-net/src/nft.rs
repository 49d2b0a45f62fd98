//! doca's firewall: one nftables table, `inet doca`, that holds every rule doca needs and nothing
//! else. It is rebuilt whole from the engine's records and swapped in one nft transaction, so it
//! never holds half a change, and doca never edits another table or chain (Docker's iptables
//! rules are what clash with host firewalls: moby#26824, docker/for-linux#690). With no network
//! left the table is deleted.

use crate::ipam::Subnet;
use crate::ports::Proto;
use crate::NetError;
use std::fmt::Write;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

pub const TABLE: &str = "doca";

/// A bridge network as the firewall sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeRules {
    pub bridge: String,
    pub subnet: Subnet,
    /// `--internal`: no traffic leaves or enters the bridge except from the host itself.
    pub internal: bool,
}

/// A published port: traffic to the host's `host_ip` (any local address when None) and
/// `host_port` goes to the container.
#[derive(Debug, Clone, PartialEq)]
pub struct PortRule {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub proto: Proto,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

/// The whole table, as an nft script that replaces the old one atomically (`add` makes the
/// delete safe when there is none; nft runs the file as one transaction).
pub fn ruleset(nets: &[BridgeRules], ports: &[PortRule]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "add table inet {TABLE}\ndelete table inet {TABLE}");
    if nets.is_empty() {
        return s;
    }
    let _ = writeln!(s, "table inet {TABLE} {{");
    // Published ports, for traffic arriving from outside (prerouting) and from the host itself
    // (output), only when addressed to one of the host's own addresses.
    let _ = writeln!(
        s,
        "  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n    fib daddr type local jump publish\n  }}"
    );
    let _ = writeln!(
        s,
        "  chain output {{\n    type nat hook output priority -100; policy accept;\n    fib daddr type local jump publish\n  }}"
    );
    let _ = writeln!(s, "  chain publish {{");
    for p in ports {
        let daddr = p.host_ip.map(|ip| format!("ip daddr {ip} ")).unwrap_or_default();
        let _ = writeln!(
            s,
            "    {daddr}meta l4proto {} th dport {} dnat ip to {}:{}",
            p.proto.name(),
            p.host_port,
            p.container_ip,
            p.container_port
        );
    }
    let _ = writeln!(s, "  }}");
    let _ = writeln!(s, "  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;");
    for n in nets {
        let (br, net) = (quote(&n.bridge), n.subnet);
        if !n.internal {
            // The way out: the containers' addresses hidden behind the host's.
            let _ = writeln!(s, "    ip saddr {net} oifname != {br} masquerade");
        }
        // Hairpin: a container reaching a published port of its own network through a host
        // address; its peer must answer through the host, not straight back.
        let _ = writeln!(s, "    oifname {br} ip saddr {net} ct status dnat masquerade");
        // Published ports reached from the host at 127.0.0.1 (with route_localnet on the bridge).
        let _ = writeln!(s, "    oifname {br} ip saddr 127.0.0.0/8 masquerade");
    }
    let _ = writeln!(s, "  }}");
    // The host's loopback services are not the containers' (CVE-2020-8558): route_localnet,
    // which publishing on 127.0.0.1 needs, also makes the kernel accept packets for
    // 127.0.0.0/8 that arrive on the bridge, which a container with CAP_NET_RAW can send.
    // Only answers to the host's own connections come back that way.
    let bridges: Vec<String> = nets.iter().map(|n| quote(&n.bridge)).collect();
    let _ = writeln!(
        s,
        "  chain input {{\n    type filter hook input priority filter; policy accept;\n    iifname {{ {} }} ip daddr 127.0.0.0/8 ct state != {{ established, related }} drop\n  }}",
        bridges.join(", ")
    );
    // Isolation: no forwarding between two doca networks; an internal network's traffic stays on
    // its bridge. Everything else is left to the host's own rules (policy accept).
    let _ = writeln!(s, "  chain forward {{\n    type filter hook forward priority filter; policy accept;");
    for n in nets {
        let br = quote(&n.bridge);
        if n.internal {
            let _ = writeln!(s, "    iifname {br} oifname != {br} drop");
            let _ = writeln!(s, "    oifname {br} iifname != {br} drop");
        }
        let others: Vec<String> = nets.iter().filter(|o| o.bridge != n.bridge).map(|o| quote(&o.bridge)).collect();
        if !others.is_empty() {
            let _ = writeln!(s, "    iifname {br} oifname {{ {} }} drop", others.join(", "));
        }
    }
    let _ = writeln!(s, "  }}\n}}");
    s
}

fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

/// Where the table gets applied: `nft -f -` on the host, or a recorder in tests.
pub trait Firewall {
    fn apply(&self, script: &str) -> Result<(), NetError>;
}

pub struct Nft;

impl Firewall for Nft {
    fn apply(&self, script: &str) -> Result<(), NetError> {
        let mut child = Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| NetError::Firewall(format!("run nft: {e} (is the nftables package installed?)")))?;
        child.stdin.take().expect("piped").write_all(script.as_bytes()).map_err(|e| NetError::Firewall(format!("write to nft: {e}")))?;
        let out = child.wait_with_output().map_err(|e| NetError::Firewall(format!("run nft: {e}")))?;
        if !out.status.success() {
            return Err(NetError::Firewall(format!("nft: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_network_no_table() {
        assert_eq!(ruleset(&[], &[]), "add table inet doca\ndelete table inet doca\n");
    }

    #[test]
    fn bridges_ports_isolation_and_internal_networks() {
        let nets = [
            BridgeRules { bridge: "doca0".into(), subnet: "172.18.0.0/16".parse().unwrap(), internal: false },
            BridgeRules { bridge: "br-1a2b3c".into(), subnet: "10.5.0.0/24".parse().unwrap(), internal: true },
        ];
        let ports = [
            PortRule { host_ip: None, host_port: 8080, proto: Proto::Tcp, container_ip: "172.18.0.2".parse().unwrap(), container_port: 80 },
            PortRule {
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: 5353,
                proto: Proto::Udp,
                container_ip: "172.18.0.3".parse().unwrap(),
                container_port: 53,
            },
        ];
        let got = ruleset(&nets, &ports);
        let want = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/ruleset.nft")).unwrap();
        assert_eq!(got, want, "got:\n{got}");
        // The kernel's own parser agrees (nft --check changes nothing), where nft and root are.
        if std::path::Path::new("/usr/sbin/nft").exists() && nix::unistd::geteuid().is_root() {
            let out = std::process::Command::new("nft")
                .args(["-c", "-f", concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/ruleset.nft")])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

//! `-p/--publish` and `--expose` in docker's forms (go-connections/nat.ParsePortSpec):
//! `80`, `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80`, `[::1]:8080:80`, `8080:80/udp`,
//! ranges `8000-8009:80-89`, and a host range for one container port `8000-8009:80`.

use crate::NetError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn parse(s: &str) -> Result<Proto, NetError> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" | "" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "sctp" => Ok(Proto::Sctp),
            _ => Err(NetError::Invalid(format!("invalid proto: {s}"))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

/// A container port with its protocol, docker's `80/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Port {
    pub port: u16,
    pub proto: Proto,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.proto.name())
    }
}

impl Port {
    /// `80`, `80/udp` (an image's ExposedPorts keys, `--expose`).
    pub fn parse(s: &str) -> Result<Port, NetError> {
        let (p, proto) = s.split_once('/').unwrap_or((s, "tcp"));
        Ok(Port { port: parse_port(p, "containerPort")?, proto: Proto::parse(proto)? })
    }
}

/// One published port: the host side (address, and a port range to pick from; `0..=0` for any
/// free port) and the container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    pub host_port_start: u16,
    pub host_port_end: u16,
    pub container: Port,
}

fn parse_port(s: &str, what: &str) -> Result<u16, NetError> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(NetError::Invalid(format!("invalid {what}: {s}"))),
    }
}

fn parse_range(s: &str, what: &str) -> Result<(u16, u16), NetError> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse_port(a, what)?, parse_port(b, what)?);
            if b < a {
                return Err(NetError::Invalid(format!("invalid range specified for {what}: {s}")));
            }
            Ok((a, b))
        }
        None => {
            let p = parse_port(s, what)?;
            Ok((p, p))
        }
    }
}

/// Parses one `-p` value into its bindings (one per container port of a range).
pub fn parse_publish(spec: &str) -> Result<Vec<PortBinding>, NetError> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, Proto::parse(p)?),
        None => (spec, Proto::Tcp),
    };
    // An IPv6 host address is bracketed: [::1]:8080:80.
    let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r.split_once(']').ok_or_else(|| NetError::Invalid(format!("invalid ip address: {spec}")))?;
        let after = after.strip_prefix(':').ok_or_else(|| NetError::Invalid(format!("invalid port format for --publish: {spec}")))?;
        (Some(ip), after)
    } else {
        (None, rest)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (ip, parts.as_slice()) {
        (None, [c]) => (None, "", *c),
        (None, [h, c]) => (None, *h, *c),
        (None, [i, h, c]) => (Some(*i), *h, *c),
        (Some(i), [h, c]) => (Some(i), *h, *c),
        _ => return Err(NetError::Invalid(format!("invalid port format for --publish: {spec}"))),
    };
    let host_ip = match ip {
        None | Some("") => None,
        Some(i) => Some(i.parse::<IpAddr>().map_err(|_| NetError::Invalid(format!("invalid ip address: {i}")))?),
    };
    if container.is_empty() {
        return Err(NetError::Invalid(format!("no port specified: {spec}<empty>")));
    }
    let (c0, c1) = parse_range(container, "containerPort")?;
    let (h0, h1) = if host.is_empty() { (0, 0) } else { parse_range(host, "hostPort")? };
    let n = c1 - c0;
    if host.is_empty() || (h1 - h0 == n) {
        Ok((0..=n)
            .map(|i| PortBinding {
                host_ip,
                host_port_start: if h0 == 0 { 0 } else { h0 + i },
                host_port_end: if h0 == 0 { 0 } else { h0 + i },
                container: Port { port: c0 + i, proto },
            })
            .collect())
    } else if n == 0 {
        // A host range for one container port: the first free port of the range.
        Ok(vec![PortBinding { host_ip, host_port_start: h0, host_port_end: h1, container: Port { port: c0, proto } }])
    } else {
        Err(NetError::Invalid(format!("invalid ranges specified for container and host Ports: {container} and {host}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortBinding {
        let mut v = parse_publish(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        v.remove(0)
    }

    #[test]
    fn publish_in_all_of_dockers_forms() {
        let b = one("80");
        assert_eq!((b.host_ip, b.host_port_start, b.container.to_string()), (None, 0, "80/tcp".into()));
        let b = one("8080:80");
        assert_eq!((b.host_port_start, b.host_port_end, b.container.port), (8080, 8080, 80));
        let b = one("127.0.0.1:8080:80/udp");
        assert_eq!((b.host_ip, b.container.to_string()), (Some("127.0.0.1".parse().unwrap()), "80/udp".into()));
        let b = one("127.0.0.1::80");
        assert_eq!((b.host_port_start, b.host_ip.is_some()), (0, true));
        let b = one("[::1]:8080:80");
        assert_eq!(b.host_ip, Some("::1".parse().unwrap()));
        let v = parse_publish("8000-8002:80-82/tcp").unwrap();
        assert_eq!(v.iter().map(|b| (b.host_port_start, b.container.port)).collect::<Vec<_>>(), [(8000, 80), (8001, 81), (8002, 82)]);
        let b = one("9000-9010:80");
        assert_eq!((b.host_port_start, b.host_port_end), (9000, 9010));
    }

    #[test]
    fn malformed_specs_get_dockers_messages() {
        for (spec, want) in [
            ("", "no port specified"),
            ("abc", "invalid containerPort: abc"),
            ("0", "invalid containerPort: 0"),
            ("70000:80", "invalid hostPort: 70000"),
            ("1.2.3:80:80", "invalid ip address: 1.2.3"),
            ("8000-8001:80-83", "invalid ranges specified"),
            ("80/icmp", "invalid proto: icmp"),
            ("a:b:c:d", "invalid port format"),
            ("90-80", "invalid range specified for containerPort"),
        ] {
            let e = parse_publish(spec).unwrap_err().to_string();
            assert!(e.contains(want), "{spec}: {e}");
        }
    }

    #[test]
    fn exposed_ports() {
        assert_eq!(Port::parse("53/udp").unwrap().to_string(), "53/udp");
        assert_eq!(Port::parse("80").unwrap().to_string(), "80/tcp");
        assert!(Port::parse("x/tcp").is_err());
    }
}

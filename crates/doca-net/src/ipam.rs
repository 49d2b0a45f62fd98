//! IPv4 address management: subnets, docker's default pools, picking a subnet that collides with
//! neither the host's routes nor other networks, and handing out addresses.

use crate::NetError;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network: its network address (host bits zero) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Subnet, NetError> {
        if prefix > 32 {
            return Err(NetError::Invalid(format!("invalid subnet {addr}/{prefix}: prefix longer than 32")));
        }
        let s = Subnet { addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)), prefix };
        if s.addr != addr {
            // docker: "invalid subnet 10.0.0.1/24 : it should be 10.0.0.0/24"
            return Err(NetError::Invalid(format!("invalid subnet {addr}/{prefix} : it should be {s}")));
        }
        Ok(s)
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }

    /// The `n`th address of the subnet (0 is the network address).
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        let size = if self.prefix == 0 { u64::from(u32::MAX) + 1 } else { 1u64 << (32 - self.prefix) };
        (u64::from(n) < size).then(|| Ipv4Addr::from(u32::from(self.addr) + n))
    }

    /// The first usable host address, docker's default gateway.
    pub fn first_host(&self) -> Option<Ipv4Addr> {
        if self.prefix >= 31 {
            return None;
        }
        self.nth(1)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Subnet, NetError> {
        let bad = || NetError::Invalid(format!("invalid CIDR address: {s}"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        Subnet::new(addr, prefix)
    }
}

impl TryFrom<String> for Subnet {
    type Error = NetError;
    fn try_from(s: String) -> Result<Subnet, NetError> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

/// docker's default address pools (daemon/config: 172.17.0.0/16 to 172.31.0.0/16 as /16s, then
/// 192.168.0.0/16 as /20s), in the order docker takes them.
pub fn default_pools() -> Vec<Subnet> {
    let mut v: Vec<Subnet> = (17..=31).map(|b| Subnet { addr: Ipv4Addr::new(172, b, 0, 0), prefix: 16 }).collect();
    v.extend((0..16).map(|i| Subnet { addr: Ipv4Addr::new(192, 168, i * 16, 0), prefix: 20 }));
    v
}

/// The first pool that overlaps nothing in `taken` (other networks and the host's routes).
pub fn pick_subnet(pools: &[Subnet], taken: &[Subnet]) -> Option<Subnet> {
    pools.iter().copied().find(|p| !taken.iter().any(|t| t.overlaps(p)))
}

/// The first free address of `range` (the whole subnet by default) that is a host address of
/// `subnet` and not in `used` (which holds the gateway too).
pub fn allocate(subnet: &Subnet, range: Option<&Subnet>, used: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let r = range.unwrap_or(subnet);
    let size = if r.prefix == 0 { u32::MAX } else { (1u32 << (32 - r.prefix)) - 1 };
    (0..=size)
        .filter_map(|n| r.nth(n))
        .find(|ip| subnet.contains(*ip) && *ip != subnet.addr && *ip != subnet.broadcast() && !used.contains(ip))
}

/// The host's IPv4 routes (`/proc/net/route`), default routes left out: subnets a network must
/// not take, or the host would lose the way to them.
pub fn host_routes() -> Vec<Subnet> {
    std::fs::read_to_string("/proc/net/route").map(|t| parse_proc_route(&t)).unwrap_or_default()
}

fn parse_proc_route(text: &str) -> Vec<Subnet> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Iface Destination Gateway Flags RefCnt Use Metric Mask ...; little-endian hex.
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let m = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // The kernel prints the in-memory (network order) word as a host-order number.
            let prefix = u32::from_be_bytes(m.to_ne_bytes()).leading_ones() as u8;
            let addr = Ipv4Addr::from(dest.to_ne_bytes());
            (prefix > 0).then(|| Subnet::new(Ipv4Addr::from(u32::from(addr) & mask(prefix)), prefix).ok()).flatten()
        })
        .collect()
}

/// docker's MAC for an address: 02:42 and the four address bytes, so neighbours' caches stay
/// right when a container comes back with the same address.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// `--mac-address`: six hex pairs separated by ':' (or '-').
pub fn parse_mac(s: &str) -> Result<[u8; 6], NetError> {
    let bad = || NetError::Invalid(format!("{s} is not a valid mac address"));
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(bad());
        }
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    // A multicast address cannot be an interface's (the kernel refuses it).
    if mac[0] & 1 == 1 {
        return Err(bad());
    }
    Ok(mac)
}

pub fn mac_string(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Subnet {
        x.parse().unwrap()
    }

    #[test]
    fn subnets_parse_check_and_overlap() {
        assert_eq!(s("10.1.0.0/16").to_string(), "10.1.0.0/16");
        let e = "10.1.0.1/16".parse::<Subnet>().unwrap_err().to_string();
        assert!(e.contains("it should be 10.1.0.0/16"), "{e}");
        assert!("10.1.0.0".parse::<Subnet>().is_err() && "10.1.0.0/33".parse::<Subnet>().is_err());
        assert!(s("10.1.0.0/16").overlaps(&s("10.1.2.0/24")) && s("10.1.2.0/24").overlaps(&s("10.1.0.0/16")));
        assert!(!s("10.1.0.0/16").overlaps(&s("10.2.0.0/16")));
        assert_eq!(s("10.1.0.0/24").broadcast(), Ipv4Addr::new(10, 1, 0, 255));
        assert_eq!(s("10.1.0.0/24").first_host(), Some(Ipv4Addr::new(10, 1, 0, 1)));
        assert_eq!(s("10.1.0.0/24").nth(256), None);
    }

    #[test]
    fn pools_skip_what_is_taken() {
        let pools = default_pools();
        assert_eq!(pools[0], s("172.17.0.0/16"));
        assert_eq!(pools.last(), Some(&s("192.168.240.0/20")));
        // docker0 on 172.17, a VPN route inside 172.18: the first free pool is 172.19.
        assert_eq!(pick_subnet(&pools, &[s("172.17.0.0/16"), s("172.18.5.0/24")]), Some(s("172.19.0.0/16")));
        // A route covering all of 172.16/12 pushes it to 192.168.
        assert_eq!(pick_subnet(&pools, &[s("172.16.0.0/12")]), Some(s("192.168.0.0/20")));
        assert_eq!(pick_subnet(&pools, &[s("0.0.0.0/1"), s("128.0.0.0/1")]), None);
    }

    #[test]
    fn addresses_are_handed_out_in_order_within_the_range() {
        let net = s("10.9.0.0/29");
        let gw = net.first_host().unwrap();
        let mut used: HashSet<Ipv4Addr> = [gw].into();
        let mut got = Vec::new();
        while let Some(ip) = allocate(&net, None, &used) {
            used.insert(ip);
            got.push(ip.to_string());
        }
        assert_eq!(got, ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"], "no network, gateway or broadcast");
        let used: HashSet<Ipv4Addr> = [gw].into();
        assert_eq!(allocate(&s("10.9.0.0/24"), Some(&s("10.9.0.128/25")), &used), Some(Ipv4Addr::new(10, 9, 0, 128)));
    }

    #[test]
    fn proc_net_route_reads_as_subnets() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(parse_proc_route(text), vec![s("192.0.2.0/24"), s("172.17.0.0/16")]);
    }

    #[test]
    fn macs_follow_the_address() {
        assert_eq!(mac_string(&mac_for(Ipv4Addr::new(172, 17, 0, 2))), "02:42:ac:11:00:02");
        assert_eq!(parse_mac("02:42:AC:11:00:09").unwrap(), [2, 0x42, 0xac, 0x11, 0, 9]);
        for bad in ["02:42:ac:11:00", "zz:42:ac:11:00:09", "01:00:5e:00:00:01", "0242ac110009"] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
    }
}

/// An IPv6 subnet (`fd00:db8:1::/64`): docker's `--ipv6 --subnet`. Addresses are handed out
/// in order from `::1` (the gateway) as IPv4 ones are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet6 {
    addr: std::net::Ipv6Addr,
    prefix: u8,
}

impl Subnet6 {
    pub fn parse(s: &str) -> Result<Subnet6, NetError> {
        let bad = || NetError::Invalid(format!("invalid subnet {s}: want an IPv6 network such as fd00:db8:1::/64"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: std::net::Ipv6Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        // Room for hosts, and not so small that the host part is meaningless.
        if !(16..=124).contains(&prefix) {
            return Err(NetError::Invalid(format!("invalid subnet {s}: the prefix must be between /16 and /124")));
        }
        let mask = u128::MAX << (128 - u32::from(prefix));
        if u128::from(addr) & !mask != 0 {
            return Err(NetError::Invalid(format!(
                "invalid subnet {s}: it has host bits set (the network is {}/{prefix})",
                std::net::Ipv6Addr::from(u128::from(addr) & mask)
            )));
        }
        Ok(Subnet6 { addr, prefix })
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: std::net::Ipv6Addr) -> bool {
        let mask = u128::MAX << (128 - u32::from(self.prefix));
        u128::from(ip) & mask == u128::from(self.addr)
    }

    pub fn overlaps(&self, other: &Subnet6) -> bool {
        let p = self.prefix.min(other.prefix);
        let mask = u128::MAX << (128 - u32::from(p));
        u128::from(self.addr) & mask == u128::from(other.addr) & mask
    }

    /// The n-th address (1 is the gateway's).
    pub fn nth(&self, n: u128) -> Option<std::net::Ipv6Addr> {
        let host_bits = 128 - u32::from(self.prefix);
        (host_bits >= 128 || n < (1u128 << host_bits)).then(|| std::net::Ipv6Addr::from(u128::from(self.addr) | n))
    }
}

impl std::fmt::Display for Subnet6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod v6_tests {
    use super::*;

    #[test]
    fn ipv6_subnets_parse_contain_and_count() {
        let s = Subnet6::parse("fd00:db8:1::/64").unwrap();
        assert_eq!(s.nth(1).unwrap().to_string(), "fd00:db8:1::1");
        assert_eq!(s.nth(2).unwrap().to_string(), "fd00:db8:1::2");
        assert!(s.contains("fd00:db8:1::ffff".parse().unwrap()));
        assert!(!s.contains("fd00:db8:2::1".parse().unwrap()));
        assert!(s.overlaps(&Subnet6::parse("fd00:db8::/32").unwrap()));
        assert!(!s.overlaps(&Subnet6::parse("fd00:db8:2::/64").unwrap()));
        assert!(Subnet6::parse("fd00:db8:1::5/64").unwrap_err().to_string().contains("host bits"));
        assert!(Subnet6::parse("10.0.0.0/8").is_err());
        assert_eq!(Subnet6::parse("fd00::/120").unwrap().nth(256), None);
    }
}

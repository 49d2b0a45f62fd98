//! Links, addresses and routes over rtnetlink (rtnetlink(7)), one request and its ACK at a time:
//! the bridge, the veth pair whose container end is created straight inside the container's
//! network namespace, and that namespace's loopback, address and default route. No `ip`
//! process is run: a `run` pays microseconds, not a fork and exec per step.

use crate::NetError;
use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// An rtnetlink socket, bound to the network namespace it was opened in.
pub struct Netlink {
    sock: Socket,
    seq: u32,
}

fn io(what: &str, e: std::io::Error) -> NetError {
    NetError::Netlink(format!("{what}: {e}"))
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink, NetError> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| io("open netlink socket", e))?;
        sock.bind_auto().map_err(|e| io("bind netlink socket", e))?;
        sock.connect(&SocketAddr::new(0, 0)).map_err(|e| io("connect netlink socket", e))?;
        Ok(Netlink { sock, seq: 0 })
    }

    /// A socket inside the network namespace `ns` (an open nsfs file): opened on a short-lived
    /// thread that joined it, so this process never leaves its own namespace. A netlink socket
    /// stays in the namespace it was made in.
    pub fn open_in(ns: BorrowedFd<'_>) -> Result<Netlink, NetError> {
        let fd = ns.try_clone_to_owned().map_err(|e| io("dup namespace fd", e))?;
        std::thread::spawn(move || {
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| NetError::Netlink(format!("join network namespace: {}", e.desc().to_lowercase())))?;
            Netlink::open()
        })
        .join()
        .map_err(|_| NetError::Netlink("join network namespace: thread panicked".into()))?
    }

    /// Sends one request and waits for its answer: the ACK, or the messages of a GET (until
    /// the ACK or DONE). Errors carry the kernel's errno.
    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<Vec<RouteNetlinkMessage>, NetError> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(|e| io("send netlink request", e))?;
        let mut out = Vec::new();
        let mut rx = vec![0u8; 64 * 1024];
        loop {
            let n = self.sock.recv(&mut &mut rx[..], 0).map_err(|e| io("receive netlink answer", e))?;
            let mut off = 0;
            while off < n {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[off..n])
                    .map_err(|e| NetError::Netlink(format!("bad netlink answer: {e}")))?;
                let len = m.header.length as usize;
                if m.header.sequence_number == self.seq {
                    match m.payload {
                        NetlinkPayload::Error(e) => {
                            return match e.code {
                                None => Ok(out),
                                Some(c) => Err(NetError::Errno(nix::errno::Errno::from_raw(-c.get()))),
                            }
                        }
                        NetlinkPayload::Done(_) => return Ok(out),
                        NetlinkPayload::InnerMessage(i) => out.push(i),
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
            }
        }
    }

    /// The index of link `name`, if it exists.
    pub fn index(&mut self, name: &str) -> Result<Option<u32>, NetError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::GetLink(m), 0) {
            Ok(v) => Ok(v.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(NetError::Errno(nix::errno::Errno::ENODEV)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A bridge named `name` (EEXIST when it is there already).
    pub fn create_bridge(&mut self, name: &str) -> Result<(), NetError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL).map(drop)
    }

    /// A veth pair: `host` here, `peer` created directly in the namespace `peer_ns`, with the
    /// MAC address `peer_mac`. Nothing of it exists in the container before it is configured.
    pub fn create_veth(&mut self, host: &str, peer: &str, peer_ns: BorrowedFd<'_>, peer_mac: [u8; 6]) -> Result<(), NetError> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        p.attributes.push(LinkAttribute::NetNsFd(peer_ns.as_raw_fd()));
        p.attributes.push(LinkAttribute::Address(peer_mac.to_vec()));
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(host.to_string()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth), LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p)))]));
        self.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL).map(drop)
    }

    /// Sets the link up, and (when given) its master bridge.
    pub fn set_up(&mut self, index: u32, master: Option<u32>) -> Result<(), NetError> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        if let Some(b) = master {
            m.attributes.push(LinkAttribute::Controller(b));
        }
        self.request(RouteNetlinkMessage::SetLink(m), 0).map(drop)
    }

    pub fn delete_link(&mut self, index: u32) -> Result<(), NetError> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(m), 0).map(drop)
    }

    /// `ip addr add ADDR/PREFIX dev INDEX` (EEXIST when it is there).
    pub fn add_address(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<(), NetError> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = prefix;
        m.header.index = index;
        m.attributes.push(AddressAttribute::Local(IpAddr::V4(addr)));
        m.attributes.push(AddressAttribute::Address(IpAddr::V4(addr)));
        if prefix < 31 {
            let bcast = Ipv4Addr::from(u32::from(addr) | (u32::MAX >> prefix));
            m.attributes.push(AddressAttribute::Broadcast(bcast));
        }
        self.request(RouteNetlinkMessage::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL).map(drop)
    }

    /// `ip -6 addr add ADDR/PREFIX dev INDEX nodad`: usable at once (duplicate address
    /// detection would hold it "tentative" for a second or more; addresses here come from doca's
    /// own allocation, so there is nothing to detect).
    pub fn add_address6(&mut self, index: u32, addr: Ipv6Addr, prefix: u8) -> Result<(), NetError> {
        use netlink_packet_route::address::{AddressFlags, AddressHeaderFlags};
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet6;
        m.header.prefix_len = prefix;
        m.header.index = index;
        m.header.flags = AddressHeaderFlags::Nodad;
        m.attributes.push(AddressAttribute::Local(IpAddr::V6(addr)));
        m.attributes.push(AddressAttribute::Address(IpAddr::V6(addr)));
        m.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        self.request(RouteNetlinkMessage::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL).map(drop)
    }

    /// `ip route add default via GW` (`ip -6 ...` for an IPv6 gateway).
    pub fn add_default_route(&mut self, gateway: IpAddr) -> Result<(), NetError> {
        let mut m = RouteMessage::default();
        m.header.address_family = if gateway.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes.push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
        self.request(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL).map(drop)
    }
}

impl AsFd for Netlink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

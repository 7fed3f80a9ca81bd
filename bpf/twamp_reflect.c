//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * twamp_reflect.c: the test guest's TWAMP-light Session-Reflector (RFC 5357 4.2.1,
 * unauthenticated mode) in the tc ingress hook of its interface (package
 * netctl/vnf/kreflect).
 *
 * Why in the kernel: under TCG a packet that wakes the vnf's Go reflector (interrupt,
 * socket, scheduler, netpoller, two system calls) costs the host ~2.5 ms of CPU; four
 * guests on two cores then sustain only 100-250 test packets per second each. Here a
 * test packet is answered on its way in, as an ICMP echo is (~0.25 ms). Not XDP: XDP_TX
 * has no queue in front of the device, and a guest starved of CPU for a moment then
 * dropped dozens of answers when it caught up (the tx ring full); a redirect from tc
 * goes through the interface's qdisc, which waits for room as a socket's send does.
 *
 * A test packet (IPv4 without options, not a fragment, UDP to `port` at `addr`) whose
 * payload holds at least the reflector's header (41 octets: the size RFC 5357 asks a
 * sender to pad to, and what `netctl migrate --verify` sends) is turned into the answer
 * in place and sent back out of the same interface (bpf_redirect): addresses and ports
 * swapped, TTL 255, the first 41 octets of the payload the reflector's header, the rest
 * of the sender's padding left as it is (so the answer is as long as the test packet,
 * as the socket reflector makes it). Everything else goes on to the kernel (TC_ACT_OK):
 * a shorter test packet is answered by the vnf's socket reflector.
 *
 * The reflector's state lives in the program's global variables (guest memory, so it
 * moves with the guest): `seq`, the next sequence number, shared with the socket
 * reflector; `reflected`, the answers sent. Timestamps are the guest's wall clock:
 * bpf_ktime_get_ns (CLOCK_MONOTONIC) plus `clock_offset_ns`, which user space keeps at
 * CLOCK_REALTIME - CLOCK_MONOTONIC.
 *
 * With `flow_lookups` set, the program first looks a test packet up in `flows`, a flow
 * table as a firewall's or NAT's: `flow_lookups` entries of its first `flow_entries`,
 * chosen from the sender's sequence number (the traffic is one flow; its sequence numbers
 * stand in for the many flows that spread a real function's lookups over its whole
 * table). The table is an mmapable array of 4 KiB entries that the vnf maps as its working
 * set and keeps writing (each entry a page, its first 8 octets the page's index, the key a
 * lookup compares), so the answers depend on the working set as a real function's do: after
 * a post-copy switch the guest stalls on packet after packet until the part the lookups
 * read has arrived. `flow_found` counts the entries that held their key.
 */

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_OK 0
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define IP_HLEN 20 /* no options */
#define IPPROTO_UDP 17
#define IP_FRAG_MASK 0x3fff /* MF and the fragment offset */
#define UDP_HLEN 8
#define REFLECTOR_HLEN 41
#define NTP_UNIX_EPOCH 2208988800ULL /* seconds from 1900 to 1970 */
#define NSEC_PER_SEC 1000000000ULL
#define REFLECTED_TTL 255

/* Set before loading. */
volatile const __u16 port = 862;           /* UDP port, host byte order */
volatile const __u32 addr = 0;             /* the reflector's IPv4, network byte order; 0 = any */
volatile const __u16 error_estimate = 0;   /* the reflector's Error Estimate, host byte order */

/* Kept by user space. */
volatile __s64 clock_offset_ns = 0;

/* The reflector's state (user space reads them; the socket reflector shares seq). */
volatile __u32 seq = 0;
volatile __u64 reflected = 0;

/* The flow table (see above); user space sets max_entries before loading. */
#define FLOW_ENTRY_SIZE 4096
#define MAX_FLOW_LOOKUPS 64
volatile const __u32 flow_entries = 0; /* entries the lookups read: the table's first */
volatile const __u32 flow_lookups = 0; /* per test packet; 0 = none */
volatile __u64 flow_found = 0;

struct flow_entry {
	__u64 key; /* little-endian: the vnf's page index */
	__u8 rest[FLOW_ENTRY_SIZE - 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct flow_entry);
	__uint(max_entries, 1);
} flows SEC(".maps");

/* mix64 is SplitMix64's finalizer, as the vnf's (netctl/vnf flowTable). */
static __always_inline __u64 mix64(__u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* lookup_flows reads the test packet's entries of the flow table. */
static __always_inline void lookup_flows(__u32 sender_seq)
{
	__u32 n = flow_lookups, entries = flow_entries;
	__u64 found = 0;
	if (n == 0 || entries == 0)
		return;
	for (__u32 i = 0; i < MAX_FLOW_LOOKUPS && i < n; i++) {
		__u32 k = mix64((__u64)sender_seq * n + i) % entries;
		struct flow_entry *e = bpf_map_lookup_elem(&flows, &k);
		if (e && *(volatile __u64 *)&e->key == k)
			found++;
	}
	__sync_fetch_and_add((__u64 *)&flow_found, found);
}

struct eth {
	__u8 dst[6], src[6];
	__be16 proto;
} __attribute__((packed));

struct ipv4 {
	__u8 vihl, tos;
	__be16 len, id, frag;
	__u8 ttl, proto;
	__be16 csum;
	__be32 saddr, daddr;
} __attribute__((packed));

struct udp {
	__be16 sport, dport, len, csum;
} __attribute__((packed));

/* The reflector's header (RFC 5357 4.2.1), network byte order. */
struct reflector_hdr {
	__be32 seq;
	__be64 ts;
	__be16 ee, mbz1;
	__be64 rx_ts;
	__be32 sender_seq;
	__be64 sender_ts;
	__be16 sender_ee, mbz2;
	__u8 sender_ttl;
} __attribute__((packed));

_Static_assert(sizeof(struct reflector_hdr) == REFLECTOR_HLEN, "reflector header is 41 octets");

/* ntp_now is the guest's wall clock as an NTP timestamp (RFC 5905: seconds since 1900,
 * then the fraction of a second in 1/2^32 units). */
static __always_inline __u64 ntp_now(void)
{
	__u64 ns = bpf_ktime_get_ns() + clock_offset_ns;
	__u64 sec = ns / NSEC_PER_SEC;
	__u64 frac = ((ns % NSEC_PER_SEC) << 32) / NSEC_PER_SEC;
	return ((sec + NTP_UNIX_EPOCH) << 32) | (frac & 0xffffffff);
}

/* fold turns a 32-bit one's complement sum into 16 bits. */
static __always_inline __u16 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* csum_add16 adds the 16-bit words of n bytes at p (n even, constant) to sum. */
#define CSUM_WORDS(sum, p, n)                                                                  \
	do {                                                                                   \
		const __u16 *w_ = (const __u16 *)(p);                                          \
		_Pragma("unroll") for (int i_ = 0; i_ < (n) / 2; i_++)(sum) += w_[i_];         \
	} while (0)

SEC("tc")
int twamp_reflect(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end; /* the linear part: the headers are in it */
	struct eth *eth = data;
	struct ipv4 *ip = data + ETH_HLEN;
	struct udp *udp = data + ETH_HLEN + IP_HLEN;
	__u8 *payload = data + ETH_HLEN + IP_HLEN + UDP_HLEN;

	if ((void *)(payload + REFLECTOR_HLEN) > end)
		return TC_ACT_OK; /* too short for a test packet we answer, or not one */
	if (eth->proto != bpf_htons(ETH_P_IP) || (eth->dst[0] & 1))
		return TC_ACT_OK;
	if (ip->vihl != 0x45 || ip->proto != IPPROTO_UDP || (ip->frag & bpf_htons(IP_FRAG_MASK)))
		return TC_ACT_OK;
	if (udp->dport != bpf_htons(port) || (addr != 0 && ip->daddr != addr))
		return TC_ACT_OK;
	/* Lengths compared as numbers: a length from the packet added to a packet pointer is
	 * refused by older verifiers (6.1), which lose the bounds of a byte swap. */
	__u32 ulen = bpf_ntohs(udp->len);
	if (ulen < UDP_HLEN + REFLECTOR_HLEN || ETH_HLEN + IP_HLEN + ulen > skb->len ||
	    bpf_ntohs(ip->len) != IP_HLEN + ulen)
		return TC_ACT_OK; /* short (the socket reflector answers) or malformed */

	__u64 rx = ntp_now();
	__be32 sender_seq;
	__builtin_memcpy(&sender_seq, payload, 4);
	lookup_flows(bpf_ntohl(sender_seq));

	/* The answer leaves after the lookups: with them, its timestamp is taken again. */
	__u64 now = flow_lookups ? ntp_now() : rx;
	struct reflector_hdr r = {};
	r.seq = bpf_htonl(__sync_fetch_and_add((__u32 *)&seq, 1));
	r.ts = bpf_cpu_to_be64(now);
	r.ee = bpf_htons(error_estimate);
	r.rx_ts = bpf_cpu_to_be64(rx);
	__builtin_memcpy(&r.sender_seq, payload, 4);
	__builtin_memcpy(&r.sender_ts, payload + 4, 8);
	__builtin_memcpy(&r.sender_ee, payload + 12, 2);
	r.sender_ttl = ip->ttl;

	/* UDP checksum: addresses and ports only swap places, so only the payload's first
	 * 42 octets (21 words: the header and the padding octet that shares its last word)
	 * change. A zero checksum (none, RFC 768) stays zero. */
	if (udp->csum != 0) {
		__u32 sum = (__u16)~udp->csum;
		__u8 old[42], new[42];
		__builtin_memcpy(old, payload, 41);
		__builtin_memcpy(new, &r, 41);
		/* The 42nd octet is the sender's padding, or the checksum's zero pad. */
		old[41] = new[41] = 0;
		if (ulen > UDP_HLEN + REFLECTOR_HLEN && (void *)(payload + REFLECTOR_HLEN + 1) <= end)
			old[41] = new[41] = payload[REFLECTOR_HLEN];
		__u32 oldsum = 0, newsum = 0;
		CSUM_WORDS(oldsum, old, 42);
		CSUM_WORDS(newsum, new, 42);
		sum += (__u32)fold(newsum) + (__u16)~fold(oldsum);
		__u16 c = ~fold(sum);
		udp->csum = c ? c : 0xffff;
	}
	__builtin_memcpy(payload, &r, REFLECTOR_HLEN);

	__be16 sport = udp->sport;
	udp->sport = udp->dport;
	udp->dport = sport;

	__be32 saddr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = saddr;
	ip->ttl = REFLECTED_TTL;
	ip->csum = 0;
	__u32 isum = 0;
	CSUM_WORDS(isum, ip, IP_HLEN);
	ip->csum = ~fold(isum);

	__u8 mac[6];
	__builtin_memcpy(mac, eth->dst, 6);
	__builtin_memcpy(eth->dst, eth->src, 6);
	__builtin_memcpy(eth->src, mac, 6);

	__sync_fetch_and_add((__u64 *)&reflected, 1);
	return bpf_redirect(skb->ifindex, 0);
}

char __license[] SEC("license") = "Dual MIT/GPL";

//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * handoff.c: the traffic hand-off of a migrating VM (issue 4), three TC programs.
 *
 *   tap_egress      on every VM tap (egress = towards the guest). The frame belongs to
 *                   the VM that owns the tap (vm_by_ifindex), whatever it contains, and
 *                   the VM's mode decides: pass, copy, capture-and-drop or forward.
 *   uplink_ingress  on the host uplink: stragglers for a VM that has moved away (FORWARD)
 *                   are sent through the tunnel, matched by dst MAC or, for routed IPv4,
 *                   by dst IP (then the dst MAC is rewritten to the VM's). Everything
 *                   else is not ours (TC_ACT_UNSPEC: the next program / normal path).
 *   tunnel_ingress  on the host's VXLAN collect_md device: a frame is taken only if its
 *                   outer source IPv4 is a tunnel peer (tunnel_peers, the agent's peer
 *                   hosts) and its VNI the hand-off's (tunnel_vni); then a frame for a VM
 *                   whose tap is here is redirected to that tap (it then goes through
 *                   tap_egress, so HOLD/RELEASE/PASS apply to it). Every other frame is
 *                   dropped and counted: refused, for a VM with no tap here, or for no VM.
 *                   Nothing that came through the tunnel reaches a tap any other way.
 *
 * The maps and structs below are the ABI with user space (package dataplane, generated
 * bindings in dataplane/handoff_bpfel.go): do not change them without the Go side.
 *
 * Captured frames go to one ring buffer as records: a 32-byte rec_hdr, then len bytes of
 * the frame. Capture design (how `captured` stays exact):
 *   1. a record of exactly sizeof(rec_hdr) + len bytes is reserved in the ring
 *      (bpf_ringbuf_reserve_dynptr, which takes a length known only at run time; len is
 *      at most MAX_FRAME: a GSO frame of 64 KiB, which the kernel segments for the tap
 *      only after this hook); if the ring is full nothing else happens: no sequence
 *      number was taken;
 *   2. the frame is copied into the reservation CHUNK bytes at a time through the
 *      per-CPU scratch record (a per-CPU map value cannot hold 64 KiB);
 *   3. only then the sequence number is taken: seq = __sync_fetch_and_add(captured) + 1;
 *   4. the header is written into the reservation and it is submitted.
 * So captured[vm] is exactly the number of records of that VM put in the ring, seq runs
 * 1, 2, 3, ... with no gaps, and user space can compare it with released[vm]. If two
 * CPUs capture frames of the same VM at the same time their records may sit in the ring
 * in the opposite order of their seq (the reservation order): user space must not treat
 * that as a loss (sort by seq if it cares; the relative order of two frames racing on two
 * CPUs is not defined anyway).
 *
 * Counters (per VM, per CPU; user space sums them). Every frame tap_egress sees for a VM,
 * and every frame uplink_ingress acts on (FORWARD), adds 1 to `seen` and to exactly one
 * outcome, so: seen == passed + mirrored + mirror_missed + buffered + held + forwarded +
 * released_pass + drop_ring_full + drop_too_large + drop_forward + arp_answered
 * (guard_tripped counts mode changes, not frames).
 * tunnel_ingress counts forwarded_in, drop_no_tap or drop_tunnel only, in the counters of
 * the VM the dst MAC names (a redirected frame is then seen again by tap_egress); a frame
 * for no VM is counted in tunnel_drops (struct tunnel_counters) instead. RELEASE captures
 * are counted in `held` (rec_hdr.mode says RELEASE); `released_pass` counts the frames
 * RELEASE passes: ARP, and every frame once user space has caught up.
 */

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* tc verdicts (linux/pkt_cls.h); the tcx ones have the same values. */
#define TC_ACT_UNSPEC (-1) /* not ours: next program / normal path (TCX_NEXT) */
#define TC_ACT_OK 0        /* pass (TCX_PASS) */
#define TC_ACT_SHOT 2      /* drop (TCX_DROP) */
#define TC_ACT_REDIRECT 7  /* bpf_redirect (TCX_REDIRECT) */

#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ARPHRD_ETHER 1
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define VLAN_HLEN 4
#define MAX_VLAN_TAGS 2

#define MAX_FRAME (65535 + 22) /* largest frame a capturing mode copies: a 64 KiB GSO packet, two VLAN tags */
#define CHUNK 2048              /* bytes copied at a time through the scratch record */
#define MAX_CHUNKS ((MAX_FRAME + CHUNK - 1) / CHUNK)
#define MAX_VMS 1024
#define MAX_TUNNEL_PEERS 1024
#define RING_BYTES (8 << 20) /* default; user space may set MaxEntries before loading */
#define TUNNEL_TTL 64

/* Per-VM modes (vm_state.mode); Go gets them from this enum (bpf2go -type vm_mode). */
enum vm_mode {
	MODE_PASS = 0,    /* pass (HOLD from the first frame the guard stops: agent_gone) */
	MODE_MIRROR = 1,  /* pass AND copy to the ring (source, migration start .. switchover) */
	MODE_BUFFER = 2,  /* copy to the ring, drop (source, blackout) */
	MODE_HOLD = 3,    /* copy to the ring, drop (destination, Prepare .. flushed) */
	MODE_FORWARD = 4, /* send through the tunnel to the VM's new host */
	MODE_RELEASE = 5, /* like HOLD until user space has finished with every captured
	                   * frame (released >= captured); then the program itself sets
	                   * PASS, so new traffic never overtakes re-injected traffic */
};

/* rec_hdr.flags */
#define REC_F_PASSED 0x01 /* MIRROR copy: the frame itself was also passed to the tap */

struct vm_key {
	__u8 mac[ETH_ALEN];
	__u16 pad; /* 0 */
};

/*
 * vm_state.flags. RUNS_HERE: the guest runs on this host (a destination after its
 * cont, or a post-copy paused here). While its traffic is held (HOLD) this host answers
 * ARP requests for the guest's IPv4 in its place: a sender whose neighbour entry went
 * stale probes the guest after 5 s, and a probe held with the traffic fails the entry,
 * after which the sender drops its own packets (nobody would count them).
 */
enum vm_flag {
	VM_F_RUNS_HERE = 1,
};

/* Written by user space only, except the RELEASE -> PASS flip of .mode. */
struct vm_state {
	enum vm_mode mode; /* MODE_*, 4 bytes like the __u32 it was */
	__u32 ip;          /* VM IPv4, network byte order (0 = none) */
	__u32 tap_ifindex; /* local tap (0 = none on this host) */
	__u32 tun_ifindex; /* VXLAN (collect_md) device for FORWARD */
	__u32 remote_ip;   /* FORWARD: destination host IPv4, HOST byte order */
	__u32 vni;         /* FORWARD: VXLAN VNI */
	enum vm_flag flags; /* VM_F_*, a bit set */
	__u32 guard_port;   /* post-copy runs here: the agent's guard socket (see agent_gone) */
};

struct vm_counters {
	__u64 seen, passed, mirrored, buffered, held, forwarded, forwarded_in, released_pass;
	__u64 drop_ring_full; /* BUFFER/HOLD/RELEASE capture failed (ring full): dropped */
	__u64 mirror_missed;  /* MIRROR copy failed (ring full or too large): still passed */
	__u64 drop_too_large; /* frame > MAX_FRAME in a capturing mode: dropped */
	__u64 drop_forward;   /* set_tunnel_key/redirect failed, or no tunnel configured */
	__u64 drop_no_tap;    /* came through the tunnel for a VM with no local tap */
	__u64 drop_tunnel;    /* came through the tunnel from no tunnel peer, or another VNI */
	__u64 arp_answered;   /* HOLD, RUNS_HERE: an ARP request for the VM answered here */
	__u64 guard_tripped;  /* PASS found the agent gone and set HOLD (not a frame outcome) */
};

/* Frames tunnel_ingress dropped that were for no VM (by dst MAC), per CPU. */
struct tunnel_counters {
	__u64 refused; /* not from a tunnel peer, or not the hand-off's VNI */
	__u64 no_vm;   /* from a peer with the right VNI, but for no VM */
};

/*
 * The VNI of the hand-off's tunnel (dataplane.VNI; the one FORWARD sets, vm_state.vni).
 * User space sets it when it loads the programs; 0, not set, refuses every frame.
 */
volatile const __u32 tunnel_vni = 0;

/* Ring record header, host byte order; followed by len bytes of the frame. */
struct rec_hdr {
	__u64 seq; /* 1-based, per VM: the value captured[vm] took for this record */
	__u8 mac[ETH_ALEN];
	__u8 mode;  /* MODE_* the frame was captured in */
	__u8 flags; /* REC_F_* */
	__u32 len;
	__u32 ifindex; /* tap the frame was going to */
	__u64 ts_ns;   /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
};

_Static_assert(sizeof(struct rec_hdr) == 32, "rec_hdr is 32 bytes");
_Static_assert(sizeof(enum vm_mode) == sizeof(__u32), "vm_state.mode is a u32");
_Static_assert(sizeof(enum vm_flag) == sizeof(__u32), "vm_state.flags is a u32");

/* A record's header and one chunk of its frame, built in the per-CPU scratch on their way
 * into the ring. */
struct record {
	struct rec_hdr hdr;
	__u8 frame[CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VMS);
	__type(key, struct vm_key);
	__type(value, struct vm_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VMS);
	__type(key, __u32); /* tap ifindex */
	__type(value, struct vm_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vm_by_ifindex SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VMS);
	__type(key, __be32); /* VM IPv4, network byte order */
	__type(value, struct vm_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vm_by_ip SEC(".maps");

/* Records put in the ring per VM (the last seq). User space creates the entry (0). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VMS);
	__type(key, struct vm_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} captured SEC(".maps");

/* Records user space has finished with per VM (injected, or discarded copies). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VMS);
	__type(key, struct vm_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} released SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_VMS);
	__type(key, struct vm_key);
	__type(value, struct vm_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

/*
 * The hosts tunnel_ingress takes frames from: outer source IPv4, HOST byte order (as
 * bpf_skb_get_tunnel_key gives it); the value is not used. User space replaces the set.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TUNNEL_PEERS);
	__type(key, __u32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tunnel_peers SEC(".maps");

/* One entry (key 0), per CPU; user space sums them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tunnel_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tunnel_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct record);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} scratch SEC(".maps");

#define READ_ONCE_U32(x) (*(volatile __u32 *)&(x))
#define READ_ONCE_U64(x) (*(volatile __u64 *)&(x))
/* Per-CPU counter, so a plain increment is enough; c is NULL only if the map is full. */
#define COUNT(c, field)                                                                        \
	do {                                                                                   \
		if (c)                                                                         \
			(c)->field++;                                                          \
	} while (0)

/* counters_of returns the VM's counters, creating them if user space has not. */
static __always_inline struct vm_counters *counters_of(const struct vm_key *key)
{
	struct vm_counters *c = bpf_map_lookup_elem(&counters, key);
	if (c)
		return c;
	struct vm_counters zero = {};
	bpf_map_update_elem(&counters, key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&counters, key);
}

/* captured_of returns the VM's capture sequence counter, creating it (0) if missing. */
static __always_inline __u64 *captured_of(const struct vm_key *key)
{
	__u64 *n = bpf_map_lookup_elem(&captured, key);
	if (n)
		return n;
	__u64 zero = 0;
	bpf_map_update_elem(&captured, key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&captured, key);
}

enum capture_result {
	CAPTURED = 0,
	CAPTURE_RING_FULL, /* no room in the ring (or, cannot happen, no scratch/counter) */
	CAPTURE_TOO_LARGE, /* frame longer than MAX_FRAME (or empty): not copied */
};

/* capture puts the whole frame in the ring as one record (see the top of the file). */
static __always_inline enum capture_result capture(struct __sk_buff *skb,
						   const struct vm_key *key, __u8 mode,
						   __u8 flags)
{
	__u32 zero = 0;
	__u32 len = skb->len;

	if (len == 0 || len > MAX_FRAME)
		return CAPTURE_TOO_LARGE;
	struct record *rec = bpf_map_lookup_elem(&scratch, &zero);
	__u64 *seq = captured_of(key);
	if (!rec || !seq)
		return CAPTURE_RING_FULL;

	struct bpf_dynptr dp;
	if (bpf_ringbuf_reserve_dynptr(&ring, sizeof(struct rec_hdr) + len, 0, &dp) < 0) {
		bpf_ringbuf_discard_dynptr(&dp, 0); /* required even when reserving failed */
		return CAPTURE_RING_FULL;
	}
	for (__u32 i = 0; i < MAX_CHUNKS; i++) {
		__u32 off = i * CHUNK;
		if (off >= len)
			break;
		__u32 n = len - off;
		if (n > CHUNK)
			n = CHUNK;
		if (n < 1) /* cannot happen (off < len); tells the verifier n is in [1, CHUNK] */
			break;
		if (bpf_skb_load_bytes(skb, off, rec->frame, n) < 0 ||
		    bpf_dynptr_write(&dp, sizeof(struct rec_hdr) + off, rec->frame, n, 0) < 0) {
			/* Cannot happen: the skb has len bytes, the reservation room for them. */
			bpf_ringbuf_discard_dynptr(&dp, 0);
			return CAPTURE_RING_FULL;
		}
	}
	/* The record is certain to reach the ring now: take its sequence number. */
	rec->hdr.seq = __sync_fetch_and_add(seq, 1) + 1;
	__builtin_memcpy(rec->hdr.mac, key->mac, ETH_ALEN);
	rec->hdr.mode = mode;
	rec->hdr.flags = flags;
	rec->hdr.len = len;
	rec->hdr.ifindex = skb->ifindex;
	rec->hdr.ts_ns = bpf_ktime_get_ns();
	/* Writing sizeof(rec_hdr) bytes at offset 0 of a larger reservation cannot fail. */
	bpf_dynptr_write(&dp, 0, &rec->hdr, sizeof(struct rec_hdr), 0);
	bpf_ringbuf_submit_dynptr(&dp, 0);
	return CAPTURED;
}

/*
 * capture_and_drop: BUFFER, HOLD and RELEASE. The frame never reaches the tap here; user
 * space re-injects it later from the ring. *ok is the counter of frames captured.
 */
static __always_inline int capture_and_drop(struct __sk_buff *skb, const struct vm_key *key,
					    __u8 mode, struct vm_counters *c, __u64 *ok)
{
	switch (capture(skb, key, mode, 0)) {
	case CAPTURED:
		if (ok)
			(*ok)++;
		break;
	case CAPTURE_TOO_LARGE:
		COUNT(c, drop_too_large);
		break;
	default:
		COUNT(c, drop_ring_full);
		break;
	}
	return TC_ACT_SHOT;
}

/*
 * forward (FORWARD): encapsulate to the VM's new host. The VXLAN device is collect_md
 * ("external"), so the tunnel key set here gives it the outer destination and the VNI.
 */
static __always_inline int forward(struct __sk_buff *skb, const struct vm_state *st,
				   struct vm_counters *c)
{
	__u32 tun_ifindex = READ_ONCE_U32(st->tun_ifindex);
	struct bpf_tunnel_key tk = {};

	tk.tunnel_id = READ_ONCE_U32(st->vni);
	tk.remote_ipv4 = READ_ONCE_U32(st->remote_ip); /* host byte order, as the helper wants */
	tk.tunnel_ttl = TUNNEL_TTL;
	if (tun_ifindex == 0 || tk.remote_ipv4 == 0 ||
	    bpf_skb_set_tunnel_key(skb, &tk, sizeof(tk), 0) < 0) {
		COUNT(c, drop_forward);
		return TC_ACT_SHOT;
	}
	long ret = bpf_redirect(tun_ifindex, 0);
	if (ret != TC_ACT_REDIRECT) {
		COUNT(c, drop_forward);
		return TC_ACT_SHOT;
	}
	COUNT(c, forwarded);
	return TC_ACT_REDIRECT;
}

/*
 * inner_proto loads the frame's EtherType under up to MAX_VLAN_TAGS VLAN tags into
 * *proto and the offset of what follows into *off; -1 if the frame is too short.
 */
static __always_inline int inner_proto(struct __sk_buff *skb, __be16 *proto, __u32 *off)
{
	*off = ETH_HLEN;
	if (bpf_skb_load_bytes(skb, ETH_HLEN - 2, proto, 2) < 0)
		return -1;
#pragma unroll
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (*proto != bpf_htons(ETH_P_8021Q) && *proto != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, *off + 2, proto, 2) < 0)
			return -1;
		*off += VLAN_HLEN;
	}
	return 0;
}

/* is_arp: the frame is ARP, under up to MAX_VLAN_TAGS VLAN tags. */
static __always_inline int is_arp(struct __sk_buff *skb)
{
	__be16 proto;
	__u32 off;

	return inner_proto(skb, &proto, &off) == 0 && proto == bpf_htons(ETH_P_ARP);
}

/* An Ethernet/IPv4 ARP packet (RFC 826), as it follows the Ethernet header. */
struct arp_eth_ipv4 {
	__be16 htype, ptype;
	__u8 hlen, plen;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__u8 spa[4];
	__u8 tha[ETH_ALEN];
	__u8 tpa[4];
} __attribute__((packed));

_Static_assert(sizeof(struct arp_eth_ipv4) == 28, "arp_eth_ipv4 is 28 bytes");

/* same_bytes: a[0..n) == b[0..n) for a small constant n (BPF has no memcmp). */
static __always_inline int same_bytes(const __u8 *a, const __u8 *b, int n)
{
	__u8 diff = 0;
#pragma unroll
	for (int i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/*
 * answer_arp: if the frame is an ARP request for the VM's IPv4 (not a gratuitous one),
 * turn it into the guest's reply in place and send it back in through the tap, as if the
 * guest had answered (the bridge learns nothing it did not know: the guest is here).
 * Returns TC_ACT_REDIRECT, TC_ACT_SHOT if the rewrite failed half-way (counted as
 * drop_forward: the request cannot be passed on as it was), or -1: not such a request.
 */
static __always_inline int answer_arp(struct __sk_buff *skb, const struct vm_key *key,
				      const struct vm_state *st, struct vm_counters *c)
{
	__be16 proto;
	__u32 off;
	struct arp_eth_ipv4 a;
	__u32 ip = READ_ONCE_U32(st->ip);

	if (ip == 0 || inner_proto(skb, &proto, &off) < 0 || proto != bpf_htons(ETH_P_ARP))
		return -1;
	if (bpf_skb_load_bytes(skb, off, &a, sizeof(a)) < 0)
		return -1;
	if (a.htype != bpf_htons(ARPHRD_ETHER) || a.ptype != bpf_htons(ETH_P_IP) ||
	    a.hlen != ETH_ALEN || a.plen != 4 || a.op != bpf_htons(ARPOP_REQUEST))
		return -1;
	if (!same_bytes(a.tpa, (const __u8 *)&ip, 4) || same_bytes(a.spa, a.tpa, 4) ||
	    (a.sha[0] & 1) || same_bytes(a.sha, key->mac, ETH_ALEN))
		return -1; /* not for the VM, gratuitous, or a sender that cannot be answered */

	struct arp_eth_ipv4 r = a;
	r.op = bpf_htons(ARPOP_REPLY);
	__builtin_memcpy(r.sha, key->mac, ETH_ALEN);
	__builtin_memcpy(r.spa, &ip, 4);
	__builtin_memcpy(r.tha, a.sha, ETH_ALEN);
	__builtin_memcpy(r.tpa, a.spa, 4);
	__u8 eth[2 * ETH_ALEN];
	__builtin_memcpy(eth, a.sha, ETH_ALEN);
	__builtin_memcpy(eth + ETH_ALEN, key->mac, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, off, &r, sizeof(r), 0) < 0 ||
	    bpf_skb_store_bytes(skb, 0, eth, sizeof(eth), 0) < 0) {
		COUNT(c, drop_forward);
		return TC_ACT_SHOT;
	}
	long ret = bpf_redirect(skb->ifindex, BPF_F_INGRESS);
	if (ret != TC_ACT_REDIRECT) {
		COUNT(c, drop_forward);
		return TC_ACT_SHOT;
	}
	COUNT(c, arp_answered);
	return TC_ACT_REDIRECT;
}

/*
 * release (RELEASE): pass and flip to PASS once user space has caught up, else hold.
 * ARP passes at once: the guest runs here, and its neighbour resolution must not wait
 * behind a replay of seconds of traffic (it would fail, and the guest would drop its
 * own replies); ARP has no order with the data frames to keep.
 */
static __always_inline int release(struct __sk_buff *skb, const struct vm_key *key,
				   struct vm_state *st, struct vm_counters *c)
{
	if (is_arp(skb)) {
		COUNT(c, released_pass);
		return TC_ACT_OK;
	}
	__u64 *cap = bpf_map_lookup_elem(&captured, key);
	__u64 *rel = bpf_map_lookup_elem(&released, key);
	__u64 ncap = cap ? READ_ONCE_U64(*cap) : 0;
	__u64 nrel = rel ? READ_ONCE_U64(*rel) : 0;

	if (nrel >= ncap) {
		/*
		 * Every captured frame is re-injected: from now on frames pass. Compare-and-
		 * swap so a mode user space wrote in the meantime is not overwritten.
		 */
		__sync_val_compare_and_swap(&st->mode, MODE_RELEASE, MODE_PASS);
		COUNT(c, released_pass);
		return TC_ACT_OK;
	}
	return capture_and_drop(skb, key, MODE_RELEASE, c, c ? &c->held : 0);
}

/*
 * agent_gone: the guard of a post-copy running here. While it runs, a frame that reaches
 * the tap can send QEMU's main thread into guest memory the destination does not have
 * yet; with the stream down (its agent died) that thread blocks for good, and QMP, which
 * a restarted agent needs to recover the stream, with it. So while st->guard_port is set
 * the agent keeps a UDP socket bound to 127.0.0.1:guard_port and to this tap; the kernel
 * closes it when the agent dies, however it dies, and from the next frame on the traffic
 * is held (the ring keeps it for the agent's next run). The socket is bound to the tap
 * so that the lookup matches it by device, whatever the frame's metadata says.
 */
static __always_inline int agent_gone(struct __sk_buff *skb, const struct vm_state *st)
{
	__u32 port = READ_ONCE_U32(st->guard_port);
	if (port == 0 || port > 0xffff)
		return 0;
	struct bpf_sock_tuple t = {};
	t.ipv4.saddr = bpf_htonl(0x7f000001);
	t.ipv4.daddr = bpf_htonl(0x7f000001);
	t.ipv4.sport = bpf_htons(port);
	t.ipv4.dport = bpf_htons(port);
	struct bpf_sock *sk = bpf_sk_lookup_udp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 1;
	bpf_sk_release(sk);
	return 0;
}

SEC("tc")
int tap_egress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct vm_key *owner = bpf_map_lookup_elem(&vm_by_ifindex, &ifindex);
	if (!owner)
		return TC_ACT_UNSPEC;
	struct vm_key key = *owner;
	struct vm_state *st = bpf_map_lookup_elem(&vms, &key);
	if (!st)
		return TC_ACT_UNSPEC;
	struct vm_counters *c = counters_of(&key);
	COUNT(c, seen);

	/* Whatever the frame is (short, VLAN, not IP, ARP), it is this VM's. */
	switch (READ_ONCE_U32(st->mode)) {
	case MODE_MIRROR:
		/* Pass, and keep a copy: the agent recovers from these copies the one frame
		 * QEMU takes from the tap after the guest stopped. A copy that fails (ring
		 * full, too large) is counted, the frame passes anyway. */
		if (capture(skb, &key, MODE_MIRROR, REC_F_PASSED) == CAPTURED)
			COUNT(c, mirrored);
		else
			COUNT(c, mirror_missed);
		return TC_ACT_OK;
	case MODE_BUFFER:
		/* Source blackout: the guest is stopped, keep every frame for the flush. */
		return capture_and_drop(skb, &key, MODE_BUFFER, c, c ? &c->buffered : 0);
	case MODE_HOLD:
		/* Destination before the flush: new frames wait behind the flushed ones. Once
		 * the guest runs here its ARP is answered at once (VM_F_RUNS_HERE). */
		if (READ_ONCE_U32(st->flags) & VM_F_RUNS_HERE) {
			int ret = answer_arp(skb, &key, st, c);
			if (ret >= 0)
				return ret;
		}
		return capture_and_drop(skb, &key, MODE_HOLD, c, c ? &c->held : 0);
	case MODE_RELEASE:
		return release(skb, &key, st, c);
	case MODE_FORWARD:
		/* The VM runs elsewhere now: whatever still comes here goes after it. */
		return forward(skb, st, c);
	case MODE_PASS:
		if (agent_gone(skb, st)) {
			/* Hold from now on, like HOLD above; only user space sets PASS again. */
			if (__sync_val_compare_and_swap(&st->mode, MODE_PASS, MODE_HOLD) == MODE_PASS)
				COUNT(c, guard_tripped);
			if (READ_ONCE_U32(st->flags) & VM_F_RUNS_HERE) {
				int ret = answer_arp(skb, &key, st, c);
				if (ret >= 0)
					return ret;
			}
			return capture_and_drop(skb, &key, MODE_HOLD, c, c ? &c->held : 0);
		}
		COUNT(c, passed);
		return TC_ACT_OK;
	default: /* unknown mode: never black-hole traffic */
		COUNT(c, passed);
		return TC_ACT_OK;
	}
}

/* load_dst_key fills key with the frame's destination MAC; -1 if shorter than Ethernet. */
static __always_inline int load_dst_key(struct __sk_buff *skb, struct vm_key *key)
{
	if (skb->len < ETH_HLEN)
		return -1;
	return bpf_skb_load_bytes(skb, 0, key->mac, ETH_ALEN) < 0 ? -1 : 0;
}

/*
 * routed_vm finds the VM a routed IPv4 frame is for (dst MAC: this host, dst IP: the VM),
 * skipping up to MAX_VLAN_TAGS VLAN tags. Returns 0 and fills key, or -1.
 */
static __always_inline int routed_vm(struct __sk_buff *skb, struct vm_key *key)
{
	__u8 dst0;
	__be16 proto;
	__u32 off;

	if (bpf_skb_load_bytes(skb, 0, &dst0, 1) < 0 || (dst0 & 1)) /* group address */
		return -1;
	if (inner_proto(skb, &proto, &off) < 0 || proto != bpf_htons(ETH_P_IP))
		return -1;

	__u8 vihl;
	__be32 daddr;
	if (bpf_skb_load_bytes(skb, off, &vihl, 1) < 0 || (vihl >> 4) != 4 || (vihl & 0xf) < 5)
		return -1;
	if (bpf_skb_load_bytes(skb, off + 16, &daddr, 4) < 0) /* iphdr.daddr */
		return -1;
	struct vm_key *k = bpf_map_lookup_elem(&vm_by_ip, &daddr);
	if (!k)
		return -1;
	*key = *k;
	return 0;
}

SEC("tc")
int uplink_ingress(struct __sk_buff *skb)
{
	struct vm_key key = {};
	int routed = 0;

	if (load_dst_key(skb, &key) < 0)
		return TC_ACT_UNSPEC;
	struct vm_state *st = bpf_map_lookup_elem(&vms, &key);
	if (!st) {
		/* Not a VM's MAC. Routed IPv4 for a VM (broadcast ARP never gets here: a
		 * group dst MAC is not routed traffic; it is passed, the switch floods it to
		 * the VM's new host anyway). */
		if (routed_vm(skb, &key) < 0)
			return TC_ACT_UNSPEC;
		st = bpf_map_lookup_elem(&vms, &key);
		if (!st)
			return TC_ACT_UNSPEC;
		routed = 1;
	}
	/* Only stragglers for a VM that has moved away are ours. */
	if (READ_ONCE_U32(st->mode) != MODE_FORWARD)
		return TC_ACT_UNSPEC;

	struct vm_counters *c = counters_of(&key);
	COUNT(c, seen);
	if (routed && bpf_skb_store_bytes(skb, 0, key.mac, ETH_ALEN, 0) < 0) {
		/* Routed to this host: address the frame to the VM itself. */
		COUNT(c, drop_forward);
		return TC_ACT_SHOT;
	}
	return forward(skb, st, c);
}

/*
 * tunnel_accepted: the frame came from a tunnel peer, over IPv4, with the hand-off's VNI.
 * A frame without tunnel metadata (or over IPv6) fails bpf_skb_get_tunnel_key: refused.
 */
static __always_inline int tunnel_accepted(struct __sk_buff *skb)
{
	struct bpf_tunnel_key tk = {};

	if (bpf_skb_get_tunnel_key(skb, &tk, sizeof(tk), 0) < 0)
		return 0;
	if (tk.tunnel_id != tunnel_vni || tunnel_vni == 0)
		return 0;
	__u32 remote = tk.remote_ipv4; /* host byte order */
	return bpf_map_lookup_elem(&tunnel_peers, &remote) != 0;
}

/* tunnel_counters returns this CPU's counters of frames for no VM (NULL: cannot happen). */
static __always_inline struct tunnel_counters *tunnel_counters(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&tunnel_drops, &zero);
}

/*
 * tunnel_ingress: only frames from a peer with the hand-off's VNI go on, and only to the
 * tap of the VM their dst MAC names. A frame for no VM (unknown or group dst MAC, or too
 * short) is dropped rather than left to the normal path (TC_ACT_UNSPEC): this device
 * exists only for the hand-off, nothing else is meant to arrive on it, and whatever way
 * the device is set up (a bridge port, another program after this one) such a frame must
 * never reach a guest.
 */
SEC("tc")
int tunnel_ingress(struct __sk_buff *skb)
{
	struct vm_key key = {};
	struct vm_state *st = 0;

	if (load_dst_key(skb, &key) == 0)
		st = bpf_map_lookup_elem(&vms, &key);
	struct vm_counters *c = st ? counters_of(&key) : 0;

	if (!tunnel_accepted(skb)) {
		if (st) {
			COUNT(c, drop_tunnel);
		} else {
			struct tunnel_counters *tc = tunnel_counters();
			COUNT(tc, refused);
		}
		return TC_ACT_SHOT;
	}
	if (!st) {
		struct tunnel_counters *tc = tunnel_counters();
		COUNT(tc, no_vm);
		return TC_ACT_SHOT;
	}
	__u32 tap = READ_ONCE_U32(st->tap_ifindex);
	if (tap == 0) {
		COUNT(c, drop_no_tap);
		return TC_ACT_SHOT;
	}
	/* To the tap's egress: tap_egress applies the VM's mode (HOLD at a destination). */
	COUNT(c, forwarded_in);
	return bpf_redirect(tap, 0);
}

char __license[] SEC("license") = "Dual MIT/GPL";

// Package vnfproto is the status query spoken between the host and the vnf
// running inside a test guest: a fixed-layout, big-endian binary request and
// response over UDP (port Port), matched by a request nonce.
//
// Request (RequestLen bytes):
//
//	0  magic   uint32  "NFHV"
//	4  version uint8   1
//	5  type    uint8   1 (request)
//	6  mbz     uint16
//	8  nonce   uint64
//
// Response (StatusLen bytes):
//
//	0   magic, version, type 2 (status), mbz, nonce (as in the request)
//	16  boot id            [16]byte
//	32  uptime             int64 nanoseconds
//	40  packets reflected  uint64
//	48  echo packets       uint64
//	56  reflector seq      uint32
//	60  mbz                uint32
//	64  wss pages          uint64
//	72  pages written      uint64
//	80  pages verified     uint64
//	88  verify passes      uint64
//	96  corrupt pages      uint64
//	104 stale pages        uint64
//	112 udp in errors      uint64  guest kernel drop counters, since its boot
//	120 udp rcvbuf errors  uint64
//	128 udp mem errors     uint64
//	136 rx dropped         uint64  the vnf's interface (or all but lo)
//	144 reported           uint32  bits: 1 in errors, 2 rcvbuf, 4 mem, 8 rx dropped
//	148 mbz                uint32
//	152 router flags       uint32  bits: 1 role (vnf --router), 2 up, 4 conntrack read, 8 forward drops read
//	156 router failed step uint32  0 none (or still setting up), 1 interfaces, 2 modules, 3 ruleset, 4 forwarding
//	160 conntrack entries  uint64  nf_conntrack_count
//	168 forward drops      uint64  packets the forward chain dropped
//
// A counter whose bit is clear was not read and is zero. Vnfs before the
// drop counters send the first 112 bytes (StatusMinLen); decoders accept
// that length and read every counter as not reported. Vnfs before the
// router fields send 152 (StatusDropsLen): read as no router. A vnf that
// is no router sends the router fields as zero.
//
// Decoders accept trailing bytes (room for later fields of the same version)
// and unknown reported and router bits, and reject short packets (a reply
// cut inside the drop counters or the router fields too), a wrong magic,
// version or type, a counter set without its bit, and router bits or a
// failed step without the role bit (or a failed step with the up bit).
package vnfproto

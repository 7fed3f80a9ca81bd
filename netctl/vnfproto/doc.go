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
//
// Decoders accept trailing bytes (room for later fields of the same version)
// and reject short packets, a wrong magic, version or type.
package vnfproto

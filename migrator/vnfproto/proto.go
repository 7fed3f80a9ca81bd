package vnfproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Port is the vnf's status UDP port inside the guest.
const Port = 9862

// Wire constants.
const (
	Magic      uint32 = 0x4e464856 // "NFHV"
	Version    uint8  = 1
	TypeReq    uint8  = 1
	TypeStatus uint8  = 2
	RequestLen        = 16
	// StatusLen is the length of a status reply. DecodeStatus still
	// accepts the shorter replies of older vnfs: StatusMinLen bytes from
	// one that predates the guest drop counters (read as not reported),
	// StatusDropsLen from one that predates the router fields (read as no
	// router).
	StatusLen      = StatusDropsLen + RouterLen
	StatusDropsLen = 152
	StatusMinLen   = 112
	// RouterLen is the length of the router fields at StatusDropsLen.
	RouterLen = 24
)

// Errors returned by the decoders.
var (
	ErrShort   = errors.New("vnfproto: packet too short")
	ErrMagic   = errors.New("vnfproto: bad magic")
	ErrVersion = errors.New("vnfproto: unsupported version")
	ErrType    = errors.New("vnfproto: unexpected message type")
	// ErrMalformed is a status reply with a drop counter set but its
	// Reported bit clear.
	ErrMalformed = errors.New("vnfproto: malformed status")
)

// Status is the vnf's report of itself.
type Status struct {
	BootID                                                                        [16]byte // random per vnf start: same after a migration, new after a reboot
	Uptime                                                                        time.Duration
	PacketsReflected                                                              uint64 // TWAMP-light test packets reflected
	EchoPackets                                                                   uint64 // UDP echo datagrams answered
	ReflectorSeq                                                                  uint32 // next reflector sequence number (lives in guest memory)
	WSSPages, PagesWritten, PagesVerified, VerifyPasses, CorruptPages, StalePages uint64

	// Drops inside the guest that none of the counters above sees, as its
	// kernel counts them since boot (guest memory: they survive a
	// migration). UDP*: the Udp line of /proc/net/snmp, all UDP sockets
	// (InErrors includes RcvbufErrors and MemErrors). RxDropped: the vnf's
	// interface's rx_dropped. A counter whose bit in Reported is clear was
	// not read (missing column or file, or a vnf that predates them) and
	// is zero.
	UDPInErrors, UDPRcvbufErrors, UDPMemErrors, RxDropped uint64
	Reported                                              Counters

	// Router is the router role's state; zero for a vnf that is no
	// router (or predates the role).
	Router Router
}

// Counters is a set of Status's guest drop counters.
type Counters uint32

// The guest drop counters, as bits of Status.Reported.
const (
	HasUDPInErrors Counters = 1 << iota
	HasUDPRcvbufErrors
	HasUDPMemErrors
	HasRxDropped

	allCounters = HasUDPInErrors | HasUDPRcvbufErrors | HasUDPMemErrors | HasRxDropped
)

// dropField is one drop counter of a Status with its bit.
type dropField struct {
	v   *uint64
	bit Counters
}

// drops returns s's drop counters in wire order.
func (s *Status) drops() []dropField {
	return []dropField{{&s.UDPInErrors, HasUDPInErrors}, {&s.UDPRcvbufErrors, HasUDPRcvbufErrors},
		{&s.UDPMemErrors, HasUDPMemErrors}, {&s.RxDropped, HasRxDropped}}
}

// Request asks for a Status; the reply carries the same Nonce.
type Request struct {
	Nonce uint64
}

func appendHeader(b []byte, typ uint8, nonce uint64) []byte {
	b = binary.BigEndian.AppendUint32(b, Magic)
	b = append(b, Version, typ, 0, 0)
	return binary.BigEndian.AppendUint64(b, nonce)
}

func decodeHeader(b []byte, typ uint8, min int) (uint64, error) {
	if len(b) < min {
		return 0, fmt.Errorf("%w: %d < %d bytes", ErrShort, len(b), min)
	}
	if m := binary.BigEndian.Uint32(b); m != Magic {
		return 0, fmt.Errorf("%w: %#08x", ErrMagic, m)
	}
	if b[4] != Version {
		return 0, fmt.Errorf("%w: %d", ErrVersion, b[4])
	}
	if b[5] != typ {
		return 0, fmt.Errorf("%w: %d, want %d", ErrType, b[5], typ)
	}
	return binary.BigEndian.Uint64(b[8:]), nil
}

// AppendRequest appends the encoded request to b.
func AppendRequest(b []byte, r Request) []byte {
	return appendHeader(b, TypeReq, r.Nonce)
}

// DecodeRequest parses a request.
func DecodeRequest(b []byte) (Request, error) {
	n, err := decodeHeader(b, TypeReq, RequestLen)
	return Request{Nonce: n}, err
}

// AppendStatus appends the encoded status reply to b. A drop counter whose
// bit is clear in s.Reported is sent as zero.
func AppendStatus(b []byte, nonce uint64, s Status) []byte {
	b = appendHeader(b, TypeStatus, nonce)
	b = append(b, s.BootID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Uptime))
	b = binary.BigEndian.AppendUint64(b, s.PacketsReflected)
	b = binary.BigEndian.AppendUint64(b, s.EchoPackets)
	b = binary.BigEndian.AppendUint32(b, s.ReflectorSeq)
	b = binary.BigEndian.AppendUint32(b, 0)
	for _, v := range []uint64{s.WSSPages, s.PagesWritten, s.PagesVerified, s.VerifyPasses, s.CorruptPages, s.StalePages} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	for _, d := range s.drops() {
		v := *d.v
		if s.Reported&d.bit == 0 {
			v = 0 // not reported
		}
		b = binary.BigEndian.AppendUint64(b, v)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(s.Reported&allCounters))
	b = binary.BigEndian.AppendUint32(b, 0)
	return appendRouter(b, s.Router)
}

// DecodeStatus parses a status reply and returns the nonce it answers. A
// reply of StatusMinLen bytes (an older vnf) has no drop counters: Reported
// is 0; one of StatusDropsLen bytes has no router fields: Router is zero.
// Longer replies must carry each block whole; a counter that is not zero
// although its bit is clear is ErrMalformed; bits this package does not
// know are dropped (later fields of the same version).
func DecodeStatus(b []byte) (nonce uint64, s Status, err error) {
	nonce, err = decodeHeader(b, TypeStatus, StatusMinLen)
	if err != nil {
		return 0, Status{}, err
	}
	if len(b) > StatusMinLen && len(b) < StatusDropsLen {
		return 0, Status{}, fmt.Errorf("%w: %d bytes cut the drop counters (%d..%d)", ErrShort, len(b), StatusMinLen, StatusDropsLen)
	}
	if len(b) > StatusDropsLen && len(b) < StatusLen {
		return 0, Status{}, fmt.Errorf("%w: %d bytes cut the router fields (%d..%d)", ErrShort, len(b), StatusDropsLen, StatusLen)
	}
	be := binary.BigEndian
	copy(s.BootID[:], b[16:32])
	s.Uptime = time.Duration(be.Uint64(b[32:]))
	s.PacketsReflected = be.Uint64(b[40:])
	s.EchoPackets = be.Uint64(b[48:])
	s.ReflectorSeq = be.Uint32(b[56:])
	for i, p := range []*uint64{&s.WSSPages, &s.PagesWritten, &s.PagesVerified, &s.VerifyPasses, &s.CorruptPages, &s.StalePages} {
		*p = be.Uint64(b[64+8*i:])
	}
	if len(b) < StatusDropsLen {
		return nonce, s, nil
	}
	s.Reported = Counters(be.Uint32(b[144:])) & allCounters
	for i, d := range s.drops() {
		*d.v = be.Uint64(b[112+8*i:])
		if *d.v != 0 && s.Reported&d.bit == 0 {
			return 0, Status{}, fmt.Errorf("%w: counter %d is %d but not reported", ErrMalformed, i, *d.v)
		}
	}
	if len(b) < StatusLen {
		return nonce, s, nil
	}
	if s.Router, err = decodeRouter(b[StatusDropsLen:StatusLen]); err != nil {
		return 0, Status{}, err
	}
	return nonce, s, nil
}

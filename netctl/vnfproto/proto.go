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
	StatusLen         = 112
)

// Errors returned by the decoders.
var (
	ErrShort   = errors.New("vnfproto: packet too short")
	ErrMagic   = errors.New("vnfproto: bad magic")
	ErrVersion = errors.New("vnfproto: unsupported version")
	ErrType    = errors.New("vnfproto: unexpected message type")
)

// Status is the vnf's report of itself.
type Status struct {
	BootID                                                                        [16]byte // random per vnf start: same after a migration, new after a reboot
	Uptime                                                                        time.Duration
	PacketsReflected                                                              uint64 // TWAMP-light test packets reflected
	EchoPackets                                                                   uint64 // UDP echo datagrams answered
	ReflectorSeq                                                                  uint32 // next reflector sequence number (lives in guest memory)
	WSSPages, PagesWritten, PagesVerified, VerifyPasses, CorruptPages, StalePages uint64
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

// AppendStatus appends the encoded status reply to b.
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
	return b
}

// DecodeStatus parses a status reply and returns the nonce it answers.
func DecodeStatus(b []byte) (nonce uint64, s Status, err error) {
	nonce, err = decodeHeader(b, TypeStatus, StatusLen)
	if err != nil {
		return 0, Status{}, err
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
	return nonce, s, nil
}

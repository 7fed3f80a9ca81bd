package twamp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Port is the well-known TWAMP-Test port (IANA "twamp-control"/test, RFC 5357).
const Port = 862

// Header lengths and the recommended sender padding for symmetric packets.
const (
	SenderHeaderLen    = 14
	ReflectorHeaderLen = 41
	// SymmetricPadding is the smallest sender padding for which the
	// reflector's reply is as long as the sender's packet.
	SymmetricPadding = ReflectorHeaderLen - SenderHeaderLen // 27
)

// ErrShort is returned for packets shorter than the fixed header.
var ErrShort = errors.New("twamp: packet too short")

// SenderPacket is an unauthenticated Session-Sender test packet.
type SenderPacket struct {
	Seq           uint32
	Timestamp     Timestamp
	ErrorEstimate ErrorEstimate
	// Padding aliases the decoded buffer.
	Padding []byte
}

// ReflectorPacket is an unauthenticated Session-Reflector test packet.
type ReflectorPacket struct {
	Seq                 uint32
	Timestamp           Timestamp // when the reflector sent it (T3)
	ErrorEstimate       ErrorEstimate
	ReceiveTimestamp    Timestamp // when the reflector received the sender's packet (T2)
	SenderSeq           uint32
	SenderTimestamp     Timestamp // copied from the sender's packet (T1)
	SenderErrorEstimate ErrorEstimate
	SenderTTL           uint8
	// Padding aliases the decoded buffer.
	Padding []byte
}

// AppendSender appends p followed by p.Padding to b.
func AppendSender(b []byte, p SenderPacket) []byte {
	b = binary.BigEndian.AppendUint32(b, p.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(p.Timestamp))
	b = binary.BigEndian.AppendUint16(b, uint16(p.ErrorEstimate))
	return append(b, p.Padding...)
}

// DecodeSender parses a Session-Sender test packet.
func DecodeSender(b []byte) (SenderPacket, error) {
	if len(b) < SenderHeaderLen {
		return SenderPacket{}, fmt.Errorf("%w: %d < %d octets", ErrShort, len(b), SenderHeaderLen)
	}
	return SenderPacket{
		Seq:           binary.BigEndian.Uint32(b[0:]),
		Timestamp:     Timestamp(binary.BigEndian.Uint64(b[4:])),
		ErrorEstimate: ErrorEstimate(binary.BigEndian.Uint16(b[12:])),
		Padding:       b[SenderHeaderLen:],
	}, nil
}

// AppendReflector appends p (MBZ fields zero) followed by p.Padding to b.
func AppendReflector(b []byte, p ReflectorPacket) []byte {
	be := binary.BigEndian
	b = be.AppendUint32(b, p.Seq)
	b = be.AppendUint64(b, uint64(p.Timestamp))
	b = be.AppendUint16(b, uint16(p.ErrorEstimate))
	b = be.AppendUint16(b, 0)
	b = be.AppendUint64(b, uint64(p.ReceiveTimestamp))
	b = be.AppendUint32(b, p.SenderSeq)
	b = be.AppendUint64(b, uint64(p.SenderTimestamp))
	b = be.AppendUint16(b, uint16(p.SenderErrorEstimate))
	b = be.AppendUint16(b, 0)
	b = append(b, p.SenderTTL)
	return append(b, p.Padding...)
}

// DecodeReflector parses a Session-Reflector test packet. MBZ fields are
// not checked (be liberal in what you accept).
func DecodeReflector(b []byte) (ReflectorPacket, error) {
	if len(b) < ReflectorHeaderLen {
		return ReflectorPacket{}, fmt.Errorf("%w: %d < %d octets", ErrShort, len(b), ReflectorHeaderLen)
	}
	be := binary.BigEndian
	return ReflectorPacket{
		Seq:                 be.Uint32(b[0:]),
		Timestamp:           Timestamp(be.Uint64(b[4:])),
		ErrorEstimate:       ErrorEstimate(be.Uint16(b[12:])),
		ReceiveTimestamp:    Timestamp(be.Uint64(b[16:])),
		SenderSeq:           be.Uint32(b[24:]),
		SenderTimestamp:     Timestamp(be.Uint64(b[28:])),
		SenderErrorEstimate: ErrorEstimate(be.Uint16(b[36:])),
		SenderTTL:           b[40],
		Padding:             b[ReflectorHeaderLen:],
	}, nil
}

// RoundTrip is the round-trip time seen by the sender that received p at t4,
// without the time the packet spent in the reflector: (T4-T1) - (T3-T2).
func (p ReflectorPacket) RoundTrip(t4 Timestamp) time.Duration {
	return t4.Sub(p.SenderTimestamp) - p.Timestamp.Sub(p.ReceiveTimestamp)
}

// ReflectorDelay is the time the packet spent in the reflector (T3-T2).
func (p ReflectorPacket) ReflectorDelay() time.Duration {
	return p.Timestamp.Sub(p.ReceiveTimestamp)
}

// Reflect builds the reflector's answer to the sender packet in, appending it
// to dst: seq is the reflector's own sequence number, rx and tx the receive
// and send timestamps, ee the reflector's error estimate, ttl the TTL (or hop
// limit) the sender's packet arrived with. The reply is max(len(in), 41)
// octets long; its padding is the sender's padding without its first 27
// octets, zero-filled where the sender's packet was shorter.
func Reflect(dst, in []byte, seq uint32, rx, tx Timestamp, ee ErrorEstimate, ttl uint8) ([]byte, error) {
	sp, err := DecodeSender(in)
	if err != nil {
		return dst, err
	}
	dst = AppendReflector(dst, ReflectorPacket{
		Seq:                 seq,
		Timestamp:           tx,
		ErrorEstimate:       ee,
		ReceiveTimestamp:    rx,
		SenderSeq:           sp.Seq,
		SenderTimestamp:     sp.Timestamp,
		SenderErrorEstimate: sp.ErrorEstimate,
		SenderTTL:           ttl,
	})
	if len(in) > ReflectorHeaderLen {
		dst = append(dst, in[ReflectorHeaderLen:]...)
	}
	return dst, nil
}

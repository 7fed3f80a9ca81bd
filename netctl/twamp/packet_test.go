package twamp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// Offsets from RFC 5357 sections 4.1.2 and 4.2.1 (unauthenticated mode).
func TestSenderLayout(t *testing.T) {
	b := AppendSender(nil, SenderPacket{
		Seq: 0x01020304, Timestamp: 0x1112131415161718, ErrorEstimate: 0x2122,
		Padding: []byte{0xee, 0xef},
	})
	want := []byte{
		0x01, 0x02, 0x03, 0x04, // 0 sequence number
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // 4 timestamp
		0x21, 0x22, // 12 error estimate
		0xee, 0xef, // 14 padding
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("got  % x\nwant % x", b, want)
	}
}

func TestReflectorLayout(t *testing.T) {
	b := AppendReflector(nil, ReflectorPacket{
		Seq: 0x01020304, Timestamp: 0x1112131415161718, ErrorEstimate: 0x2122,
		ReceiveTimestamp: 0x3132333435363738, SenderSeq: 0x41424344,
		SenderTimestamp: 0x5152535455565758, SenderErrorEstimate: 0x6162,
		SenderTTL: 0x71, Padding: []byte{0xee},
	})
	if len(b) != ReflectorHeaderLen+1 {
		t.Fatalf("len %d", len(b))
	}
	be := binary.BigEndian
	fields := []struct {
		name      string
		off, size int
		want      uint64
	}{
		{"sequence number", 0, 4, 0x01020304},
		{"timestamp", 4, 8, 0x1112131415161718},
		{"error estimate", 12, 2, 0x2122},
		{"mbz", 14, 2, 0},
		{"receive timestamp", 16, 8, 0x3132333435363738},
		{"sender sequence number", 24, 4, 0x41424344},
		{"sender timestamp", 28, 8, 0x5152535455565758},
		{"sender error estimate", 36, 2, 0x6162},
		{"mbz", 38, 2, 0},
		{"sender ttl", 40, 1, 0x71},
		{"padding", 41, 1, 0xee},
	}
	for _, f := range fields {
		var got uint64
		switch f.size {
		case 1:
			got = uint64(b[f.off])
		case 2:
			got = uint64(be.Uint16(b[f.off:]))
		case 4:
			got = uint64(be.Uint32(b[f.off:]))
		case 8:
			got = be.Uint64(b[f.off:])
		}
		if got != f.want {
			t.Errorf("%s at %d = %#x, want %#x", f.name, f.off, got, f.want)
		}
	}
}

func TestRoundTrips(t *testing.T) {
	sp := SenderPacket{Seq: 9, Timestamp: NewTimestamp(time.Now()), ErrorEstimate: DefaultErrorEstimate, Padding: []byte("pad")}
	got, err := DecodeSender(AppendSender(nil, sp))
	if err != nil || got.Seq != sp.Seq || got.Timestamp != sp.Timestamp || got.ErrorEstimate != sp.ErrorEstimate || !bytes.Equal(got.Padding, sp.Padding) {
		t.Fatalf("sender: %+v, %v", got, err)
	}
	rp := ReflectorPacket{Seq: 1, Timestamp: 2, ErrorEstimate: 3, ReceiveTimestamp: 4, SenderSeq: 5, SenderTimestamp: 6, SenderErrorEstimate: 7, SenderTTL: 8, Padding: []byte{}}
	gr, err := DecodeReflector(AppendReflector(nil, rp))
	if err != nil || gr.Seq != 1 || gr.Timestamp != 2 || gr.ErrorEstimate != 3 || gr.ReceiveTimestamp != 4 ||
		gr.SenderSeq != 5 || gr.SenderTimestamp != 6 || gr.SenderErrorEstimate != 7 || gr.SenderTTL != 8 || len(gr.Padding) != 0 {
		t.Fatalf("reflector: %+v, %v", gr, err)
	}
}

func TestDecodeShort(t *testing.T) {
	if _, err := DecodeSender(make([]byte, SenderHeaderLen-1)); !errors.Is(err, ErrShort) {
		t.Errorf("sender: %v", err)
	}
	if _, err := DecodeReflector(make([]byte, ReflectorHeaderLen-1)); !errors.Is(err, ErrShort) {
		t.Errorf("reflector: %v", err)
	}
}

func TestReflectSizesAndPadding(t *testing.T) {
	for _, pad := range []int{0, 1, SymmetricPadding - 1, SymmetricPadding, SymmetricPadding + 1, 1000} {
		padding := make([]byte, pad)
		for i := range padding {
			padding[i] = byte(i*7 + 1)
		}
		in := AppendSender(nil, SenderPacket{Seq: 77, Timestamp: 1234, ErrorEstimate: 0x0101, Padding: padding})
		out, err := Reflect(nil, in, 5, 100, 200, DefaultErrorEstimate, 61)
		if err != nil {
			t.Fatal(err)
		}
		if want := max(len(in), ReflectorHeaderLen); len(out) != want {
			t.Errorf("pad %d: reply %d octets, want %d", pad, len(out), want)
		}
		rp, _ := DecodeReflector(out)
		if rp.Seq != 5 || rp.SenderSeq != 77 || rp.SenderTimestamp != 1234 || rp.SenderErrorEstimate != 0x0101 ||
			rp.SenderTTL != 61 || rp.ReceiveTimestamp != 100 || rp.Timestamp != 200 {
			t.Errorf("pad %d: %+v", pad, rp)
		}
		if pad > SymmetricPadding && !bytes.Equal(rp.Padding, padding[SymmetricPadding:]) {
			t.Errorf("pad %d: padding not mirrored", pad)
		}
	}
}

func TestRoundTripTime(t *testing.T) {
	t1 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rp := ReflectorPacket{
		SenderTimestamp:  NewTimestamp(t1),
		ReceiveTimestamp: NewTimestamp(t1.Add(10 * time.Millisecond)),
		Timestamp:        NewTimestamp(t1.Add(13 * time.Millisecond)),
	}
	rtt := rp.RoundTrip(NewTimestamp(t1.Add(25 * time.Millisecond)))
	if d := rtt - 22*time.Millisecond; d < -2 || d > 2 {
		t.Fatalf("rtt = %v", rtt)
	}
	if d := rp.ReflectorDelay() - 3*time.Millisecond; d < -2 || d > 2 {
		t.Fatalf("reflector delay = %v", rp.ReflectorDelay())
	}
}

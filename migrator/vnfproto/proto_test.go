package vnfproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

func sampleStatus() Status {
	s := Status{
		Uptime:           90 * time.Second,
		PacketsReflected: 1, EchoPackets: 2, ReflectorSeq: 3,
		WSSPages: 4, PagesWritten: 5, PagesVerified: 6, VerifyPasses: 7, CorruptPages: 8, StalePages: 9,
		UDPInErrors: 10, UDPRcvbufErrors: 11, UDPMemErrors: 12, RxDropped: 13,
		Reported: HasUDPInErrors | HasUDPRcvbufErrors | HasUDPMemErrors | HasRxDropped,
		Router: Router{Flags: RouterRole | RouterUp | HasConntrack | HasForwardDrops,
			ConntrackEntries: 14, ForwardDrops: 15},
	}
	for i := range s.BootID {
		s.BootID[i] = byte(0xa0 + i)
	}
	return s
}

func TestStatusRoundTrip(t *testing.T) {
	s := sampleStatus()
	b := AppendStatus(nil, 0x1122334455667788, s)
	if len(b) != StatusLen {
		t.Fatalf("len = %d, want %d", len(b), StatusLen)
	}
	nonce, got, err := DecodeStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	if nonce != 0x1122334455667788 || got != s {
		t.Fatalf("got nonce %#x %+v, want %+v", nonce, got, s)
	}
}

func TestStatusLayout(t *testing.T) {
	b := AppendStatus(nil, 42, sampleStatus())
	be := binary.BigEndian
	if !bytes.Equal(b[:4], []byte("NFHV")) || b[4] != 1 || b[5] != TypeStatus {
		t.Fatalf("bad header % x", b[:8])
	}
	checks := []struct {
		off  int
		want uint64
	}{{8, 42}, {32, uint64(90 * time.Second)}, {40, 1}, {48, 2}, {64, 4}, {72, 5}, {80, 6}, {88, 7}, {96, 8}, {104, 9},
		{112, 10}, {120, 11}, {128, 12}, {136, 13}, {160, 14}, {168, 15}}
	for _, c := range checks {
		if got := be.Uint64(b[c.off:]); got != c.want {
			t.Errorf("offset %d = %d, want %d", c.off, got, c.want)
		}
	}
	if got := be.Uint32(b[56:]); got != 3 {
		t.Errorf("reflector seq at 56 = %d", got)
	}
	if got := be.Uint32(b[144:]); got != 0xf {
		t.Errorf("reported bits at 144 = %#x, want 0xf", got)
	}
	if got := be.Uint32(b[152:]); got != 0xf {
		t.Errorf("router flags at 152 = %#x, want 0xf", got)
	}
	if b[16] != 0xa0 || b[31] != 0xaf {
		t.Errorf("boot id misplaced: % x", b[16:32])
	}
}

// A vnf from before the drop counters sends StatusMinLen bytes: accepted,
// every other field read, the counters not reported.
func TestStatusOldLength(t *testing.T) {
	want := sampleStatus()
	b := AppendStatus(nil, 5, want)[:StatusMinLen]
	want.UDPInErrors, want.UDPRcvbufErrors, want.UDPMemErrors, want.RxDropped, want.Reported = 0, 0, 0, 0, 0
	want.Router = Router{}
	nonce, got, err := DecodeStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	if nonce != 5 || got != want {
		t.Fatalf("got nonce %d %+v, want %+v", nonce, got, want)
	}
}

// A guest that could read only some counters reports only those; bits a
// later vnf may add are ignored, and trailing bytes allowed.
func TestStatusPartlyReported(t *testing.T) {
	s := sampleStatus()
	s.UDPMemErrors, s.RxDropped = 0, 0
	s.Reported = HasUDPInErrors | HasUDPRcvbufErrors
	b := AppendStatus(nil, 1, s)
	b[144] = 0x80 // an unknown bit
	_, got, err := DecodeStatus(append(b, 0xff, 0xff))
	if err != nil {
		t.Fatal(err)
	}
	if got != s {
		t.Fatalf("got %+v, want %+v", got, s)
	}
}

// An unreported counter is sent as zero, whatever the Status held, so
// that every encoded status decodes.
func TestAppendStatusZeroesUnreported(t *testing.T) {
	s := sampleStatus()
	s.Reported = HasRxDropped | 1<<20
	_, got, err := DecodeStatus(AppendStatus(nil, 1, s))
	if err != nil {
		t.Fatal(err)
	}
	if got.Reported != HasRxDropped || got.RxDropped != 13 || got.UDPInErrors|got.UDPRcvbufErrors|got.UDPMemErrors != 0 {
		t.Fatalf("got %+v", got)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	b := AppendRequest(nil, Request{Nonce: 7})
	if len(b) != RequestLen {
		t.Fatalf("len = %d", len(b))
	}
	r, err := DecodeRequest(b)
	if err != nil || r.Nonce != 7 {
		t.Fatalf("got %+v, %v", r, err)
	}
	// Trailing bytes are allowed.
	if _, err := DecodeRequest(append(b, 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeErrors(t *testing.T) {
	req := AppendRequest(nil, Request{Nonce: 1})
	st := AppendStatus(nil, 1, Status{})
	mut := func(b []byte, i int, v byte) []byte {
		c := bytes.Clone(b)
		c[i] = v
		return c
	}
	tests := []struct {
		name string
		b    []byte
		want error
		req  bool
	}{
		{"short request", req[:15], ErrShort, true},
		{"bad magic", mut(req, 0, 'X'), ErrMagic, true},
		{"bad version", mut(req, 4, 9), ErrVersion, true},
		{"status as request", st, ErrType, true},
		{"short status", st[:StatusMinLen-1], ErrShort, false},
		{"status cut in the drop counters", st[:StatusDropsLen-1], ErrShort, false},
		{"status cut in the router fields", st[:StatusLen-1], ErrShort, false},
		{"status cut after the old fields", st[:StatusMinLen+8], ErrShort, false},
		{"counter without its bit", mut(st, 127, 1), ErrMalformed, false},
		{"request as status", append(bytes.Clone(req), make([]byte, 100)...), ErrType, false},
	}
	for _, tt := range tests {
		var err error
		if tt.req {
			_, err = DecodeRequest(tt.b)
		} else {
			_, _, err = DecodeStatus(tt.b)
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

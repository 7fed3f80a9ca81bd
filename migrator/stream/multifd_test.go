package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func multifdHello(id byte) []byte {
	b := make([]byte, multifdHelloLen)
	binary.BigEndian.PutUint32(b, multifdMagic)
	binary.BigEndian.PutUint32(b[4:], multifdVersion)
	copy(b[8:24], bytes.Repeat([]byte{0xcd}, 16))
	b[24] = id
	return b
}

// multifdPacket is a packet header; nextSize is written as given (stale
// on sync packets).
func multifdPacket(flags uint32, block string, nextSize uint32, offs ...uint64) []byte {
	b := make([]byte, multifdHeaderLen)
	binary.BigEndian.PutUint32(b, multifdMagic)
	binary.BigEndian.PutUint32(b[4:], multifdVersion)
	binary.BigEndian.PutUint32(b[8:], flags)
	binary.BigEndian.PutUint32(b[12:], multifdMaxPages)
	binary.BigEndian.PutUint32(b[16:], uint32(len(offs)))
	binary.BigEndian.PutUint32(b[20:], nextSize)
	binary.BigEndian.PutUint64(b[24:], 7)
	copy(b[64:320], block)
	for i, o := range offs {
		binary.BigEndian.PutUint64(b[320+8*i:], o)
	}
	return b
}

// multifdStream is a channel's handshake and three packets (the middle one
// a sync with a stale next_packet_size), and the pages in it.
func multifdStream() ([]byte, []string) {
	var b []byte
	var pages []string
	packet := func(block string, offs ...uint64) {
		b = append(b, multifdPacket(0, block, uint32(len(offs))*PageSize, offs...)...)
		for _, o := range offs {
			d := pageData(3, o)
			b = append(b, d...)
			pages = append(pages, pageKey(Page{Block: block, Offset: o, Data: d}))
		}
	}
	b = append(b, multifdHello(1)...)
	packet("pc.ram", 0x5000, 0x1000, 0x9000)
	b = append(b, multifdPacket(multifdFlagSync, "", 3*PageSize)...)
	packet("vga.vram", 0x2000)
	return b, pages
}

func feedMultifd(t testing.TB, in []byte, cuts ...int) (*recorder, Summary, []byte) {
	return feedWith(t, func(dst io.Writer, v Visitor) reader { return NewMultifdWriter(dst, v, nil) }, in, cuts...)
}

func TestMultifdEverySplit(t *testing.T) {
	in, want := multifdStream()
	for cut := 0; cut <= len(in); cut++ {
		r, sum, out := feedMultifd(t, in, cut)
		if !bytes.Equal(out, in) || !slices.Equal(r.pages, want) || sum.Err != nil || sum.Opaque != "" {
			t.Fatalf("cut at %d: pages %q, err %v, opaque %q", cut, r.pages, sum.Err, sum.Opaque)
		}
		if sum.Pages != 4 || sum.Packets != 3 || sum.Channel != 1 {
			t.Fatalf("cut at %d: summary %+v", cut, sum)
		}
	}
}

func TestMultifdRefusedAndMalformed(t *testing.T) {
	hello := multifdHello(0)
	for _, tc := range []struct {
		name, want string
		packet     []byte
		malformed  bool
	}{
		{"zlib", "multifd compression", multifdPacket(1<<1, "pc.ram", 100, 0), false},
		{"zstd", "multifd compression", multifdPacket(2<<1, "pc.ram", 100, 0), false},
		{"unknown flag", "unknown multifd packet flags 0x100", multifdPacket(1<<8, "pc.ram", PageSize, 0), false},
		{"magic", "multifd packet magic", append([]byte{0}, multifdPacket(0, "pc.ram", 0)[1:]...), true},
		{"too many pages", "at most 128", func() []byte {
			p := multifdPacket(0, "pc.ram", 0)
			binary.BigEndian.PutUint32(p[12:], 129)
			return p
		}(), true},
		{"no block", "without a block name", multifdPacket(0, "", PageSize, 0), true},
		{"misaligned", "not page-aligned", multifdPacket(0, "pc.ram", PageSize, 0x10), true},
		{"truncated", "truncated in packet header", multifdPacket(0, "pc.ram", PageSize, 0)[:100], true},
		{"truncated page", "truncated in page", append(multifdPacket(0, "pc.ram", PageSize, 0), 1, 2, 3), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append(slices.Clone(hello), tc.packet...)
			if !strings.HasPrefix(tc.name, "truncated") {
				in = append(in, make([]byte, 3*PageSize)...)
			}
			_, sum, out := feedMultifd(t, in, len(in)/2)
			if !bytes.Equal(out, in) {
				t.Fatal("output differs from input")
			}
			got := sum.Refused
			if tc.malformed {
				if !errors.Is(sum.Err, ErrMalformed) {
					t.Fatalf("err %v", sum.Err)
				}
				got = sum.Err.Error()
			} else if sum.Err != nil {
				t.Fatalf("err %v", sum.Err)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	_, sum, _ := feedMultifd(t, []byte("not a multifd channel, long enough for a handshake of 64 bytes......"))
	if !errors.Is(sum.Err, ErrMalformed) || sum.Channel != -1 {
		t.Errorf("bad handshake: %v", sum.Err)
	}
}

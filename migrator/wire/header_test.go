package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []StreamHeader{
		{Kind: KindControl, Session: "hostA-1"},
		{Kind: KindQEMU, Session: "hostA-1", Channel: 2},
		{Kind: KindFlush, Session: strings.Repeat("x", MaxSession), Channel: 65535},
		{Kind: KindQEMU, Session: "a_B-9"},
	} {
		var b bytes.Buffer
		if err := WriteHeader(&b, h); err != nil {
			t.Fatalf("write %+v: %v", h, err)
		}
		b.WriteString("payload")
		got, err := ReadHeader(iotest.OneByteReader(&b))
		if err != nil || got != h {
			t.Errorf("read %+v, %v; want %+v", got, err, h)
		}
		if rest := b.String(); rest != "payload" {
			t.Errorf("header read consumed payload: left %q", rest)
		}
	}
}

func TestHeaderLayout(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHeader(&b, StreamHeader{Kind: KindQEMU, Session: "s1", Channel: 0x0102}); err != nil {
		t.Fatal(err)
	}
	want := []byte{'N', 'F', 'H', 'S', 1, 2, 2, 's', '1', 1, 2}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("header bytes %x, want %x", b.Bytes(), want)
	}
}

func TestWriteHeaderInvalid(t *testing.T) {
	for _, h := range []StreamHeader{
		{Kind: 0, Session: "s"},
		{Kind: KindQEMUCoded + 1, Session: "s"},
		{Kind: KindControl},
		{Kind: KindControl, Session: "a b"},
		{Kind: KindControl, Session: "a/b"},
		{Kind: KindControl, Session: strings.Repeat("x", MaxSession+1)},
	} {
		var b bytes.Buffer
		if err := WriteHeader(&b, h); !errors.Is(err, ErrMalformed) {
			t.Errorf("write %+v: %v, want ErrMalformed", h, err)
		}
		if b.Len() != 0 {
			t.Errorf("write %+v wrote %d bytes", h, b.Len())
		}
	}
}

func TestReadHeaderStrict(t *testing.T) {
	good := []byte{'N', 'F', 'H', 'S', 1, 1, 2, 's', '1', 0, 0}
	mut := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, io.EOF, ""},
		{"short fixed", good[:3], io.ErrUnexpectedEOF, ""},
		{"short session", good[:8], io.ErrUnexpectedEOF, ""},
		{"short channel", good[:10], io.ErrUnexpectedEOF, ""},
		{"magic", mut(0, 'X'), ErrMalformed, "bad magic"},
		{"version", mut(4, 2), ErrMalformed, "version 2"},
		{"kind 0", mut(5, 0), ErrMalformed, "kind 0"},
		{"kind 9", mut(5, 9), ErrMalformed, "kind 9"},
		{"session length 0", mut(6, 0), ErrMalformed, "length 0"},
		{"session length big", mut(6, MaxSession+1), ErrMalformed, "length 65"},
		{"session chars", mut(7, ' '), ErrMalformed, "not in"},
	} {
		_, err := ReadHeader(bytes.NewReader(tc.in))
		if !errors.Is(err, tc.want) || !strings.Contains(errString(err), tc.msg) {
			t.Errorf("%s: %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func FuzzReadHeader(f *testing.F) {
	f.Add([]byte{'N', 'F', 'H', 'S', 1, 2, 2, 's', '1', 0, 3})
	f.Add([]byte{'N', 'F', 'H', 'S', 1, 1, 64})
	f.Add([]byte("NFHS"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		h, err := ReadHeader(r)
		if err != nil {
			return
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("accepted invalid header %+v: %v", h, err)
		}
		var b bytes.Buffer
		if err := WriteHeader(&b, h); err != nil {
			t.Fatalf("cannot write back %+v: %v", h, err)
		}
		used := len(in) - r.Len()
		if !bytes.Equal(b.Bytes(), in[:used]) {
			t.Fatalf("re-encoding %x differs from input %x", b.Bytes(), in[:used])
		}
	})
}

package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type hello struct {
	Source string `json:"source"`
	N      int    `json:"n"`
}

func TestFrameRoundTrip(t *testing.T) {
	var b bytes.Buffer
	msgs := []hello{{"hostA", 1}, {"hostB", 2}}
	for i, m := range msgs {
		if err := WriteFrame(&b, uint8(i+1), m); err != nil {
			t.Fatal(err)
		}
	}
	r := iotest.OneByteReader(&b)
	for i, want := range msgs {
		typ, body, err := ReadFrame(r)
		if err != nil {
			t.Fatal(err)
		}
		var got hello
		if err := json.Unmarshal(body, &got); err != nil || got != want || typ != uint8(i+1) {
			t.Errorf("frame %d: type %d %+v %v, want %d %+v", i, typ, got, err, i+1, want)
		}
	}
	if _, _, err := ReadFrame(r); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

func TestFrameLayout(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFrame(&b, 7, map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0, 0, 0, 7, 7}, `{"a":1}`...)
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("frame bytes %q, want %q", b.Bytes(), want)
	}
}

func frame(n uint32, typ uint8, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	return append(append(b, typ), body...)
}

func TestReadFrameStrict(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"short length", []byte{0, 0}, io.ErrUnexpectedEOF, ""},
		{"no type", []byte{0, 0, 0, 1}, io.ErrUnexpectedEOF, ""},
		{"short body", frame(10, 1, `{"a"`), io.ErrUnexpectedEOF, "10 bytes"},
		{"empty", frame(0, 1, ""), ErrMalformed, "empty body"},
		{"oversize", frame(MaxFrame+1, 1, "{}"), ErrFrameTooLarge, "1048577 bytes, limit 1048576"},
		{"huge", frame(0xffffffff, 1, ""), ErrFrameTooLarge, "limit"},
		{"not json", frame(3, 1, "{x}"), ErrMalformed, "not valid JSON"},
	} {
		_, _, err := ReadFrame(bytes.NewReader(tc.in))
		if !errors.Is(err, tc.want) || !strings.Contains(errString(err), tc.msg) {
			t.Errorf("%s: %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

func TestWriteFrameLimits(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFrame(&b, 1, strings.Repeat("x", MaxFrame)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversize write: %v", err)
	}
	if err := WriteFrame(&b, 1, func() {}); err == nil {
		t.Error("unencodable value accepted")
	}
	if b.Len() != 0 {
		t.Errorf("failed writes wrote %d bytes", b.Len())
	}
	max := strings.Repeat("x", MaxFrame-2) // two quotes make MaxFrame
	if err := WriteFrame(&b, 1, max); err != nil {
		t.Fatalf("largest frame: %v", err)
	}
	if _, body, err := ReadFrame(&b); err != nil || len(body) != MaxFrame {
		t.Errorf("largest frame read back: %d bytes, %v", len(body), err)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(frame(2, 1, "{}"))
	f.Add(frame(7, 3, `{"a":1}`))
	f.Add(frame(0, 0, ""))
	f.Add(frame(MaxFrame+1, 1, "{}"))
	f.Fuzz(func(t *testing.T, in []byte) {
		typ, body, err := ReadFrame(bytes.NewReader(in))
		if err != nil {
			return
		}
		if len(body) == 0 || len(body) > MaxFrame || !json.Valid(body) {
			t.Fatalf("accepted bad body %q", body)
		}
		var b bytes.Buffer
		if err := WriteFrame(&b, typ, json.RawMessage(body)); err != nil {
			t.Fatalf("cannot write back: %v", err)
		}
	})
}

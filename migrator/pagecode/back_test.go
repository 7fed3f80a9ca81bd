package pagecode

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
)

func TestBackRoundTrip(t *testing.T) {
	var link bytes.Buffer
	w := NewBackWriter(&link)
	w.Write([]byte("SHUT"))
	w.Ack(7)
	w.Write(bytes.Repeat([]byte{9}, maxBackRaw+5))
	w.Ack(9)
	var acks []uint64
	got, err := io.ReadAll(NewBackReader(&link, func(s uint64) { acks = append(acks, s) }))
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("SHUT"), bytes.Repeat([]byte{9}, maxBackRaw+5)...); !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	if !slices.Equal(acks, []uint64{7, 9}) {
		t.Fatalf("acks %v", acks)
	}
}

// Whatever the way back delivers, the reader yields bytes and acks or
// fails with ErrMalformed; it never panics.
func FuzzBackReader(f *testing.F) {
	var link bytes.Buffer
	w := NewBackWriter(&link)
	w.Write([]byte("abc"))
	w.Ack(300)
	f.Add(link.Bytes())
	f.Add([]byte{backRaw, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := io.ReadAll(NewBackReader(bytes.NewReader(b), func(uint64) {}))
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v", err)
		}
	})
}

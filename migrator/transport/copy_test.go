package transport

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// io.Copy on a *Stream goes through ReadFrom and WriteTo (large buffer),
// moves every byte in order, counts them, and ends at the peer's CloseWrite.
func TestStreamReadFromWriteTo(t *testing.T) {
	if _, ok := any(&Stream{}).(io.ReaderFrom); !ok {
		t.Fatal("*Stream is not an io.ReaderFrom")
	}
	if _, ok := any(&Stream{}).(io.WriterTo); !ok {
		t.Fatal("*Stream is not an io.WriterTo")
	}
	_, _, ab, ba := pair(t)
	ctx := ctxT(t)
	data := make([]byte, 3*copyBufSize+12345)
	rand.Read(data)
	s, err := ab.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindQEMU, Session: "copy"})
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() {
		n, err := io.Copy(s, struct{ io.Reader }{bytes.NewReader(data)})
		if err == nil && n != int64(len(data)) {
			err = errors.New("short copy")
		}
		if err == nil {
			err = s.CloseWrite()
		}
		sent <- err
	}()
	rs, _, err := ba.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if n, err := io.Copy(struct{ io.Writer }{&got}, rs); err != nil || n != int64(len(data)) {
		t.Fatalf("received %d bytes, %v; want %d", n, err, len(data))
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Error("received bytes differ from the sent ones")
	}
	var hb bytes.Buffer
	wire.WriteHeader(&hb, s.Header())
	hdr := uint64(hb.Len())
	if out, _ := s.Stats(); out != uint64(len(data))+hdr {
		t.Errorf("sender counted %d bytes, want %d", out, uint64(len(data))+hdr)
	}
	if _, in := rs.Stats(); in != uint64(len(data))+hdr {
		t.Errorf("receiver counted %d bytes, want %d", in, uint64(len(data))+hdr)
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

type failReader struct{ err error }

func (r failReader) Read(p []byte) (int, error) { return 0, r.err }

// A writer that takes less than it was given without saying why, and a
// reader's error, end the copy with an error.
func TestCopyCountErrors(t *testing.T) {
	if n, err := copyCount(shortWriter{}, bytes.NewReader(make([]byte, 100))); !errors.Is(err, io.ErrShortWrite) || n != 50 {
		t.Errorf("short writer: %d, %v; want 50, io.ErrShortWrite", n, err)
	}
	boom := errors.New("boom")
	if _, err := copyCount(io.Discard, failReader{boom}); !errors.Is(err, boom) {
		t.Errorf("failing reader: %v, want boom", err)
	}
	if n, err := copyCount(io.Discard, failReader{io.EOF}); err != nil || n != 0 {
		t.Errorf("empty reader: %d, %v; want 0, nil", n, err)
	}
}

package transport

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// unixPair returns the two ends of a unix stream connection.
func unixPair(t testing.TB) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c1, err := net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c1.Close(); c2.Close() })
	return c1, c2
}

type pipeResult struct {
	sent, received int64
	err            error
}

// migrationChannel connects qemuSrc → (Pipe on A) → QUIC stream → (Pipe on
// B) → qemuDst, as one QEMU migration channel does.
func migrationChannel(t *testing.T, ctxA, ctxB context.Context) (qemuSrc, qemuDst *net.UnixConn, resA, resB chan pipeResult) {
	t.Helper()
	_, _, ab, ba := pair(t)
	qemuSrc, agentSrc := unixPair(t)
	agentDst, qemuDst := unixPair(t)
	resA, resB = make(chan pipeResult, 1), make(chan pipeResult, 1)
	s, err := ab.OpenStream(ctxA, wire.StreamHeader{Kind: wire.KindQEMU, Session: "hostA-1"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		var r pipeResult
		r.sent, r.received, r.err = Pipe(ctxA, agentSrc, s)
		resA <- r
	}()
	go func() {
		rs, _, err := ba.AcceptStream(ctxB)
		if err != nil {
			resB <- pipeResult{err: err}
			return
		}
		var r pipeResult
		r.sent, r.received, r.err = Pipe(ctxB, agentDst, rs)
		resB <- r
	}()
	return qemuSrc, qemuDst, resA, resB
}

// send writes n random bytes and half-closes; it returns their hash.
func send(c *net.UnixConn, n int) (sum [32]byte, err error) {
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(c, h), rand.Reader, int64(n)); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, c.CloseWrite()
}

// recv reads to EOF and returns the byte count and hash.
func recv(c *net.UnixConn) (int64, [32]byte, error) {
	h := sha256.New()
	n, err := io.Copy(h, c)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return n, sum, err
}

func checkTransfer(t *testing.T, what string, c1, c2 *net.UnixConn, size int) {
	t.Helper()
	sumc := make(chan [32]byte, 1)
	go func() {
		s, err := send(c1, size)
		if err != nil {
			t.Errorf("%s: sending: %v", what, err)
		}
		sumc <- s
	}()
	n, got, err := recv(c2)
	if want := <-sumc; err != nil || n != int64(size) || got != want {
		t.Errorf("%s: received %d bytes (%v), want %d; checksum match %v", what, n, err, size, got == want)
	}
}

func checkPipes(t *testing.T, resA, resB chan pipeResult, fwd, back int64) {
	t.Helper()
	a, b := <-resA, <-resB
	if a.err != nil || b.err != nil {
		t.Fatalf("pipes: source %v, destination %v", a.err, b.err)
	}
	if a.sent != fwd || b.received != fwd || a.received != back || b.sent != back {
		t.Errorf("source pipe sent %d received %d, destination sent %d received %d; want %d forward, %d back",
			a.sent, a.received, b.sent, b.received, fwd, back)
	}
}

// The source ends first; the destination answers after the EOF (the
// return path keeps working after a half-close).
func TestPipeSourceEndsFirst(t *testing.T) {
	src, dst, resA, resB := migrationChannel(t, ctxT(t), ctxT(t))
	checkTransfer(t, "forward", src, dst, 4<<20)
	checkTransfer(t, "back", dst, src, 1<<20)
	checkPipes(t, resA, resB, 4<<20, 1<<20)
}

func TestPipeDestinationEndsFirst(t *testing.T) {
	src, dst, resA, resB := migrationChannel(t, ctxT(t), ctxT(t))
	checkTransfer(t, "back", dst, src, 2<<20)
	checkTransfer(t, "forward", src, dst, 3<<20)
	checkPipes(t, resA, resB, 3<<20, 2<<20)
}

func TestPipeBothWaysAtOnce(t *testing.T) {
	src, dst, resA, resB := migrationChannel(t, ctxT(t), ctxT(t))
	done := make(chan struct{})
	go func() {
		checkTransfer(t, "back", dst, src, 3<<20)
		close(done)
	}()
	checkTransfer(t, "forward", src, dst, 5<<20)
	<-done
	checkPipes(t, resA, resB, 5<<20, 3<<20)
}

func TestPipeCanceled(t *testing.T) {
	ctxA, cancel := context.WithCancel(ctxT(t))
	src, dst, resA, resB := migrationChannel(t, ctxA, ctxT(t))
	if _, err := src.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(dst, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if a := <-resA; !errors.Is(a.err, context.Canceled) {
		t.Errorf("source pipe: %v, want context.Canceled", a.err)
	}
	if b := <-resB; b.err == nil {
		t.Error("destination pipe ended without error after the source was canceled")
	}
	// Both QEMU ends see their connection end.
	if _, err := io.ReadAll(src); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Logf("source end: %v", err)
	}
	if _, err := io.ReadAll(dst); err != nil {
		t.Logf("destination end: %v", err)
	}
}

func TestPipeNeedsHalfClose(t *testing.T) {
	_, _, ab, ba := pair(t)
	ctx := ctxT(t)
	s, err := ab.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindQEMU, Session: "x"})
	if err != nil {
		t.Fatal(err)
	}
	s.CloseWrite()
	rs, _, err := ba.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l1, l2 := net.Pipe()
	defer l2.Close()
	if _, _, err := Pipe(ctx, l1, rs); err == nil {
		t.Error("Pipe with a local conn that cannot half-close succeeded")
	}
}

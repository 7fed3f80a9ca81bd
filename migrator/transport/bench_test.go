package transport

import (
	"io"
	"sync"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// BenchmarkStreamThroughput moves data A→B on loopback through 1 and 3
// parallel streams of one connection (MB/s is the total).
func BenchmarkStreamThroughput(b *testing.B) {
	for _, streams := range []int{1, 3} {
		b.Run(map[int]string{1: "streams=1", 3: "streams=3"}[streams], func(b *testing.B) {
			benchStreams(b, streams)
		})
	}
}

func benchStreams(b *testing.B, streams int) {
	p := newPKI(b)
	peers := peersPath(b)
	na := startNode(b, p.identity(b, "hostA"), peers)
	nb := startNode(b, p.identity(b, "hostB"), peers)
	writePeers(b, peers, map[string]*testNode{"hostB": nb})
	ctx := ctxT(b)
	ab, err := na.Dial(ctx, "hostB")
	if err != nil {
		b.Fatal(err)
	}
	ba := nb.accepted(b)
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	b.SetBytes(int64(chunk * streams))
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range streams {
		s, err := ab.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindQEMU, Session: "bench", Channel: uint16(i)})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			for range b.N {
				if _, err := s.Write(buf); err != nil {
					b.Error(err)
					return
				}
			}
			s.CloseWrite()
		})
	}
	for range streams {
		rs, _, err := ba.AcceptStream(ctx)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			if n, err := io.Copy(io.Discard, rs); err != nil || n != int64(b.N*chunk) {
				b.Errorf("received %d, %v", n, err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkPipe moves data the way a QEMU channel does: unix socket → Pipe
// → QUIC stream → Pipe → unix socket.
func BenchmarkPipe(b *testing.B) {
	const chunk = 1 << 20
	b.SetBytes(chunk)
	p := newPKI(b)
	peers := peersPath(b)
	na := startNode(b, p.identity(b, "hostA"), peers)
	nb := startNode(b, p.identity(b, "hostB"), peers)
	writePeers(b, peers, map[string]*testNode{"hostB": nb})
	ctx := ctxT(b)
	ab, err := na.Dial(ctx, "hostB")
	if err != nil {
		b.Fatal(err)
	}
	ba := nb.accepted(b)
	src, agentSrc := unixPair(b)
	agentDst, dst := unixPair(b)
	s, err := ab.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindQEMU, Session: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { Pipe(ctx, agentSrc, s) })
	wg.Go(func() {
		rs, _, err := ba.AcceptStream(ctx)
		if err != nil {
			b.Error(err)
			return
		}
		Pipe(ctx, agentDst, rs)
	})
	b.ResetTimer()
	wg.Go(func() {
		buf := make([]byte, chunk)
		for range b.N {
			src.Write(buf)
		}
		src.CloseWrite()
	})
	if n, err := io.Copy(io.Discard, dst); err != nil || n != int64(b.N*chunk) {
		b.Errorf("received %d, %v", n, err)
	}
	dst.CloseWrite()
	wg.Wait()
}

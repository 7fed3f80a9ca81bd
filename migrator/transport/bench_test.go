package transport

import (
	"context"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

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

// BenchmarkPipe moves data the way a QEMU channel does: unix socket → copy
// → QUIC stream → copy → unix socket, both agents in this process. The
// copies are Pipe's, io.Copy's on a *Stream (what migrator/session does:
// it finds Stream's ReadFrom and WriteTo), and io.Copy's with the Stream
// hidden behind a plain io.ReadWriter (32 KiB copies). cpu-ns/B is the
// process's CPU time (user+system, both agents) per byte moved: on a busy
// machine, where the agents share cores with QEMU, it is what bounds the
// rate.
func BenchmarkPipe(b *testing.B) {
	b.Run("copy=Pipe", func(b *testing.B) { benchPipe(b, pipeCopy, false) })
	b.Run("copy=io.Copy", func(b *testing.B) { benchPipe(b, ioCopy(false), false) })
	b.Run("copy=io.Copy32k", func(b *testing.B) { benchPipe(b, ioCopy(true), false) })
	b.Run("copy=Pipe/lane", func(b *testing.B) { benchPipe(b, pipeCopy, true) })
}

type copier func(ctx context.Context, local *net.UnixConn, s *Stream)

func pipeCopy(ctx context.Context, local *net.UnixConn, s *Stream) { Pipe(ctx, local, s) }

// ioCopy copies the way migrator/session's pipe does; hide: through a
// type that only has Read and Write.
func ioCopy(hide bool) copier {
	return func(ctx context.Context, local *net.UnixConn, s *Stream) {
		var rw io.ReadWriter = s
		if hide {
			rw = struct{ io.ReadWriter }{s}
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			io.Copy(rw, local)
			s.CloseWrite()
		})
		wg.Go(func() {
			io.Copy(local, rw)
			local.CloseWrite()
		})
		wg.Wait()
		local.Close()
	}
}

// benchPipe moves the data on a QUIC stream, or on a lane.
func benchPipe(b *testing.B, cp copier, lane bool) {
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
	open := ab.OpenStream
	if lane {
		open = ab.OpenLane
	}
	s, err := open(ctx, wire.StreamHeader{Kind: wire.KindQEMU, Session: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { cp(ctx, agentSrc, s) })
	wg.Go(func() {
		rs, _, err := ba.AcceptStream(ctx)
		if err != nil {
			b.Error(err)
			return
		}
		cp(ctx, agentDst, rs)
	})
	b.ResetTimer()
	cpu0 := cpuTime()
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
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*chunk), "cpu-ns/B")
	dst.CloseWrite()
	wg.Wait()
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

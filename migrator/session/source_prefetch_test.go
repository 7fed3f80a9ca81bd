package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/prefetch"
)

// socketPair is a connected pair of unix stream sockets.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	var c [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		fc, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		c[i] = fc.(*net.UnixConn)
		t.Cleanup(func() { c[i].Close() })
	}
	return c[0], c[1]
}

// The main channel's pipe carries the destination's return path to QEMU
// through the injector: whole, with the working set's requests added.
func TestPrefetchPipe(t *testing.T) {
	in, err := prefetch.New(prefetch.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &source{prefetch: in, log: slog.New(slog.DiscardHandler)}
	qemu, local := socketPair(t)
	st, peer := socketPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go pipe(ctx, s.prefetchConn(local), st, nil)
	in.Start(ctx, []prefetch.Block{{Name: "pc.ram", Used: 64 << 20}}, []prefetch.Range{{Block: "pc.ram", Len: 1 << 20}})

	req := func(typ uint16, start uint64, name string) []byte {
		b := binary.BigEndian.AppendUint16(nil, typ)
		n := 12
		if name != "" {
			n += 1 + len(name)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		b = binary.BigEndian.AppendUint64(b, start)
		b = binary.BigEndian.AppendUint32(b, 4096)
		if name != "" {
			b = append(append(b, byte(len(name))), name...)
		}
		return b
	}
	back := append(req(3, 0x10000, "pc.ram"), req(4, 0x20000, "")...)
	go io.Copy(io.Discard, peer) // the main channel, drained
	peer.Write(back[:20])
	go func() { // QEMU's pages: the window moves on
		qemu.Write(make([]byte, 8<<20))
		qemu.CloseWrite()
	}()
	waitFor(t, "the working set injected", func() bool { return in.Stats().Requests == 16 })
	peer.Write(back[20:])
	peer.CloseWrite()
	got, err := io.ReadAll(qemu)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(got, back[:len(back)-16]); i < 0 || !bytes.HasSuffix(got, back[len(back)-16:]) {
		t.Fatalf("destination's requests not in what qemu read (%d bytes)", len(got))
	}
	if stats := in.Stats(); stats.Requests != 16 || stats.Pages != 256 || len(got) != len(back)+16*len(req(3, 0, "pc.ram")) {
		t.Fatalf("stats %+v, qemu read %d bytes", stats, len(got))
	}
}

// Prefetch is on by default and when asked for, if the move may reach
// post-copy; off when asked off.
func TestPrefetchSwitch(t *testing.T) {
	for _, tc := range []struct {
		prefetch, postcopy string
		on                 bool
	}{
		{"", api.PostcopyAuto, true}, // the default
		{api.PrefetchNone, api.PostcopyAuto, false},
		{api.PrefetchNone, api.PostcopyAlways, false},
		{api.PrefetchWorkingSet, api.PostcopyAuto, true},
		{api.PrefetchWorkingSet, api.PostcopyNever, false},
	} {
		r := api.MigrateRequest{VM: "fw1", To: "hostB", Postcopy: tc.postcopy, PostcopyPrefetch: tc.prefetch}
		r.Defaults()
		s := &source{cfg: SourceConfig{Request: r}, log: slog.New(slog.DiscardHandler)}
		s.newPrefetch()
		if (s.prefetch != nil) != tc.on {
			t.Errorf("prefetch %q, postcopy %s: on %v, want %v", tc.prefetch, tc.postcopy, s.prefetch != nil, tc.on)
		}
	}
}

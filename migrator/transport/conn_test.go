package transport

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// pair starts nodes hostA and hostB (same CA) and dials B from A.
func pair(t *testing.T, opts ...nodeOpt) (a, b *testNode, ab, ba *Conn) {
	t.Helper()
	p := newPKI(t)
	peers := peersPath(t)
	a = startNode(t, p.identity(t, "hostA"), peers, opts...)
	b = startNode(t, p.identity(t, "hostB"), peers, opts...)
	writePeers(t, peers, map[string]*testNode{"hostA": a, "hostB": b})
	ab, err := a.Dial(ctxT(t), "hostB")
	if err != nil {
		t.Fatal(err)
	}
	return a, b, ab, b.accepted(t)
}

func TestMutualAuth(t *testing.T) {
	_, _, ab, ba := pair(t)
	if ab.Peer() != "hostB" || ba.Peer() != "hostA" {
		t.Errorf("dialer sees %q, acceptor sees %q", ab.Peer(), ba.Peer())
	}
	ctx := ctxT(t)
	s, err := ab.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindControl, Session: "hostA-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.WriteFrame(s, 1, map[string]string{"source": "hostA"}); err != nil {
		t.Fatal(err)
	}
	rs, h, err := ba.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h != (wire.StreamHeader{Kind: wire.KindControl, Session: "hostA-1"}) || rs.Header() != h {
		t.Errorf("header %+v", h)
	}
	typ, body, err := wire.ReadFrame(rs)
	var m map[string]string
	if err != nil || typ != 1 || json.Unmarshal(body, &m) != nil || m["source"] != "hostA" {
		t.Fatalf("frame %d %s %v", typ, body, err)
	}
	if err := wire.WriteFrame(rs, 2, "ready"); err != nil {
		t.Fatal(err)
	}
	rs.CloseWrite()
	if typ, body, err := wire.ReadFrame(s); err != nil || typ != 2 || string(body) != `"ready"` {
		t.Fatalf("reply %d %s %v", typ, body, err)
	}
	if _, _, err := wire.ReadFrame(s); err != io.EOF {
		t.Errorf("after the peer's CloseWrite: %v, want io.EOF", err)
	}
}

func TestStreamsWithHeaders(t *testing.T) {
	_, _, ab, ba := pair(t)
	ctx := ctxT(t)
	heads := []wire.StreamHeader{
		{Kind: wire.KindControl, Session: "hostA-7"},
		{Kind: wire.KindQEMU, Session: "hostA-7", Channel: 0},
		{Kind: wire.KindQEMU, Session: "hostA-7", Channel: 1},
		{Kind: wire.KindFlush, Session: "hostA-7"},
	}
	for i, h := range heads {
		s, err := ab.OpenStream(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		s.Write(bytes.Repeat([]byte{byte(i)}, 1000))
		s.Close()
	}
	got := map[wire.StreamHeader][]byte{}
	for range heads {
		s, h, err := ba.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got[h], err = io.ReadAll(s)
		if err != nil {
			t.Fatal(err)
		}
		s.CloseWrite()
	}
	for i, h := range heads {
		if !bytes.Equal(got[h], bytes.Repeat([]byte{byte(i)}, 1000)) {
			t.Errorf("stream %+v: got %d bytes", h, len(got[h]))
		}
	}
	if _, err := ab.OpenStream(ctx, wire.StreamHeader{Kind: 9, Session: "x"}); err == nil {
		t.Error("opened a stream with a bad header")
	}
}

func TestBadStreamHeaderSkipped(t *testing.T) {
	_, b, ab, ba := pair(t)
	ctx := ctxT(t)
	raw, err := ab.qc.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	good := wire.StreamHeader{Kind: wire.KindQEMU, Session: "s", Channel: 3}
	s, err := ab.OpenStream(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	s.CloseWrite()
	_, h, err := ba.AcceptStream(ctx)
	if err != nil || h != good {
		t.Fatalf("accepted %+v %v, want %+v", h, err, good)
	}
	b.log.waitLog(t, "refused stream", "bad magic")
	if _, err := raw.Read(make([]byte, 1)); err == nil {
		t.Error("the refused stream was not reset")
	}
}

func TestStats(t *testing.T) {
	_, _, ab, ba := pair(t)
	ctx := ctxT(t)
	h := wire.StreamHeader{Kind: wire.KindQEMU, Session: "s1", Channel: 1}
	var hb bytes.Buffer
	wire.WriteHeader(&hb, h)
	const n = 3 << 20
	s, err := ab.OpenStream(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		s.Write(make([]byte, n))
		s.CloseWrite()
	}()
	rs, _, err := ba.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, rs)
	if err != nil || got != n {
		t.Fatalf("read %d, %v", got, err)
	}
	rs.Write([]byte("done"))
	rs.CloseWrite()
	io.ReadAll(s)
	want := uint64(n + hb.Len())
	if sent, recv := ab.Stats(); sent != want || recv != 4 {
		t.Errorf("dialer stats sent %d received %d, want %d and 4", sent, recv, want)
	}
	if sent, recv := ba.Stats(); sent != 4 || recv != want {
		t.Errorf("acceptor stats sent %d received %d, want 4 and %d", sent, recv, want)
	}
	if sent, recv := s.Stats(); sent != want || recv != 4 {
		t.Errorf("stream stats sent %d received %d", sent, recv)
	}
}

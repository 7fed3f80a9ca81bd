package transport

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/pki"
)

// testPKI is a CA directory with certificates issued on demand.
type testPKI struct{ dir string }

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := pki.NewCA(dir, "test CA", time.Hour); err != nil {
		t.Fatal(err)
	}
	return &testPKI{dir: dir}
}

func (p *testPKI) identity(t testing.TB, host string) *pki.Identity {
	t.Helper()
	if _, err := os.Stat(filepath.Join(p.dir, pki.CertFile(host))); err != nil {
		if err := pki.Issue(p.dir, host, nil, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	id, err := pki.LoadIdentity(filepath.Join(p.dir, pki.CAFile), filepath.Join(p.dir, pki.CertFile(host)), filepath.Join(p.dir, pki.KeyFile(host)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// logBuf collects a node's log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLog waits until the log holds all of subs.
func (l *logBuf) waitLog(t testing.TB, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, ok := l.String(), true
		for _, sub := range subs {
			ok = ok && strings.Contains(s, sub)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log does not contain %q:\n%s", subs, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testNode is a node on 127.0.0.1 that hands accepted connections to conns.
type testNode struct {
	*Node
	conns chan *Conn
	log   *logBuf
}

type nodeOpt func(*Config)

func idle(d time.Duration) nodeOpt {
	return func(c *Config) { c.IdleTimeout, c.KeepAlive = d, d/4 }
}

func startNode(t testing.TB, id *pki.Identity, peers string, opts ...nodeOpt) *testNode {
	t.Helper()
	return startNodeAt(t, id, "127.0.0.1:0", peers, opts...)
}

func startNodeAt(t testing.TB, id *pki.Identity, addr, peers string, opts ...nodeOpt) *testNode {
	t.Helper()
	tn := &testNode{conns: make(chan *Conn, 16), log: &logBuf{}}
	cfg := Config{
		Identity: id, Listen: addr, Peers: peers,
		Logger: slog.New(slog.NewTextHandler(tn.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Accept: func(_ context.Context, c *Conn) { tn.conns <- c },
	}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		n.Close()
		if t.Failed() {
			t.Logf("log of %s:\n%s", id.Name, tn.log)
		}
	})
	return tn
}

// accepted waits for the next connection the node accepted.
func (tn *testNode) accepted(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-tn.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

// peersPath is where a test's peers file goes (written by writePeers).
func peersPath(t testing.TB) string { return filepath.Join(t.TempDir(), "peers") }

// writePeers writes a peers file naming each host's node address.
func writePeers(t testing.TB, path string, nodes map[string]*testNode) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# test peers\n\n")
	for h, n := range nodes {
		fmt.Fprintf(&b, "%s %s # node\n", h, n.Addr())
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// die releases n's sockets without a word to its peers, as a killed
// process would.
func die(n *Node) {
	n.udp.Close()
	if n.lanes != nil {
		n.lanes.Close()
	}
}

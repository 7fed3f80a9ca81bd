package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/pki"
	"github.com/nfhandoff/nfhandoff/migrator/transport"
)

// recHandoff records the Handoff calls of both ends in one list.
type recHandoff struct {
	mu    *sync.Mutex
	calls *[]string
	side  string

	stats      api.HandoffStats // what Stats returns
	beginErr   error            // what Begin returns
	peer       netip.Addr       // Begin's peer
	onRollback func()           // runs in Rollback
}

func (h *recHandoff) add(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.calls = append(*h.calls, h.side+"."+name)
}

func (h *recHandoff) Attach(context.Context, api.VMSpec, handoff.Tap) error {
	h.add("Attach")
	return nil
}
func (h *recHandoff) Detach(context.Context, api.VMSpec) error { h.add("Detach"); return nil }
func (h *recHandoff) Begin(_ context.Context, _ api.VMSpec, peer netip.Addr) error {
	h.add("Begin")
	h.mu.Lock()
	h.peer = peer
	h.mu.Unlock()
	return h.beginErr
}
func (h *recHandoff) Started(context.Context, api.VMSpec) error    { h.add("Started"); return nil }
func (h *recHandoff) Prepare(context.Context, api.VMSpec) error    { h.add("Prepare"); return nil }
func (h *recHandoff) Switchover(context.Context, api.VMSpec) error { h.add("Switchover"); return nil }
func (h *recHandoff) Rollback(context.Context, api.VMSpec) error {
	if h.onRollback != nil {
		h.onRollback()
	}
	h.add("Rollback")
	return nil
}
func (h *recHandoff) Stats(api.VMSpec) api.HandoffStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

// trace returns a hook that logs a QEMU's commands into the same list as
// the hand-off calls, as "<side>.qemu.<command>".
func (h *recHandoff) trace() func(string) {
	return func(cmd string) { h.add("qemu." + cmd) }
}

func (h *recHandoff) Resumed(_ context.Context, _ api.VMSpec, s handoff.Stream) error {
	h.add(fmt.Sprintf("Resumed(%v)", s != nil))
	if s != nil {
		_, err := s.Write([]byte("packets"))
		return err
	}
	return nil
}
func (h *recHandoff) Flushed(ctx context.Context, spec api.VMSpec, s handoff.Stream) error {
	var got []byte
	if s != nil {
		buf := make([]byte, 64)
		for {
			n, err := s.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
	}
	h.add(fmt.Sprintf("Flushed(%q)", got))
	return nil
}

// fakeAgent is the destination agent.
type fakeAgent struct {
	t       *testing.T
	mu      sync.Mutex
	vms     map[string]bool
	guests  []*fakeQEMU
	adopted []string
	release []string
	records map[string]api.Migration
	onCont  func() error
	// Given to the destination QEMUs it launches (see fakeQEMU).
	trace        func(string)
	postcopy     chan struct{}
	postcopyFail bool
	loaded       chan struct{}
	keepPaused   bool
}

func (a *fakeAgent) Admit(spec api.VMSpec) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.vms[spec.Name] {
		return fmt.Errorf("%w: %s", api.ErrExists, spec.Name)
	}
	a.vms[spec.Name] = true
	return nil
}

func (a *fakeAgent) Launch(ctx context.Context, spec api.VMSpec) (Guest, string, error) {
	g := newFakeQEMU(a.t, "destination")
	a.mu.Lock()
	g.mu.Lock()
	g.onCont, g.trace, g.postcopy, g.postcopyFail = a.onCont, a.trace, a.postcopy, a.postcopyFail
	g.loaded, g.keepPaused = a.loaded, a.keepPaused
	g.mu.Unlock()
	a.guests = append(a.guests, g)
	a.mu.Unlock()
	return g, g.dir, nil
}

func (a *fakeAgent) Adopt(spec api.VMSpec, g Guest) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.adopted = append(a.adopted, spec.Name)
	return nil
}

func (a *fakeAgent) Release(spec api.VMSpec) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.vms, spec.Name)
	a.release = append(a.release, spec.Name)
}

func (a *fakeAgent) Record(m api.Migration, persist bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if persist {
		a.records[m.ID] = m
	}
}

func (a *fakeAgent) Lookup(id string) (api.Migration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.records[id]
	return m, ok
}

func (a *fakeAgent) record(id string) api.Migration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.records[id]
}

func (a *fakeAgent) guest() *fakeQEMU {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.guests) == 0 {
		return nil
	}
	return a.guests[len(a.guests)-1]
}

// pair is a source node (hostA) and a destination node (hostB) on
// loopback with a destination Server.
type pair struct {
	a, b   *transport.Node
	agent  *fakeAgent
	srv    *Server
	calls  []string
	hA, hB *recHandoff
	log    *slog.Logger
}

// newPair makes the pair; opts adjust the destination Server's config.
func newPair(t *testing.T, opts ...func(*DestConfig)) *pair {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := pki.NewCA(dir, "test CA", time.Hour); err != nil {
		t.Fatal(err)
	}
	id := func(host string) *pki.Identity {
		if err := pki.Issue(dir, host, nil, time.Hour); err != nil {
			t.Fatal(err)
		}
		i, err := pki.LoadIdentity(filepath.Join(dir, pki.CAFile), filepath.Join(dir, pki.CertFile(host)), filepath.Join(dir, pki.KeyFile(host)))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	p := &pair{agent: &fakeAgent{t: t, vms: map[string]bool{}, records: map[string]api.Migration{}}}
	p.log = slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	p.hA = &recHandoff{calls: &p.calls, mu: &sync.Mutex{}, side: "src"}
	p.hB = &recHandoff{calls: &p.calls, mu: p.hA.mu, side: "dst"}
	dcfg := DestConfig{Host: "hostB", Agent: p.agent, Handoff: p.hB, Logger: p.log.With("end", "dst"),
		FlushTimeout: 5 * time.Second, CommitTimeout: 5 * time.Second, Poll: 20 * time.Millisecond}
	for _, o := range opts {
		o(&dcfg)
	}
	p.srv = NewServer(dcfg)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var err error
	p.b, err = transport.New(transport.Config{Identity: id("hostB"), Listen: "127.0.0.1:0", Logger: p.log.With("node", "B"),
		Accept: func(ctx context.Context, c *transport.Conn) { p.srv.Serve(ctx, FromTransport(c)) }})
	if err != nil {
		t.Fatal(err)
	}
	go p.b.Serve(ctx)
	peers := filepath.Join(t.TempDir(), "peers")
	if err := os.WriteFile(peers, []byte("hostB "+p.b.Addr().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.a, err = transport.New(transport.Config{Identity: id("hostA"), Peers: peers, Logger: p.log.With("node", "A")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.a.Close(); p.b.Close(); p.srv.Wait() })
	return p
}

func (p *pair) callList() []string {
	p.hA.mu.Lock()
	defer p.hA.mu.Unlock()
	return append([]string(nil), p.calls...)
}

// testWriter logs to t until the test's cleanups have run; later writes
// (goroutines of closed connections that log on their way out) are dropped,
// as t.Log after the test panics.
type testWriter struct {
	t    *testing.T
	mu   *sync.Mutex
	done *bool
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t: t, mu: &sync.Mutex{}, done: new(bool)}
	t.Cleanup(func() {
		w.mu.Lock()
		*w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Log(string(b))
	}
	return len(b), nil
}

func testSpec() api.VMSpec {
	s := api.VMSpec{Name: "fw1", MAC: "52:54:00:12:34:56", Address: "198.18.0.100/24", Gateway: "198.18.0.1"}
	s.Defaults()
	return s
}

// sourceConfig is a source session of fw1 from hostA to hostB.
func (p *pair) sourceConfig(g *fakeQEMU) SourceConfig {
	// The sessions' tests code pages (not the default): the fake QEMUs'
	// bytes go through the coders both ways.
	req := api.MigrateRequest{VM: "fw1", To: "hostB", Codec: api.CodecAuto}
	req.Defaults()
	return SourceConfig{
		ID: "hostA-1", Host: "hostA", Request: req, Spec: testSpec(), Guest: g, Dir: g.dir,
		Dial: func(ctx context.Context) (Conn, error) {
			c, err := p.a.Dial(ctx, "hostB")
			if err != nil {
				return nil, err
			}
			return FromTransport(c), nil
		},
		Handoff: p.hA, Logger: p.log.With("end", "src"),
		OutcomeTimeout: 10 * time.Second, Poll: 20 * time.Millisecond,
	}
}

// conn is the source's pooled connection.
func (p *pair) conn(t *testing.T) *transport.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := p.a.Dial(ctx, "hostB")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustMove runs the source session of cfg (30 s at most) and fails the
// test unless the guest moved and the migration completed.
func mustMove(t *testing.T, cfg SourceConfig) api.Migration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, out := RunSource(ctx, cfg)
	if out != Moved || m.State != api.MigrationCompleted {
		t.Fatalf("outcome %v state %s reason %q, want moved and completed", out, m.State, m.Reason)
	}
	return m
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var errTest = errors.New("test failure")

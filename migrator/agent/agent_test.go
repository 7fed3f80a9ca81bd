package agent

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/store"
)

// harness is one agent serving on a unix socket over a state dir.
type harness struct {
	t      *testing.T
	rt     *fakeRuntime
	guest  *fakeGuest
	dir    string
	agent  *Agent
	client *api.Client
	stop   func() // stops the agent (guests keep running) and closes the store
	// config, if set, edits each agent's Config before New.
	config func(*Config)
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, nil) }

// newHarnessWith is newHarness whose agents' Config config edits.
func newHarnessWith(t *testing.T, config func(*Config)) *harness {
	h := &harness{t: t, rt: newFakeRuntime(), guest: &fakeGuest{up: map[netip.Addr]api.GuestStatus{}}, dir: t.TempDir(),
		config: config}
	h.serve()
	t.Cleanup(func() { h.stop() })
	return h
}

// serve starts an agent over h.dir with h.rt.
func (h *harness) serve() {
	t := h.t
	st, err := store.Open(h.dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Host: "hostA", Store: st, Runtime: h.rt, Version: "test", QueryGuest: h.guest.query}
	if h.config != nil {
		h.config(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("", "nfh-agent-test")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(sockDir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ctx, ln) }()
	h.agent, h.client = a, api.NewClient(sock)
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
		st.Close()
		os.RemoveAll(sockDir)
	}
	// Serve reconciles before it accepts; wait until it answers.
	hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer hcancel()
	if _, err := h.client.Health(hctx); err != nil {
		t.Fatalf("agent not answering: %v", err)
	}
}

// restart stops the agent and starts a new one on the same state.
func (h *harness) restart() {
	h.stop()
	h.serve()
}

func spec(name string, n int) api.VMSpec {
	return api.VMSpec{
		Name:    name,
		MAC:     netMAC(n),
		Address: netip.AddrFrom4([4]byte{198, 18, 0, byte(100 + n)}).String() + "/24",
		Gateway: "198.18.0.1",
		VNFArgs: []string{"--wss", "64"},
	}
}

func netMAC(n int) string {
	return net.HardwareAddr{0x52, 0x54, 0, 0, 0, byte(n)}.String()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantErr(t *testing.T, err, target error, status int) *api.Error {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err %T is not an *api.Error", err)
	}
	if ae.Status != status {
		t.Fatalf("status = %d, want %d", ae.Status, status)
	}
	return ae
}

// waitState polls until the agent reports the VM in state.
func waitState(t *testing.T, c *api.Client, name, state string) api.VM {
	t.Helper()
	ctx := ctxT(t)
	for {
		vm, err := c.GetVM(ctx, name)
		if err == nil && vm.State == state {
			return vm
		}
		select {
		case <-ctx.Done():
			t.Fatalf("vm %s never reached %s (last %+v, %v)", name, state, vm, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

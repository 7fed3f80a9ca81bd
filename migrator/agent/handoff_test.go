package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// attachRec is a Handoff that records Attach and Detach.
type attachRec struct {
	handoff.Nop
	mu        sync.Mutex
	calls     []string
	attachErr error
}

func (h *attachRec) Attach(_ context.Context, spec api.VMSpec, tap handoff.Tap) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, fmt.Sprintf("Attach(%s,%s,%d)", spec.Name, tap.Name, tap.Ifindex))
	return h.attachErr
}

func (h *attachRec) Detach(_ context.Context, spec api.VMSpec) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "Detach("+spec.Name+")")
	return nil
}

func (h *attachRec) Rollback(_ context.Context, spec api.VMSpec) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "Rollback("+spec.Name+")")
	return nil
}

func (h *attachRec) Flushed(_ context.Context, spec api.VMSpec, flush handoff.Stream) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, fmt.Sprintf("Flushed(%s,%v)", spec.Name, flush != nil))
	return nil
}

func (h *attachRec) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

func (h *attachRec) setErr(err error) {
	h.mu.Lock()
	h.attachErr = err
	h.mu.Unlock()
}

func TestHandoffAttachDetach(t *testing.T) {
	ho := &attachRec{}
	h := newHarnessWith(t, func(c *Config) { c.Handoff = ho })
	ctx := ctxT(t)

	vm, err := h.client.StartVM(ctx, spec("fw1", 1))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("Attach(fw1,nfhtfw1,%d)", vm.PID)}
	if got := ho.list(); !slices.Equal(got, want) {
		t.Fatalf("after start: %q, want %q", got, want)
	}

	// A restarted agent attaches the re-adopted guest's tap again.
	h.restart()
	want = append(want, want[0])
	if got := ho.list(); !slices.Equal(got, want) {
		t.Fatalf("after re-adoption: %q, want %q", got, want)
	}

	if _, err := h.client.StopVM(ctx, "fw1"); err != nil {
		t.Fatal(err)
	}
	want = append(want, "Detach(fw1)")
	if got := ho.list(); !slices.Equal(got, want) {
		t.Fatalf("after stop: %q, want %q", got, want)
	}

	// A guest that dies is detached too.
	if _, err := h.client.StartVM(ctx, spec("fw2", 2)); err != nil {
		t.Fatal(err)
	}
	h.rt.kill("fw2", "killed")
	waitState(t, h.client, "fw2", api.StateFailed)
	if got := ho.list(); got[len(got)-1] != "Detach(fw2)" {
		t.Fatalf("after a crash: %q, want a Detach(fw2) last", got)
	}
}

func TestHandoffAttachFailureFailsStart(t *testing.T) {
	ho := &attachRec{}
	h := newHarnessWith(t, func(c *Config) { c.Handoff = ho })
	ctx := ctxT(t)
	ho.setErr(errors.New("tcx: no such device"))
	_, err := h.client.StartVM(ctx, spec("fw1", 1))
	if err == nil || !strings.Contains(err.Error(), "attaching the dataplane") || !strings.Contains(err.Error(), "tcx") {
		t.Fatalf("start with a failing attach: %v", err)
	}
	if _, err := h.client.GetVM(ctx, "fw1"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("record left behind: %v", err)
	}
	h.rt.mu.Lock()
	n := len(h.rt.live)
	h.rt.mu.Unlock()
	if n != 0 {
		t.Errorf("%d guests launched after a failed attach", n)
	}
	if got := ho.list(); slices.Contains(got, "Detach(fw1)") {
		t.Errorf("detached a tap never attached: %q", got)
	}
	ho.setErr(nil)
	if _, err := h.client.StartVM(ctx, spec("fw1", 1)); err != nil {
		t.Fatalf("start after the failure: %v", err)
	}
}

func TestCollectorsOnMetrics(t *testing.T) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "nfh_handoff_test_gauge", Help: "test"})
	g.Set(42)
	h := newHarnessWith(t, func(c *Config) { c.Collectors = []prometheus.Collector{g} })
	status, body := h.raw("GET", "/metrics", "")
	if status != 200 || !strings.Contains(string(body), "nfh_handoff_test_gauge 42") {
		t.Fatalf("/metrics %d lacks the extra collector:\n%s", status, body)
	}
}

func TestHandoffMetricsFromRecords(t *testing.T) {
	h := newHarness(t)
	h.agent.metrics.migrationEnded(api.Migration{ID: "hostA-1", Role: "source", State: api.MigrationCompleted,
		Handoff: &api.HandoffReport{
			Source: api.HandoffStats{Dropped: map[string]uint64{"ring_full": 3},
				Modes: map[string]api.Duration{"buffer": api.Duration(250 * time.Millisecond)}},
			Destination: api.HandoffStats{Dropped: map[string]uint64{"tap_full": 9}},
		}})
	_, body := h.raw("GET", "/metrics", "")
	for _, want := range []string{
		`nfh_migration_handoff_dropped_total{reason="ring_full",role="source"} 3`,
		`nfh_migration_handoff_mode_seconds_total{mode="buffer",role="source"} 0.25`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(string(body), "tap_full") {
		t.Error("the source counted the destination's drops")
	}
}

// tunnelRec is a Handoff with a tunnel (handoff.TunnelPeers) that records
// the peer sets it is given.
type tunnelRec struct {
	handoff.Nop
	mu   sync.Mutex
	sets [][]netip.Addr
}

func (h *tunnelRec) SetTunnelPeers(addrs []netip.Addr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sets = append(h.sets, slices.Clone(addrs))
	return nil
}

func (h *tunnelRec) list() [][]netip.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sets)
}

// incomingRuntime is the fake runtime as one that can receive guests (Admit
// needs it; nothing here launches one).
type incomingRuntime struct{ *fakeRuntime }

func (incomingRuntime) StartIncoming(context.Context, api.VMSpec, handoff.TapHook) (Instance, error) {
	return nil, errors.New("no incoming guests in this test")
}

// The tunnel peers are the IPv4 hosts of the peers file: set at start, read
// again before each incoming migration (an edited file takes effect), kept
// when the file cannot be read.
func TestTunnelPeersFromPeersFile(t *testing.T) {
	peers := filepath.Join(t.TempDir(), "peers")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(peers, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("hostA 198.18.0.11:7443\nhostB 198.18.0.12:7443\nhostE [2001:db8::5]:7443\n")
	ho := &tunnelRec{}
	h := newHarnessWith(t, func(c *Config) {
		c.Handoff, c.Peers = ho, peers
		c.Runtime = incomingRuntime{c.Runtime.(*fakeRuntime)}
	})
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	check := func(want ...[]netip.Addr) {
		t.Helper()
		got := ho.list()
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("tunnel peer sets %v, want %v", got, want)
		}
	}
	start := addrs("198.18.0.11", "198.18.0.12")
	check(start)

	write("hostA 198.18.0.11:7443\nhostC 198.18.0.13:7443\n")
	if err := (destAgent{h.agent}).Admit(spec("in1", 1)); err != nil {
		t.Fatal(err)
	}
	edited := addrs("198.18.0.11", "198.18.0.13")
	check(start, edited)

	if err := os.Remove(peers); err != nil {
		t.Fatal(err)
	}
	if err := (destAgent{h.agent}).Admit(spec("in2", 2)); err != nil {
		t.Fatal(err)
	}
	check(start, edited) // unreadable: the previous set stays
}

// Without a peers file (no migrations) the tunnel takes nothing.
func TestTunnelPeersNone(t *testing.T) {
	ho := &tunnelRec{}
	newHarnessWith(t, func(c *Config) { c.Handoff = ho })
	if got := ho.list(); len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("tunnel peer sets %v, want one empty set", got)
	}
}

// twoNICs is spec n with a second NIC on network "core".
func twoNICs(name string, n int) api.VMSpec {
	s := spec(name, n)
	s.NICs = []api.NIC{{MAC: netMAC(100 + n), Address: fmt.Sprintf("198.19.0.%d/24", 100+n), Network: "core"}}
	return s
}

// A guest with two NICs on networks the runtime has starts with a tap per
// NIC, each attached; a restarted agent attaches both again; its record
// names both taps.
func TestHandoffAttachEveryNIC(t *testing.T) {
	ho := &attachRec{}
	h := newHarnessWith(t, func(c *Config) { c.Handoff = ho })
	h.rt.networks = []string{"core"}
	ctx := ctxT(t)

	vm, err := h.client.StartVM(ctx, twoNICs("fw1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if vm.Tap != "nfhtfw1" || !slices.Equal(vm.Taps, []string{"nfhtfw1n1"}) {
		t.Errorf("record taps %q %q", vm.Tap, vm.Taps)
	}
	want := []string{fmt.Sprintf("Attach(fw1,nfhtfw1,%d)", vm.PID), fmt.Sprintf("Attach(fw1,nfhtfw1n1,%d)", vm.PID+1000)}
	if got := ho.list(); !slices.Equal(got, want) {
		t.Fatalf("after start: %q, want %q", got, want)
	}
	h.restart()
	want = append(want, want...)
	if got := ho.list(); !slices.Equal(got, want) {
		t.Fatalf("after re-adoption: %q, want %q", got, want)
	}
	if _, err := h.client.StopVM(ctx, "fw1"); err != nil {
		t.Fatal(err)
	}
	if got := ho.list(); got[len(got)-1] != "Detach(fw1)" {
		t.Fatalf("after stop: %q, want a Detach(fw1) last", got)
	}
}

// An incoming migration's reservation refuses a NIC on a network this
// host lacks, naming it, and takes one it has.
func TestAdmitChecksNetworks(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) { c.Runtime = incomingRuntime{c.Runtime.(*fakeRuntime)} })
	d := destAgent{h.agent}
	err := d.Admit(twoNICs("in1", 1))
	if !errors.Is(err, api.ErrInvalidSpec) || !strings.Contains(err.Error(), `nic 1: network "core" is not on host`) {
		t.Fatalf("admitting a nic on an unknown network: %v", err)
	}
	if _, err := h.agent.GetVM("in1"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("refused arrival left a record: %v", err)
	}
	h.rt.networks = []string{"core"}
	if err := d.Admit(twoNICs("in1", 1)); err != nil {
		t.Fatalf("admitting a nic on a known network: %v", err)
	}
}

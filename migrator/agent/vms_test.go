package agent

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	c := h.client

	vm, err := c.StartVM(ctx, spec("fw1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if vm.State != api.StateRunning || vm.Host != "hostA" || vm.PID == 0 || vm.Spec.MemoryMiB != 256 || vm.Spec.Image != "vnf" || vm.Created.IsZero() {
		t.Fatalf("started record %+v: want running on hostA with defaults filled", vm)
	}
	stored, err := h.agent.cfg.Store.GetVM("fw1")
	if err != nil || stored.State != api.StateRunning || stored.PID != vm.PID {
		t.Fatalf("stored record %+v, %v: want the running record", stored, err)
	}

	list, err := c.ListVMs(ctx)
	if err != nil || len(list) != 1 || list[0].Spec.Name != "fw1" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	got, err := c.GetVM(ctx, "fw1")
	if err != nil || got.PID != vm.PID {
		t.Fatalf("get = %+v, %v", got, err)
	}
	hl, err := c.Health(ctx)
	if err != nil || hl.Host != "hostA" || hl.Version != "test" || hl.VMs != 1 {
		t.Fatalf("health = %+v, %v", hl, err)
	}

	// Status with the guest unreachable: still 200, the error in GuestError.
	st, err := c.VMStatus(ctx, "fw1")
	if err != nil {
		t.Fatal(err)
	}
	if st.QEMUStatus != "running" || st.Guest != nil || !strings.Contains(st.GuestError, "198.18.0.101:9862") {
		t.Fatalf("status without guest = %+v", st)
	}
	h.guest.mu.Lock()
	h.guest.up[netip.MustParseAddr("198.18.0.101")] = api.GuestStatus{BootID: "00ff", EchoPackets: 7, ReflectorSeq: 3}
	h.guest.mu.Unlock()
	st, err = c.VMStatus(ctx, "fw1")
	if err != nil || st.Guest == nil || st.Guest.EchoPackets != 7 || st.GuestError != "" || st.Spec.Name != "fw1" {
		t.Fatalf("status = %+v, %v", st, err)
	}

	final, err := c.StopVM(ctx, "fw1")
	if err != nil {
		t.Fatal(err)
	}
	if final.State != api.StateStopped || final.PID != vm.PID {
		t.Fatalf("final record %+v: want stopped", final)
	}
	if _, err := c.GetVM(ctx, "fw1"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("get after stop: %v", err)
	}
	if _, err := h.agent.cfg.Store.GetVM("fw1"); err == nil {
		t.Fatal("record still stored after stop")
	}
	wantErr(t, func() error { _, err := c.StopVM(ctx, "fw1"); return err }(), api.ErrNotFound, 404)
	wantErr(t, func() error { _, err := c.VMStatus(ctx, "nope"); return err }(), api.ErrNotFound, 404)
	if list, _ := c.ListVMs(ctx); len(list) != 0 {
		t.Fatalf("list after stop = %+v", list)
	}
}

func TestStartRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	if _, err := h.client.StartVM(ctx, spec("fw1", 1)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		spec    api.VMSpec
		want    error
		status  int
		mention string
	}{
		{"duplicate name", spec("fw1", 2), api.ErrExists, 409, "fw1"},
		{"duplicate mac", func() api.VMSpec { s := spec("fw2", 2); s.MAC = "52:54:00:00:00:01"; return s }(), api.ErrAddressInUse, 409, "fw1"},
		{"duplicate mac, other case", func() api.VMSpec {
			s := spec("fw2", 2)
			s.MAC = "52:54:00:00:00:01"
			s.MAC = strings.ToUpper(s.MAC)
			return s
		}(), api.ErrAddressInUse, 409, "fw1"},
		{"duplicate ip, other prefix", func() api.VMSpec { s := spec("fw2", 2); s.Address = "198.18.0.101/16"; return s }(), api.ErrAddressInUse, 409, "fw1"},
		{"bad address", func() api.VMSpec { s := spec("fw2", 2); s.Address = "198.18.0.300/24"; return s }(), api.ErrInvalidSpec, 400, "address"},
		{"bad name", spec("Fw2", 2), api.ErrInvalidSpec, 400, "name"},
		{"unknown network", func() api.VMSpec { s := spec("fw2", 2); s.Network = "core"; return s }(), api.ErrInvalidSpec, 400,
			`network "core" is not on host hostA (it has only the default network)`},
		{"second nic on an unknown network", func() api.VMSpec {
			s := spec("fw2", 2)
			s.NICs = []api.NIC{{MAC: "52:54:00:00:01:02", Address: "198.19.0.102/24", Network: "dmz"}}
			return s
		}(), api.ErrInvalidSpec, 400, `nic 1: network "dmz"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.client.StartVM(ctx, c.spec)
			ae := wantErr(t, err, c.want, c.status)
			if !strings.Contains(ae.Message, c.mention) {
				t.Fatalf("message %q does not mention %q", ae.Message, c.mention)
			}
		})
	}
	if list, _ := h.client.ListVMs(ctx); len(list) != 1 {
		t.Fatalf("refused starts left records: %+v", list)
	}
}

func TestStartRuntimeFailure(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	h.rt.startErr = fmt.Errorf("starting fw1: %w", &api.DetailError{
		Err: fmt.Errorf("%w: exit status 1", api.ErrQEMU), Detail: "qemu-system-x86_64: -netdev tap: could not open"})
	_, err := h.client.StartVM(ctx, spec("fw1", 1))
	ae := wantErr(t, err, api.ErrQEMU, 502)
	if !strings.Contains(ae.Detail, "could not open") || !strings.Contains(ae.Message, "fw1") {
		t.Fatalf("error %+v: want the vm named and QEMU's stderr in the detail", ae)
	}
	if list, _ := h.client.ListVMs(ctx); len(list) != 0 {
		t.Fatalf("failed start left records: %+v", list)
	}
	if recs, _, _ := h.agent.cfg.Store.ListVMs(); len(recs) != 0 {
		t.Fatalf("failed start left stored records: %+v", recs)
	}
	if slices.Contains(h.rt.cleanedNames(), "fw1") {
		t.Fatal("failed start was cleaned up by the agent: the runtime owns that")
	}

	h.rt.startErr = fmt.Errorf("%w: nosuchimage", api.ErrNoImage)
	_, err = h.client.StartVM(ctx, spec("fw1", 1))
	wantErr(t, err, api.ErrNoImage, 422)

	// The name and addresses are free again.
	h.rt.startErr = nil
	if _, err := h.client.StartVM(ctx, spec("fw1", 1)); err != nil {
		t.Fatalf("start after failures: %v", err)
	}
}

func TestGuestDiesMarksFailed(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	if _, err := h.client.StartVM(ctx, spec("fw1", 1)); err != nil {
		t.Fatal(err)
	}
	h.rt.kill("fw1", "qemu exited: signal: killed")
	vm := waitState(t, h.client, "fw1", api.StateFailed)
	if vm.Reason != "qemu exited: signal: killed" {
		t.Fatalf("reason %q", vm.Reason)
	}
	if stored, _ := h.agent.cfg.Store.GetVM("fw1"); stored.State != api.StateFailed {
		t.Fatalf("stored state %q, want failed", stored.State)
	}
	if !slices.Contains(h.rt.cleanedNames(), "fw1") {
		t.Fatal("dead guest not cleaned up")
	}
	st, err := h.client.VMStatus(ctx, "fw1")
	if err != nil || st.GuestError == "" || st.Guest != nil {
		t.Fatalf("status of a failed vm = %+v, %v", st, err)
	}
	// A failed VM keeps its name but frees its addresses.
	if _, err := h.client.StartVM(ctx, spec("fw1", 1)); !errors.Is(err, api.ErrExists) {
		t.Fatalf("start over a failed vm: %v", err)
	}
	if _, err := h.client.StartVM(ctx, func() api.VMSpec { s := spec("fw2", 2); s.MAC, s.Address = netMAC(1), "198.18.0.101/24"; return s }()); err != nil {
		t.Fatalf("reusing a failed vm's addresses: %v", err)
	}
	final, err := h.client.StopVM(ctx, "fw1")
	if err != nil || final.State != api.StateStopped || final.Reason == "" {
		t.Fatalf("deleting a failed vm: %+v, %v", final, err)
	}
}

func TestStartsSerializedPerName(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	h.rt.mu.Lock()
	h.rt.block = make(chan struct{})
	h.rt.mu.Unlock()
	errc := make(chan error, 1)
	go func() { _, err := h.client.StartVM(ctx, spec("fw1", 1)); errc <- err }()
	waitState(t, h.client, "fw1", api.StateStarting)

	_, err := h.client.StartVM(ctx, spec("fw1", 2))
	wantErr(t, err, api.ErrExists, 409)
	_, err = h.client.StartVM(ctx, func() api.VMSpec { s := spec("fw2", 2); s.MAC = netMAC(1); return s }())
	wantErr(t, err, api.ErrAddressInUse, 409)
	for {
		stored, err := h.agent.cfg.Store.GetVM("fw1")
		if err == nil && stored.State == api.StateStarting {
			break // the starting record is persisted before the launch
		}
		if ctx.Err() != nil {
			t.Fatalf("record while starting: %+v, %v", stored, err)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A stop during the start waits for it, then stops the guest.
	stopc := make(chan error, 1)
	go func() { _, err := h.client.StopVM(ctx, "fw1"); stopc <- err }()
	close(h.rt.block)
	if err := <-errc; err != nil {
		t.Fatalf("blocked start: %v", err)
	}
	if err := <-stopc; err != nil {
		t.Fatalf("stop during start: %v", err)
	}
	if list, _ := h.client.ListVMs(ctx); len(list) != 0 {
		t.Fatalf("list = %+v", list)
	}
}

// Every NIC's MAC and IP is held: a further NIC of one VM (as a stored
// record may carry) conflicts with another VM's first, and the other way.
func TestAddressConflictEveryNIC(t *testing.T) {
	a := &Agent{vms: map[string]*entry{}}
	held := spec("fw1", 1)
	held.NICs = []api.NIC{{MAC: "52:54:00:00:09:01", Address: "198.19.0.9/24"}}
	a.vms["fw1"] = &entry{rec: api.VM{Spec: held, State: api.StateRunning}}
	for _, c := range []struct {
		name string
		edit func(*api.VMSpec)
	}{
		{"first nic's mac is a further nic's", func(s *api.VMSpec) { s.MAC = "52:54:00:00:09:01" }},
		{"first nic's ip is a further nic's", func(s *api.VMSpec) { s.Address = "198.19.0.9/16" }},
		{"further nic's ip is a first nic's", func(s *api.VMSpec) {
			s.NICs = []api.NIC{{MAC: "52:54:00:00:09:02", Address: held.Address}}
		}},
	} {
		s := spec("fw2", 2)
		c.edit(&s)
		if err := a.addressConflict(s); !errors.Is(err, api.ErrAddressInUse) || !strings.Contains(err.Error(), "fw1") {
			t.Errorf("%s: %v, want address in use by fw1", c.name, err)
		}
	}
	if err := a.addressConflict(spec("fw2", 2)); err != nil {
		t.Errorf("distinct addresses: %v", err)
	}
}

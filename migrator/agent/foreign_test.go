package agent

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/session"
)

// fakeForeign is a Foreign whose reports the test makes, one at a time.
type fakeForeign struct {
	events chan func(up func(api.VM, string), down func(string))
}

func newFakeForeign() *fakeForeign {
	return &fakeForeign{events: make(chan func(func(api.VM, string), func(string)))}
}

func (f *fakeForeign) Watch(ctx context.Context, up func(api.VM, string), down func(string)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-f.events:
			ev(up, down)
		}
	}
}

// up reports rec and returns once the agent has taken it.
func (f *fakeForeign) up(t *testing.T, rec api.VM, runState string) {
	t.Helper()
	done := make(chan struct{})
	f.events <- func(up func(api.VM, string), _ func(string)) { up(rec, runState); close(done) }
	<-done
}

func (f *fakeForeign) down(t *testing.T, name string) {
	t.Helper()
	done := make(chan struct{})
	f.events <- func(_ func(api.VM, string), down func(string)) { down(name); close(done) }
	<-done
}

// domainRec is a libvirt guest with two NICs as the watcher reports it.
func domainRec(name string, n int) api.VM {
	s := spec(name, n)
	s.VNFArgs, s.Gateway = nil, ""
	s.NICs = []api.NIC{{MAC: netMAC(n + 50)}}
	return api.VM{Spec: s, Tap: "vnet" + name + "0", Taps: []string{"vnet" + name + "1"}, Accel: "tcg", Source: api.SourceLibvirt}
}

// TestForeignGuests checks the agent's part of libvirt mode with a fake
// watcher: a domain that comes up is listed as a libvirt guest and the
// dataplane attached to each of its taps once; its status shows libvirt's
// run state and the vnf's; stop and migrate refuse it, a start with its
// MAC is refused; when it goes down the dataplane is detached and it is no
// longer listed.
func TestForeignGuests(t *testing.T) {
	ho := &attachRec{}
	fw := newFakeForeign()
	h := newHarnessWith(t, func(c *Config) {
		c.Handoff, c.Foreign = ho, fw
		c.Dial = func(context.Context, string) (session.Conn, error) { return nil, errors.New("no peers here") }
	})
	ctx := ctxT(t)
	rec := domainRec("lv1", 7)
	h.guest.mu.Lock()
	h.guest.up[netip.MustParsePrefix(rec.Spec.Address).Addr()] = api.GuestStatus{BootID: "b1"}
	h.guest.mu.Unlock()

	fw.up(t, rec, "running")
	want := []string{"Attach(lv1,vnetlv10,0)", "Attach(lv1,vnetlv11,0)"}
	if got := ho.list(); !slices.Equal(got, want) {
		t.Fatalf("handoff calls %v, want %v", got, want)
	}
	vms, err := h.client.ListVMs(ctx)
	if err != nil || len(vms) != 1 || vms[0].Spec.Name != "lv1" || vms[0].Source != api.SourceLibvirt ||
		vms[0].Host != "hostA" || vms[0].State != api.StateRunning || !slices.Equal(vms[0].AllTaps(), rec.AllTaps()) {
		t.Fatalf("vm list %+v (%v), want lv1 from libvirt, running on hostA with its taps", vms, err)
	}

	fw.up(t, rec, "paused") // the same taps: nothing attached again
	if got := ho.list(); !slices.Equal(got, want) {
		t.Fatalf("handoff calls after a second report %v, want %v", got, want)
	}
	st, err := h.client.VMStatus(ctx, "lv1")
	if err != nil || st.QEMUStatus != "paused" || st.Guest == nil || st.Guest.BootID != "b1" {
		t.Fatalf("status %+v (%v), want libvirt's run state paused and the vnf's status", st, err)
	}

	if _, err := h.client.StopVM(ctx, "lv1"); !errors.Is(err, api.ErrForeign) {
		t.Errorf("stop of a libvirt guest: %v, want ErrForeign", err)
	}
	if _, err := h.client.Migrate(ctx, api.MigrateRequest{VM: "lv1", To: "hostB"}); !errors.Is(err, api.ErrForeign) {
		t.Errorf("migrate of a libvirt guest: %v, want ErrForeign", err)
	}
	s := spec("fw1", 1)
	s.MAC = rec.Spec.NICs[0].MAC
	if _, err := h.client.StartVM(ctx, s); !errors.Is(err, api.ErrAddressInUse) {
		t.Errorf("start with a libvirt guest's MAC: %v, want ErrAddressInUse", err)
	}

	fw.down(t, "lv1")
	if got := ho.list(); !slices.Equal(got, append(want, "Detach(lv1)")) {
		t.Fatalf("handoff calls after down %v, want the detach last", got)
	}
	if vms, err := h.client.ListVMs(ctx); err != nil || len(vms) != 0 {
		t.Fatalf("vm list after down: %+v (%v), want none", vms, err)
	}
	if _, err := h.client.StartVM(ctx, s); err != nil {
		t.Errorf("start with the MAC of a libvirt guest gone: %v", err)
	}
}

// TestForeignGuestTapsChange: a domain reported again on other taps (it
// was restarted between two reports) is detached, then attached anew; one
// with the name of the agent's own guest is ignored, one with a MAC of
// theirs listed but not attached.
func TestForeignGuestTapsChange(t *testing.T) {
	ho := &attachRec{}
	fw := newFakeForeign()
	h := newHarnessWith(t, func(c *Config) { c.Handoff, c.Foreign = ho, fw })
	ctx := ctxT(t)
	rec := domainRec("lv1", 7)
	fw.up(t, rec, "running")
	rec.Tap = "vnet9"
	fw.up(t, rec, "running")
	want := []string{"Attach(lv1,vnetlv10,0)", "Attach(lv1,vnetlv11,0)", "Detach(lv1)", "Attach(lv1,vnet9,0)", "Attach(lv1,vnetlv11,0)"}
	if got := ho.list(); !slices.Equal(got, want) {
		t.Fatalf("handoff calls %v, want %v", got, want)
	}

	own, err := h.client.StartVM(ctx, spec("fw1", 1))
	if err != nil {
		t.Fatal(err)
	}
	n := len(ho.list())
	fw.up(t, domainRec("fw1", 2), "running")
	clash := domainRec("lv2", 3)
	clash.Spec.MAC = own.Spec.MAC
	fw.up(t, clash, "running")
	if got := ho.list()[n:]; len(got) != 0 {
		t.Errorf("handoff calls for clashing guests: %v, want none", got)
	}
	vm, err := h.client.GetVM(ctx, "fw1")
	if err != nil || vm.Source != "" {
		t.Errorf("fw1: %+v (%v), want the agent's own", vm, err)
	}
	vm, err = h.client.GetVM(ctx, "lv2")
	if err != nil || vm.Source != api.SourceLibvirt || vm.Reason == "" {
		t.Errorf("lv2: %+v (%v), want listed from libvirt with the reason it is not attached", vm, err)
	}
}

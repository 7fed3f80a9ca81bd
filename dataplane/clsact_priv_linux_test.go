package dataplane

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
)

// With Config.ForceClsact every hook is a clsact filter (no tcx link, no
// pinned link): HOLD, then Flushed under traffic, delivers the flush then
// every client frame in order; a second New replaces the filters instead of
// adding more; Detach leaves the tap without a filter or clsact qdisc.
func TestPrivClsactFallback(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	pin := filepath.Join(os.Getenv("DPT_BPFFS"), "host")
	cfg := Config{PinDir: pin, Uplink: "vb", ForceClsact: true}
	d, tap, r := childSetup(t, cfg)
	h := d.Handoff()
	hooks := map[string]struct {
		dev    string
		egress bool
	}{
		HookTapEgress:     {"dt0", true},
		HookUplinkIngress: {"vb", false},
		HookTunnelIngress: {DefaultTunnelDev, false},
	}
	for name, hk := range hooks {
		checkClsactHook(t, hk.dev, name, hk.egress)
		if _, err := os.Stat(filepath.Join(pin, "links", hk.dev+"-"+name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s on %s: a pinned link with clsact (%v)", name, hk.dev, err)
		}
	}

	s := newSender(t, os.Getenv("DPT_CLIENT"), "vc")
	if err := h.Prepare(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 10)
	waitCaptured(t, d, 10)
	if got := r.frames(); len(got) != 0 {
		t.Fatalf("frames reached the tap during HOLD: %v", got)
	}
	stop := s.background(t, 200*time.Microsecond)
	if err := h.Flushed(ctx, testSpec, flushStream(3)); err != nil {
		t.Fatal(err)
	}
	waitMode(t, d, modePass, nil)
	last := stop()
	want := append(seqs(tagFlush, 1, 3), seqs(tagClient, 1, last)...)
	wantSeq(t, r.waitFor(t, len(want)), want)
	if st := h.Stats(testSpec); st.Flushed != 3 || st.Released < 10 || st.DroppedTotal() != 0 {
		t.Fatalf("stats: %+v", st)
	}

	// A restart re-attaches in place: still one filter per hook.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Logger = testLogger(t)
	d2, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if err := d2.Handoff().Attach(ctx, testSpec, tap); err != nil {
		t.Fatal(err)
	}
	for name, hk := range hooks {
		checkClsactHook(t, hk.dev, name, hk.egress)
	}
	s.mustSend(t, 2)
	wantSeq(t, r.waitFor(t, len(want)+2), append(want, seqs(tagClient, last+1, last+2)...))

	if err := d2.Handoff().Detach(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	l, err := netlink.LinkByName("dt0")
	if err != nil {
		t.Fatal(err)
	}
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		if fs, err := netlink.FilterList(l, parent); err != nil || len(fs) != 0 {
			t.Errorf("dt0 after detach: filters %v (%v)", fs, err)
		}
	}
	qs, err := netlink.QdiscList(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.Type() == "clsact" {
			t.Errorf("dt0 after detach: clsact qdisc left: %v", q)
		}
	}
	if _, ok, _ := d2.maps.state(keyOf(vmMAC)); ok {
		t.Error("vm entry left after detach")
	}
}

// checkClsactHook checks that dev has exactly one filter in the direction,
// ours (named nfh-<hook>, direct action), and no tcx program.
func checkClsactHook(t *testing.T, dev, hook string, egress bool) {
	t.Helper()
	l, err := netlink.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	parent, attach := uint32(netlink.HANDLE_MIN_INGRESS), ebpf.AttachTCXIngress
	if egress {
		parent, attach = netlink.HANDLE_MIN_EGRESS, ebpf.AttachTCXEgress
	}
	fs, err := netlink.FilterList(l, parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 {
		t.Fatalf("%s on %s: %d filters, want 1: %v", hook, dev, len(fs), fs)
	}
	bf, ok := fs[0].(*netlink.BpfFilter)
	if !ok || bf.Name != "nfh-"+hook || !bf.DirectAction {
		t.Fatalf("%s on %s: filter %+v, want a direct-action bpf filter nfh-%s", hook, dev, fs[0], hook)
	}
	res, err := link.QueryPrograms(link.QueryOptions{Target: l.Attrs().Index, Attach: attach})
	if err != nil && !errors.Is(err, ebpf.ErrNotSupported) {
		t.Fatal(err)
	}
	if res != nil && len(res.Programs) != 0 {
		t.Errorf("%s on %s: tcx programs %v with ForceClsact", hook, dev, res.Programs)
	}
}

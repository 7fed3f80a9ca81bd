package dataplane

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"testing"
)

// The host's bridge places the VM's MAC on the uplink (learnt while the VM
// ran elsewhere). Once Started, frames for the VM from the uplink reach
// the tap's hold instead of being dropped by the bridge: the bridge's
// entry is the tap's, dynamic (learning and ageing still apply).
func TestPrivStartedPointsBridgeAtTap(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, _, r := childSetup(t, Config{Uplink: "vb", GARPCount: 1})
	h := d.Handoff()
	run(t, "bridge", "fdb", "replace", vmMAC.String(), "dev", "vb", "master", "dynamic")
	if err := h.Prepare(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	if got := fdbPort(t, "br0", vmMAC.String()); got.port != "vb" {
		t.Fatalf("before Started: %s on %q, want the uplink", vmMAC, got.port)
	}
	if err := h.Started(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	got := fdbPort(t, "br0", vmMAC.String())
	if got.port != "dt0" || got.static {
		t.Fatalf("after Started: %s on %q (static %v), want the tap, dynamic", vmMAC, got.port, got.static)
	}
	s := newSender(t, os.Getenv("DPT_CLIENT"), "vc")
	s.mustSend(t, 10)
	waitCaptured(t, d, 10)
	if f := r.frames(); len(f) != 0 {
		t.Fatalf("frames reached the guest during HOLD: %v", f)
	}
}

type fdbEntry struct {
	port   string
	static bool
}

// fdbPort is the port bridge br forwards mac to ("" if it has no entry).
func fdbPort(t *testing.T, br, mac string) fdbEntry {
	t.Helper()
	out, err := exec.Command("bridge", "-j", "fdb", "show", "br", br).Output()
	if err != nil {
		t.Fatalf("bridge fdb show: %v", err)
	}
	var ents []struct {
		MAC    string   `json:"mac"`
		Ifname string   `json:"ifname"`
		State  string   `json:"state"`
		Flags  []string `json:"flags"`
	}
	if err := json.Unmarshal(out, &ents); err != nil {
		t.Fatalf("bridge fdb show: %v\n%s", err, out)
	}
	for _, e := range ents {
		if e.MAC == mac && !slices.Contains(e.Flags, "self") {
			return fdbEntry{port: e.Ifname, static: e.State == "static" || e.State == "permanent"}
		}
	}
	return fdbEntry{}
}

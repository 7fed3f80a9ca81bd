package dataplane

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The Collector on a registry: a VM in HOLD with three frames, a queue of
// two (one dropped, queue_full), then released: the per-VM series carry the
// VM's name and the right values, and pass promlint.
func TestPrivCollector(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, _, _ := childSetup(t, Config{QueueBytes: 2 * 60})
	h := d.Handoff()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(d.Collector()); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(d.Collector()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	s := newSender(t, os.Getenv("DPT_CLIENT"), "vc")
	if err := h.Prepare(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 3)
	waitCaptured(t, d, 3)
	waitConsumed(t, d, 3)

	frames := map[string]int{"seen": 3, "held": 3}
	compare(t, reg, "nfh_dataplane_frames_total", "Frames the eBPF programs handled for a VM, by outcome.", "counter", "event", frames,
		"seen", "passed", "mirrored", "buffered", "held", "forwarded", "forwarded_in", "released_pass", "arp_answered")
	compare(t, reg, "nfh_dataplane_drops_total", "Frames the eBPF programs dropped for a VM (mirror_missed: copy failed, frame passed), by reason.", "counter", "reason", nil,
		"ring_full", "mirror_missed", "too_large", "forward", "no_tap", "tunnel_refused")
	compare(t, reg, "nfh_dataplane_mode", "A VM's current hand-off mode (1 for the current one).", "gauge", "mode", map[string]int{"hold": 1}, "hold")
	compare(t, reg, "nfh_dataplane_queue_bytes", "Bytes in a VM's user-space hand-off queue.", "gauge", "", map[string]int{"": 120}, "")
	compare(t, reg, "nfh_dataplane_queue_high_water_bytes", "High-water mark of a VM's user-space queue in its current or last migration.", "gauge", "", map[string]int{"": 120}, "")
	compare(t, reg, "nfh_handoff_dropped_total", "Frames dropped in a VM's current or last migration's hand-off, by reason.", "counter", "reason", map[string]int{"queue_full": 1}, "queue_full")
	compare(t, reg, "nfh_handoff_frames_total", "Frames of a VM's current or last migration's hand-off, by kind.", "counter", "kind", nil,
		"flushed", "residue", "held_in_qemu", "released", "returned", "rollback_flooded")
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP nfh_dataplane_orphan_records_total Ring records of VMs this agent does not know (discarded).
# TYPE nfh_dataplane_orphan_records_total counter
nfh_dataplane_orphan_records_total 0
# HELP nfh_dataplane_tunnel_drops_total Frames from the tunnel dropped that were for no VM of this host, by reason (tunnel_refused: not from a tunnel peer or another VNI; no_vm: from a peer).
# TYPE nfh_dataplane_tunnel_drops_total counter
nfh_dataplane_tunnel_drops_total{reason="no_vm"} 0
nfh_dataplane_tunnel_drops_total{reason="tunnel_refused"} 0
`), "nfh_dataplane_orphan_records_total", "nfh_dataplane_tunnel_drops_total"); err != nil {
		t.Error(err)
	}

	if err := h.Flushed(ctx, testSpec, nil); err != nil {
		t.Fatal(err)
	}
	compare(t, reg, "nfh_handoff_frames_total", "Frames of a VM's current or last migration's hand-off, by kind.", "counter", "kind", map[string]int{"released": 2},
		"flushed", "residue", "held_in_qemu", "released", "returned", "rollback_flooded")
	compare(t, reg, "nfh_dataplane_queue_bytes", "Bytes in a VM's user-space hand-off queue.", "gauge", "", map[string]int{"": 0}, "")
	waitMode(t, d, modePass, func() { s.send(1) })
	compare(t, reg, "nfh_dataplane_mode", "A VM's current hand-off mode (1 for the current one).", "gauge", "mode", map[string]int{"pass": 1}, "pass")
	if n := testutil.CollectAndCount(d.Collector(), "nfh_dataplane_frames_total"); n != 9 {
		t.Errorf("%d frames_total series, want 9 (one VM)", n)
	}
}

// compare checks metric name on reg: one series per value of label (none
// when label is ""), each with vm="dpt-vm" and nic="0", valued want[value]
// (0 when absent).
func compare(t *testing.T, reg *prometheus.Registry, name, help, typ, label string, want map[string]int, values ...string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	for _, v := range values {
		labels := []string{`nic="0"`, fmt.Sprintf("vm=%q", testSpec.Name)}
		if label != "" {
			labels = append(labels, fmt.Sprintf("%s=%q", label, v))
		}
		slices.Sort(labels) // the text format's order
		fmt.Fprintf(&b, "%s{%s} %d\n", name, strings.Join(labels, ","), want[v])
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(b.String()), name); err != nil {
		t.Error(err)
	}
}

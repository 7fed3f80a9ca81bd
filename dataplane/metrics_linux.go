package dataplane

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// desc describes the metric name with its help and variable labels.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descFrames       = desc("nfh_dataplane_frames_total", "Frames the eBPF programs handled for a VM, by outcome.", "vm", "nic", "event")
	descDrops        = desc("nfh_dataplane_drops_total", "Frames the eBPF programs dropped for a VM (mirror_missed: copy failed, frame passed), by reason.", "vm", "nic", "reason")
	descMode         = desc("nfh_dataplane_mode", "A VM's current hand-off mode (1 for the current one).", "vm", "nic", "mode")
	descQueue        = desc("nfh_dataplane_queue_bytes", "Bytes in a VM's user-space hand-off queue.", "vm", "nic")
	descHigh         = desc("nfh_dataplane_queue_high_water_bytes", "High-water mark of a VM's user-space queue in its current or last migration.", "vm", "nic")
	descHandoff      = desc("nfh_handoff_frames_total", "Frames of a VM's current or last migration's hand-off, by kind.", "vm", "nic", "kind")
	descHandoffDrops = desc("nfh_handoff_dropped_total", "Frames dropped in a VM's current or last migration's hand-off, by reason.", "vm", "nic", "reason")
	descGARPs        = desc("nfh_handoff_garps", "Gratuitous ARPs sent for a VM's current or last migration.", "vm", "nic")
	descOrphans      = desc("nfh_dataplane_orphan_records_total", "Ring records of VMs this agent does not know (discarded).")
	descGuard        = desc("nfh_dataplane_guard_tripped_total", "Times the program found the agent gone during a post-copy and held a VM's traffic itself.", "vm", "nic")
	descTunnelDrops  = desc("nfh_dataplane_tunnel_drops_total", "Frames from the tunnel dropped that were for no VM of this host, by reason (tunnel_refused: not from a tunnel peer or another VNI; no_vm: from a peer).", "reason")
)

// noVM is the reason of nfh_dataplane_tunnel_drops_total for a frame from a
// tunnel peer for no VM (a refused frame for a VM counts in its drops).
const noVM = "no_vm"

type collector struct{ d *Dataplane }

// Collector returns the Prometheus collector of the per-VM program counters
// and the hand-off accounts.
func (d *Dataplane) Collector() prometheus.Collector { return collector{d} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFrames, descDrops, descMode, descQueue, descHigh, descHandoff, descHandoffDrops, descGARPs, descOrphans, descGuard, descTunnelDrops} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	h := c.d.handoff
	vs := h.entries()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, v := range vs {
		// Per NIC: the VM's name and the NIC's index (an entry adopted
		// and not attached yet is named by its MAC).
		vm, nic := splitNIC(v.name)
		if v.name == "" {
			vm = v.key.String()
		}
		name := []string{vm, strconv.Itoa(nic)}
		if ctr, err := c.d.maps.countersOf(v.key); err == nil {
			for ev, n := range map[string]uint64{
				"seen": ctr.Seen, "passed": ctr.Passed, "mirrored": ctr.Mirrored, "buffered": ctr.Buffered,
				"held": ctr.Held, "forwarded": ctr.Forwarded, "forwarded_in": ctr.ForwardedIn, "released_pass": ctr.ReleasedPass,
				"arp_answered": ctr.ArpAnswered,
			} {
				counter(descFrames, n, append(name, ev)...)
			}
			counter(descGuard, ctr.GuardTripped, name...)
			for r, n := range map[string]uint64{
				dropRingFull: ctr.DropRingFull, "mirror_missed": ctr.MirrorMissed, dropTooLarge: ctr.DropTooLarge,
				dropForward: ctr.DropForward, dropNoTap: ctr.DropNoTap, dropTunnel: ctr.DropTunnel,
			} {
				counter(descDrops, n, append(name, r)...)
			}
		}
		if st, ok, err := c.d.maps.state(v.key); err == nil && ok {
			gauge(descMode, 1, append(name, st.Mode.String())...)
		}
		gauge(descQueue, float64(v.queue.Bytes()), name...)
		if v.name == "" {
			continue
		}
		s := h.entryStats(v.name)
		gauge(descHigh, float64(s.HighWaterBytes), name...)
		for k, n := range map[string]uint64{
			"flushed": s.Flushed, "residue": s.Residue, "held_in_qemu": s.HeldInQEMU,
			"released": s.Released, "returned": s.Returned, "rollback_flooded": s.RollbackFlooded,
		} {
			counter(descHandoff, n, append(name, k)...)
		}
		for r, n := range s.Dropped {
			counter(descHandoffDrops, n, append(name, r)...)
		}
		gauge(descGARPs, float64(s.GARPs), name...)
	}
	counter(descOrphans, c.d.orphans.Load())
	if tc, err := c.d.maps.tunnelDropCounts(); err == nil {
		counter(descTunnelDrops, tc.Refused, dropTunnel)
		counter(descTunnelDrops, tc.NoVm, noVM)
	}
}

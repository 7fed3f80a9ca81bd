package main

import (
	"slices"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Run is one measured migration.
type Run struct {
	Guest     string        `json:"guest"`
	Method    string        `json:"method"`
	N         int           `json:"run"`
	From      string        `json:"from"`
	To        string        `json:"to"`
	TotalTime time.Duration `json:"total_time_ns"` // QEMU total-time; libvirt methods: request to the move done
	Downtime  time.Duration `json:"downtime_ns"`   // QEMU downtime; nfhandoff: the guest's pause (stop to running), if longer
	SetupTime time.Duration `json:"setup_time_ns"`
	WireBytes uint64        `json:"wire_bytes"` // source uplink, tx+rx
	RAMBytes  uint64        `json:"ram_transferred"`
	// Record is the agent's own account (nfhandoff methods only).
	Record *RecordRun `json:"record,omitempty"`
	// Traffic is what the test traffic saw (with --traffic-rate > 0).
	Traffic *TrafficRun `json:"traffic,omitempty"`
	// TCP is what the TCP flow through a firewall guest saw.
	TCP *TCPRun `json:"tcp,omitempty"`
	CPU CPU     `json:"cpu"`
	// Postcopy is set for a move that went through post-copy.
	Postcopy *PostcopyRun `json:"postcopy,omitempty"`
	// Libvirt is libvirt's job statistics of the move (libvirt methods).
	Libvirt *LibvirtJob `json:"libvirt,omitempty"`
}

// RecordRun is what the source agent's migration record says beyond
// QEMU's times.
type RecordRun struct {
	ID           string        `json:"id"`
	EndToEnd     time.Duration `json:"end_to_end_ns"` // request to completed record: dial, destination QEMU start, hand-back, source QEMU quit
	PayloadBytes uint64        `json:"payload_bytes"`
	Passes       uint64        `json:"passes"` // QEMU dirty-sync count
	Postcopy     bool          `json:"postcopy"`
	Decisions    int           `json:"decisions"` // policy decisions taken
	Phases       []api.Phase   `json:"phases"`    // the record's, from the request on
	Paused       time.Duration `json:"paused_ns"` // the guest's pause, stop to running
	Target       time.Duration `json:"target_ns"` // the request's downtime target
	// Codec is the coders' account; nil with codec none.
	Codec *api.CodecReport `json:"codec,omitempty"`
	// PausedParts is where Paused went; Notes the record's note
	// decisions (a pause over the target names its largest part).
	PausedParts *api.PauseParts `json:"paused_parts,omitempty"`
	Notes       []string        `json:"notes,omitempty"`
}

// Stat is the median and range of one measure.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func stat(v []float64) Stat {
	if len(v) == 0 {
		return Stat{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1]}
}

// Row summarises one guest and method.
type Row struct {
	Guest     string `json:"guest"`
	Method    string `json:"method"`
	Runs      int    `json:"runs"`
	TotalMS   Stat   `json:"total_time_ms"`
	DowntimeM Stat   `json:"downtime_ms"`
	WireMiB   Stat   `json:"wire_mib"`
	// Ratios of this method's medians to a baseline method's, by baseline.
	TotalRatio    map[string]float64 `json:"total_time_ratio,omitempty"`
	DowntimeRatio map[string]float64 `json:"downtime_ratio,omitempty"`
	WireRatio     map[string]float64 `json:"wire_ratio,omitempty"`
	// The agents' records, for methods that have them.
	Record *RecordRow `json:"record,omitempty"`
	// libvirt's job statistics, for the libvirt methods.
	Libvirt *LibvirtRow `json:"libvirt,omitempty"`
	// The test traffic, when there was some.
	Traffic *TrafficRow `json:"traffic,omitempty"`
	// The TCP flows through a firewall guest.
	TCP *TCPRow `json:"tcp,omitempty"`
	CPU CPURow  `json:"cpu_s_per_gib"`
	// The coders' accounts, for methods that code pages.
	Codec *CodecRow `json:"codec,omitempty"`
}

// CPURow is a method's CPU seconds per GiB of RAM QEMU moved, by process.
type CPURow struct {
	SrcQEMU, DstQEMU, SrcAgent, DstAgent, SrcDaemon, DstDaemon, Total Stat
	TotalRatio                                                        map[string]float64 `json:",omitempty"` // Total's median over each baseline's
}

// TrafficRow summarises the test traffic of one guest and method.
type TrafficRow struct {
	Lost           Stat `json:"lost"`
	GapMS          Stat `json:"gap_ms"`
	LossGapMS      Stat `json:"loss_gap_ms"`
	GapMinusDownMS Stat `json:"gap_minus_downtime_ms"`
	GapAtMS        Stat `json:"gap_at_ms"` // when the gap began, from the migrate request
	// GapPhases counts the runs by the record's phase the gap overlapped
	// most (nfhandoff only).
	GapPhases       map[string]int `json:"gap_phases,omitempty"`
	Duplicated      int            `json:"duplicated"` // over all runs
	Reordered       int            `json:"reordered"`
	ReflectorBreaks int            `json:"reflector_breaks"` // runs whose reflector sequence was not continuous
	HandoffDropped  int            `json:"handoff_dropped"`  // frames the hand-off reported dropped, over all runs
	HandoffCarried  int            `json:"handoff_carried"`  // frames buffered, recovered or held, over all runs
	// Medians compared with each baseline's: lost minus, gap over.
	LostDiff map[string]float64 `json:"lost_diff,omitempty"`
	GapRatio map[string]float64 `json:"gap_ratio,omitempty"`
}

// RecordRow summarises the records of one guest and method.
type RecordRow struct {
	EndToEndMS   Stat `json:"end_to_end_ms"`
	PayloadMiB   Stat `json:"payload_mib"`
	Passes       Stat `json:"passes"`
	PostcopyRuns int  `json:"postcopy_runs"`
	PausedMS     Stat `json:"paused_ms"`
	// WithinTarget counts the runs whose pause was at most the target.
	WithinTarget int `json:"within_target"`
}

// summarise groups runs by guest and method (in first-seen order) and
// computes ratios against each of the baselines present.
func summarise(runs []Run, baselines []string) []Row {
	var rows []Row
	idx := map[[2]string]int{}
	var tot, down, wire, e2e, quic, passes, paused [][]float64
	tr := map[int]*[5][]float64{}  // row -> lost, gap, loss gap, gap-down, gap at
	cpu := map[int]*[7][]float64{} // row -> CPU s/GiB: src, dst qemu, src, dst agent, src, dst libvirtd, total
	tcp := map[int]*[2][]float64{} // row -> retransmits, longest stall ms
	for _, r := range runs {
		k := [2]string{r.Guest, r.Method}
		i, ok := idx[k]
		if !ok {
			i = len(rows)
			idx[k] = i
			rows = append(rows, Row{Guest: r.Guest, Method: r.Method})
			tot, down, wire = append(tot, nil), append(down, nil), append(wire, nil)
			e2e, quic, passes, paused = append(e2e, nil), append(quic, nil), append(passes, nil), append(paused, nil)
		}
		rows[i].Runs++
		tot[i] = append(tot[i], float64(r.TotalTime)/float64(time.Millisecond))
		down[i] = append(down[i], float64(r.Downtime)/float64(time.Millisecond))
		wire[i] = append(wire[i], float64(r.WireBytes)/(1<<20))
		if x := r.Traffic; x != nil {
			addTraffic(&rows[i], tr, i, x)
		}
		addCPU(cpu, i, r)
		if r.TCP != nil {
			addTCP(&rows[i], tcp, i, r.TCP)
		}
		if rec := r.Record; rec != nil {
			if rows[i].Record == nil {
				rows[i].Record = &RecordRow{}
			}
			e2e[i] = append(e2e[i], float64(rec.EndToEnd)/float64(time.Millisecond))
			quic[i] = append(quic[i], float64(rec.PayloadBytes)/(1<<20))
			passes[i] = append(passes[i], float64(rec.Passes))
			if rec.Postcopy {
				rows[i].Record.PostcopyRuns++
			}
			paused[i] = append(paused[i], float64(rec.Paused)/float64(time.Millisecond))
			if rec.Paused > 0 && rec.Paused <= rec.Target {
				rows[i].Record.WithinTarget++
			}
		}
	}
	for i := range rows {
		rows[i].TotalMS, rows[i].DowntimeM, rows[i].WireMiB = stat(tot[i]), stat(down[i]), stat(wire[i])
		if rec := rows[i].Record; rec != nil {
			rec.EndToEndMS, rec.PayloadMiB, rec.Passes, rec.PausedMS = stat(e2e[i]), stat(quic[i]), stat(passes[i]), stat(paused[i])
		}
		if x := rows[i].Traffic; x != nil {
			v := tr[i]
			x.Lost, x.GapMS, x.LossGapMS, x.GapMinusDownMS, x.GapAtMS = stat(v[0]), stat(v[1]), stat(v[2]), stat(v[3]), stat(v[4])
		}
		if v := tcp[i]; v != nil {
			rows[i].TCP.Retransmits, rows[i].TCP.LongestStallM = stat(v[0]), stat(v[1])
		}
		if v := cpu[i]; v != nil {
			c := &rows[i].CPU
			c.SrcQEMU, c.DstQEMU, c.SrcAgent, c.DstAgent = stat(v[0]), stat(v[1]), stat(v[2]), stat(v[3])
			c.SrcDaemon, c.DstDaemon, c.Total = stat(v[4]), stat(v[5]), stat(v[6])
		}
	}
	for i := range rows {
		for _, b := range baselines {
			j, ok := idx[[2]string{rows[i].Guest, b}]
			if !ok {
				continue
			}
			if rows[i].TotalRatio == nil {
				rows[i].TotalRatio, rows[i].DowntimeRatio, rows[i].WireRatio = map[string]float64{}, map[string]float64{}, map[string]float64{}
			}
			rows[i].TotalRatio[b] = ratio(rows[i].TotalMS.Median, rows[j].TotalMS.Median)
			rows[i].DowntimeRatio[b] = ratio(rows[i].DowntimeM.Median, rows[j].DowntimeM.Median)
			rows[i].WireRatio[b] = ratio(rows[i].WireMiB.Median, rows[j].WireMiB.Median)
			if rows[i].CPU.TotalRatio == nil {
				rows[i].CPU.TotalRatio = map[string]float64{}
			}
			rows[i].CPU.TotalRatio[b] = ratio(rows[i].CPU.Total.Median, rows[j].CPU.Total.Median)
			if x, y := rows[i].Traffic, rows[j].Traffic; x != nil && y != nil {
				if x.LostDiff == nil {
					x.LostDiff, x.GapRatio = map[string]float64{}, map[string]float64{}
				}
				x.LostDiff[b] = x.Lost.Median - y.Lost.Median
				x.GapRatio[b] = ratio(x.GapMS.Median, y.GapMS.Median)
			}
		}
	}
	summariseCodec(rows, runs)
	summariseLibvirt(rows, runs)
	return rows
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// addTraffic adds one run's traffic to row i.
func addTraffic(row *Row, tr map[int]*[5][]float64, i int, x *TrafficRun) {
	if row.Traffic == nil {
		row.Traffic = &TrafficRow{}
		tr[i] = &[5][]float64{}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	v := tr[i]
	v[0] = append(v[0], float64(x.Lost))
	v[1] = append(v[1], ms(x.Gap))
	v[2] = append(v[2], ms(x.LossGap))
	v[3] = append(v[3], ms(x.GapMinusDowntime))
	v[4] = append(v[4], ms(x.GapAt))
	t := row.Traffic
	if x.GapPhase != "" && x.GapPhase != "none" {
		if t.GapPhases == nil {
			t.GapPhases = map[string]int{}
		}
		t.GapPhases[x.GapPhase]++
	}
	t.Duplicated += x.Duplicated
	t.Reordered += x.Reordered
	if !x.ReflectorContinuous {
		t.ReflectorBreaks++
	}
	if h := x.Handoff; h != nil {
		t.HandoffDropped += int(h.Source.DroppedTotal() + h.Destination.DroppedTotal())
		t.HandoffCarried += int(h.Source.Buffered + h.Source.Residue + h.Source.HeldInQEMU + h.Destination.Held)
	}
}

// addCPU adds one run's CPU seconds per GiB moved to row i; a run that
// moved nothing is left out.
func addCPU(cpu map[int]*[7][]float64, i int, r Run) {
	if r.RAMBytes == 0 {
		return
	}
	if cpu[i] == nil {
		cpu[i] = &[7][]float64{}
	}
	v, gib := cpu[i], float64(r.RAMBytes)/(1<<30)
	c := r.CPU
	for k, d := range []time.Duration{c.SrcQEMU, c.DstQEMU, c.SrcAgent, c.DstAgent, c.SrcDaemon, c.DstDaemon, c.Total()} {
		v[k] = append(v[k], d.Seconds()/gib)
	}
}

package main

import (
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// GangRun is one move of a gang by one method and order.
type GangRun struct {
	Guest  string `json:"guest"`
	Method string `json:"method"` // the order's label
	N      int    `json:"run"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Time is the GangOutcome's: the first move asked for until the last
	// guest ran at its destination (-sequential: the moves' summed).
	Time time.Duration `json:"time_ns"`
	// WireBytes are the migration's bytes on the wire: every one crosses
	// both hosts' uplinks, a test frame only the uplink of the host its
	// guest was on, so (SrcUplinkBytes + DstUplinkBytes - TestBytes) / 2.
	WireBytes      uint64 `json:"wire_bytes"`
	SrcUplinkBytes uint64 `json:"src_uplink_bytes"` // tx+rx
	DstUplinkBytes uint64 `json:"dst_uplink_bytes"`
	TestBytes      uint64 `json:"test_bytes"`      // the test frames, both ways
	RAMBytes       uint64 `json:"ram_transferred"` // summed over the guests
	CPU            CPU    `json:"cpu"`             // every process, each counted once
	// Machine is what the whole machine's processors did over Wall, the
	// bench's own time of the move (the moves' CPU is part of it).
	Machine MachineCPU    `json:"machine_cpu"`
	Wall    time.Duration `json:"wall_ns"`
	// VMs are the guests' moves, in gang order: QEMU's times, the agents'
	// records, the test traffic (their wire bytes are the gang's only).
	VMs []Run `json:"vms"`
}

// wireOf is GangRun.WireBytes from the uplinks' counts and the test
// frames'.
func wireOf(src, dst, test uint64) uint64 {
	if test > src+dst {
		return 0
	}
	return (src + dst - test) / 2
}

// total is the gang's move as one Run, for summarise: its time and wire,
// RAM and CPU summed, the longest of its guests' pauses, and its guests'
// coders' accounts summed.
func (g GangRun) total() Run {
	r := Run{Guest: g.Guest, Method: g.Method, N: g.N, From: g.From, To: g.To, TotalTime: g.Time,
		WireBytes: g.WireBytes, RAMBytes: g.RAMBytes, CPU: g.CPU}
	for _, v := range g.VMs {
		r.Downtime = max(r.Downtime, v.Downtime)
		rec := v.Record
		if rec == nil {
			continue
		}
		if r.Record == nil {
			r.Record = &RecordRun{EndToEnd: g.Time, Target: rec.Target}
		}
		r.Record.Paused = max(r.Record.Paused, rec.Paused)
		r.Record.PayloadBytes += rec.PayloadBytes
		r.Record.Postcopy = r.Record.Postcopy || rec.Postcopy
		if c := rec.Codec; c != nil {
			if r.Record.Codec == nil {
				r.Record.Codec = &api.CodecReport{Codec: c.Codec}
			}
			addCodec(r.Record.Codec, c)
		}
	}
	return r
}

// addCodec adds c's bytes and pages to sum (and its refusal, if sum has
// none yet).
func addCodec(sum, c *api.CodecReport) {
	sum.QEMUBytes += c.QEMUBytes
	sum.LinkBytes += c.LinkBytes
	sum.Pages += c.Pages
	sum.Raw += c.Raw
	sum.Refs += c.Refs
	sum.Deltas += c.Deltas
	sum.Lits += c.Lits
	if sum.Refused == "" {
		sum.Refused = c.Refused
	}
}

// gangBaseline is the row the gang's ratios are over: plain QEMU over TCP,
// the guests' moves started at once (its wire is their sum).
const gangBaseline = "qemu-tcp-together"

// GangSummary is the gangs' tables.
type GangSummary struct {
	GangResults
	// Rows are the gangs, one per guest configuration and method, each
	// summarised as one move (ratios over gangBaseline).
	Rows []GangRow `json:"rows"`
	// Members are the gangs' guests, one row per guest and method: QEMU's
	// times, the pause, the records, the test traffic, the coders'
	// accounts. Their wire and CPU are the gang's only (see Rows).
	Members []Row `json:"members"`
}

// GangRow is one gang and method.
type GangRow struct {
	Row
	// LostPerVM are the test packets each guest lost, in gang order;
	// Duplicated and Reordered over every guest and run.
	LostPerVM  []Stat `json:"lost_per_vm,omitempty"`
	Duplicated int    `json:"duplicated"`
	Reordered  int    `json:"reordered"`
	TestMiB    Stat   `json:"test_mib"` // the test frames taken off the wire
	// The machine's processors over the move, seconds (see GangRun.Machine);
	// Other is busy minus the moves' processes (CPU).
	BusyS  Stat `json:"machine_busy_s"`
	IdleS  Stat `json:"machine_idle_s"`
	StealS Stat `json:"machine_steal_s"`
	OtherS Stat `json:"machine_other_s"`
	// AgentWaitS is both agents' threads' time runnable but waiting for a
	// processor, seconds (CPU.SrcAgentWait + DstAgentWait).
	AgentWaitS Stat `json:"agents_wait_s"`
}

// summariseGangs summarises the runs of res.
func summariseGangs(res GangResults) GangSummary {
	var totals, members []Run
	per := map[string]*[6][]float64{} // gang and method -> test MiB, busy, idle, steal, other, agents' wait s
	for _, r := range res.Runs {
		totals, members = append(totals, r.total()), append(members, r.VMs...)
		k := r.Guest + "\x00" + r.Method
		if per[k] == nil {
			per[k] = &[6][]float64{}
		}
		v, m := per[k], r.Machine
		v[0] = append(v[0], float64(r.TestBytes)/(1<<20))
		for i, d := range []time.Duration{m.Busy, m.Idle, m.Steal, m.Busy - r.CPU.Total(), r.CPU.SrcAgentWait + r.CPU.DstAgentWait} {
			v[1+i] = append(v[1+i], d.Seconds())
		}
	}
	s := GangSummary{GangResults: res, Members: summarise(members, []string{gangBaseline})}
	for i := range s.Members {
		m := &s.Members[i]
		m.WireRatio, m.CPU = nil, CPURow{}
		if c := m.Codec; c != nil {
			c.Uncoded, c.TotalRatio, c.WireRatio = "", 0, 0
		}
	}
	for _, row := range summarise(totals, []string{gangBaseline}) {
		v := per[row.Guest+"\x00"+row.Method]
		gr := GangRow{Row: row, TestMiB: stat(v[0]), BusyS: stat(v[1]), IdleS: stat(v[2]), StealS: stat(v[3]), OtherS: stat(v[4]),
			AgentWaitS: stat(v[5])}
		for _, m := range s.Members {
			if m.Method != row.Method || !strings.HasPrefix(m.Guest, row.Guest+"/") || m.Traffic == nil {
				continue
			}
			gr.LostPerVM = append(gr.LostPerVM, m.Traffic.Lost)
			gr.Duplicated += m.Traffic.Duplicated
			gr.Reordered += m.Traffic.Reordered
		}
		s.Rows = append(s.Rows, gr)
	}
	return s
}

package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	netverify "github.com/nfhandoff/nfhandoff/netctl/verify"
)

var update = flag.Bool("update", false, "rewrite testdata/report.* from the current output")

// fakeResults is a made-up run that fills every table and note.
func fakeResults() (options, []Guest, results) {
	ms := time.Millisecond
	o := options{runs: 2, warmup: 1, bandwidth: 10 << 30, downtime: 300 * ms, traffic: 1000, linkRate: "1gbit"}
	gs := []Guest{{Label: "mix-512M"}, {Label: "firewall-256M", Firewall: true},
		{Label: "ws-256M", MaxBandwidth: 32 << 20, TrafficTail: 20 * time.Second, ProbeRate: true}, {Label: "gang2", Gang: 2}}
	cpu := CPU{SrcQEMU: 2 * time.Second, DstQEMU: time.Second, SrcAgent: 300 * ms, DstAgent: 200 * ms}
	tr := func(lost int, gap time.Duration) *TrafficRun {
		return &TrafficRun{Rate: 1000, Sent: 3000, Lost: lost, Gap: gap, GapAt: 900 * ms, GapPhase: "switchover", LossGap: gap / 2,
			GapMinusDowntime: gap - 20*ms, ReflectorContinuous: true}
	}
	hand := tr(0, 30*ms)
	hand.Handoff = &api.HandoffReport{Source: api.HandoffStats{Buffered: 12}, Destination: api.HandoffStats{Held: 3}}
	rec := func(paused time.Duration, codec *api.CodecReport) *RecordRun {
		return &RecordRun{ID: "m1", EndToEnd: 1500 * ms, PayloadBytes: 300 << 20, Passes: 3, Decisions: 1, Paused: paused,
			Target: 300 * ms, Codec: codec, Notes: []string{"a note"}}
	}
	coded := &api.CodecReport{Codec: api.CodecAuto, QEMUBytes: 400 << 20, LinkBytes: 200 << 20, Pages: 1000, Refs: 300, Deltas: 100, Lits: 600}
	recovery := func(d time.Duration, ok bool) *TrafficRun {
		x := tr(5, 400*ms)
		x.Recovery = &netverify.Recovery{Rate: 990, Time: api.Duration(d), Recovered: ok}
		return x
	}
	single := func(guest, method string, total, down time.Duration, wireMiB uint64) Run {
		return Run{Guest: guest, Method: method, N: 1, From: "a", To: "b", TotalTime: total, Downtime: down, SetupTime: 10 * ms,
			WireBytes: wireMiB << 20, RAMBytes: 1 << 30, CPU: cpu}
	}
	var runs []Run
	for i, d := range []time.Duration{0, 40 * ms} {
		r := single("mix-512M", "qemu-tcp", 1000*ms+d, 20*ms+d/4, 520)
		r.N, r.Traffic = i+1, tr(40+i*10, 120*ms+d)
		runs = append(runs, r)
	}
	r := single("mix-512M", "qemu-tls", 1400*ms, 25*ms, 530)
	r.Traffic = tr(60, 150*ms)
	runs = append(runs, r)
	r = single("mix-512M", "nfhandoff", 1200*ms, 22*ms, 540)
	r.Traffic, r.Record = hand, rec(250*ms, nil)
	runs = append(runs, r)
	r = single("mix-512M", "nfhandoff-codec", 1100*ms, 21*ms, 280)
	r.Traffic, r.Record = tr(1, 35*ms), rec(400*ms, coded)
	runs = append(runs, r)
	r = single("firewall-256M", "qemu-tcp", 800*ms, 15*ms, 260)
	r.TCP = &TCPRun{Bytes: 1 << 30, Retransmits: 12, LongestStall: 200 * ms, Survived: true}
	runs = append(runs, r)
	r = single("firewall-256M", "nfhandoff", 900*ms, 18*ms, 270)
	r.TCP, r.Record = &TCPRun{Bytes: 1 << 30, Retransmits: 3, LongestStall: 100 * ms, Survived: true}, rec(200*ms, nil)
	runs = append(runs, r)
	r = single("ws-256M", "qemu-postcopy", 9000*ms, 80*ms, 600)
	r.Traffic, r.Postcopy = recovery(2000*ms, true), &PostcopyRun{RemoteFaults: 5000, Requests: 5000}
	runs = append(runs, r)
	r = single("ws-256M", "nfhandoff-postcopy-ws", 9400*ms, 90*ms, 610)
	r.Traffic, r.Record = recovery(400*ms, true), rec(90*ms, nil)
	r.Record.Postcopy = true
	r.Postcopy = &PostcopyRun{RemoteFaults: 500, Requests: 600,
		Prefetch: &api.PrefetchReport{Mode: api.PrefetchWorkingSet, Requests: 100, Pages: 65536,
			Faults: &api.PrefetchFaults{Before: 20, Asked: 300, Ahead: 100, Outside: 80}}}
	runs = append(runs, r)

	over := gangRun("nfhandoff-gang", 1, 8*time.Second, 200, [2]int{0, 1}, true)
	over.VMs[1].Record.Paused = 420 * ms
	res := results{runs: runs,
		idle: []IdleAB{{Guest: "firewall-256M", Attached: []float64{9000, 9100}, Detached: []float64{9200, 9150},
			ProgRuns: 1_000_000, ProgTime: 50 * ms}},
		gangs: GangResults{AskedRate: 1000, Rate: 1000, Probes: []string{"1000 pps each: answered"},
			Runs: []GangRun{gangRun("qemu-tcp-together", 1, 10*time.Second, 800, [2]int{100, 200}, false), over}},
		probes: []*RateProbe{{Guest: "ws-256M", Asked: 1000, Rate: 500, Probes: []string{"1000 pps: late", "500 pps: answered"}}},
		mem:    coldMemory{Warm: 20 * ms, Cold: 300 * ms},
	}
	return o, gs, res
}

// The tables and the JSON of a fixed run stay as they were, byte for byte.
func TestReport(t *testing.T) {
	o, gs, res := fakeResults()
	rep := newReport(o, gs, res)
	var b bytes.Buffer
	rep.print(&b)
	// schedNote reads this machine's scheduler setting.
	text := strings.ReplaceAll(b.String(), schedNote(), "<schedNote>")
	golden(t, "testdata/report.txt", []byte(text))
	// The JSON of fewer moves: every key, a few rows of each.
	var runs []Run
	for _, r := range res.runs {
		if r.N == 1 && (r.Guest == "mix-512M" && r.Method == "qemu-tcp" || r.Method == "qemu-postcopy") {
			runs = append(runs, r)
		}
	}
	res.runs, res.gangs.Runs = runs, res.gangs.Runs[:1]
	golden(t, "testdata/report.json", newReport(o, gs, res).jsonFile())
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s", path, got)
	}
}

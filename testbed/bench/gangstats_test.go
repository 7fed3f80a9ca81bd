package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestWireOf(t *testing.T) {
	for _, c := range []struct{ src, dst, test, want uint64 }{
		{100, 100, 0, 100},
		{110, 100, 10, 100}, // the test frames crossed the source's uplink
		{5, 5, 20, 0},
	} {
		if got := wireOf(c.src, c.dst, c.test); got != c.want {
			t.Errorf("wireOf(%d, %d, %d) = %d, want %d", c.src, c.dst, c.test, got, c.want)
		}
	}
}

// gangRun is a made-up gang move of two guests.
func gangRun(method string, n int, total time.Duration, wireMiB uint64, lost [2]int, codec bool) GangRun {
	g := GangRun{Guest: "gang2", Method: method, N: n, Time: total, WireBytes: wireMiB << 20, TestBytes: 1 << 20,
		RAMBytes: 2 << 30, CPU: CPU{SrcQEMU: 2 * time.Second, DstQEMU: 2 * time.Second, SrcAgent: time.Second},
		Machine: MachineCPU{Busy: 7 * time.Second, Idle: time.Second}}
	for i := range 2 {
		v := Run{Guest: "gang2/bench-" + string(rune('1'+i)), Method: method, N: n, TotalTime: total / 2,
			Downtime: time.Duration(10*(i+1)) * time.Millisecond, RAMBytes: 1 << 30,
			Traffic: &TrafficRun{Lost: lost[i], Duplicated: i, ReflectorContinuous: true}}
		if codec {
			v.Record = &RecordRun{Paused: v.Downtime, Target: 300 * time.Millisecond,
				Codec: &api.CodecReport{Codec: api.CodecAuto, QEMUBytes: 100 << 20, LinkBytes: 40 << 20, Pages: 1000, Refs: int64(100 * i), Lits: 1000 - int64(100*i)}}
		}
		g.VMs = append(g.VMs, v)
	}
	return g
}

func TestSummariseGangs(t *testing.T) {
	s := summariseGangs(GangResults{AskedRate: 1000, Rate: 1000, Runs: []GangRun{
		gangRun("qemu-tcp-together", 1, 10*time.Second, 800, [2]int{100, 200}, false),
		gangRun("qemu-tcp-sequential", 1, 20*time.Second, 800, [2]int{300, 300}, false),
		gangRun("nfhandoff-gang", 1, 8*time.Second, 200, [2]int{0, 0}, true),
		gangRun("nfhandoff-gang", 2, 12*time.Second, 240, [2]int{0, 0}, true),
		gangRun("nfhandoff-none", 1, 6*time.Second, 800, [2]int{0, 0}, true),
	}})
	if len(s.Rows) != 4 || len(s.Members) != 8 {
		t.Fatalf("%d rows, %d members, want 4 and 8", len(s.Rows), len(s.Members))
	}
	g := s.Rows[2]
	if g.Method != "nfhandoff-gang" || g.Runs != 2 || g.TotalMS.Median != 10000 || g.WireMiB.Median != 220 {
		t.Errorf("gang row %+v", g.Row)
	}
	if r := g.WireRatio[gangBaseline]; r != 220.0/800 {
		t.Errorf("wire/%s = %v", gangBaseline, r)
	}
	if r := g.TotalRatio[gangBaseline]; r != 1 {
		t.Errorf("time/%s = %v", gangBaseline, r)
	}
	if g.DowntimeM.Median != 20 || g.CPU.Total.Median != 2.5 || g.TestMiB.Median != 1 {
		t.Errorf("pause %v, CPU %v, test %v: want the longest guest's 20 ms, 5 s per 2 GiB, 1 MiB", g.DowntimeM, g.CPU.Total, g.TestMiB)
	}
	if g.BusyS.Median != 7 || g.IdleS.Median != 1 || g.OtherS.Median != 2 {
		t.Errorf("machine busy %v, idle %v, other %v: want 7, 1 and 7-5 s", g.BusyS, g.IdleS, g.OtherS)
	}
	// Refs over the gang's pages: 100 of 2000.
	if c := g.Codec; c == nil || c.RefsPct.Median != 5 || c.LinkMiB.Median != 80 || c.Uncoded != "nfhandoff-none" || c.TotalRatio != 10.0/6 {
		t.Errorf("gang codec %+v", c)
	}
	if tcp := s.Rows[0]; len(tcp.LostPerVM) != 2 || tcp.LostPerVM[0].Median != 100 || tcp.LostPerVM[1].Median != 200 || tcp.Duplicated != 1 {
		t.Errorf("lost per VM %v, dup %d", tcp.LostPerVM, tcp.Duplicated)
	}
	for _, m := range s.Members {
		if m.WireRatio != nil || m.CPU.Total.Median != 0 || (m.Codec != nil && m.Codec.Uncoded != "") {
			t.Errorf("member %s %s carries the gang's wire, CPU or uncoded ratio: %+v", m.Guest, m.Method, m)
		}
	}
	var b bytes.Buffer
	printGangs(&b, s)
	out := b.String()
	for _, want := range []string{"nfhandoff-gang", "10000 [8000-12000]", "0.28", "0 0", "100 200", "5.0", "gang2/bench-2", "test traffic: 1000 pps"} {
		if !strings.Contains(out, want) {
			t.Errorf("tables lack %q:\n%s", want, out)
		}
	}
}

func TestGangRateNote(t *testing.T) {
	if n := gangRateNote(GangResults{AskedRate: 1000, Rate: 500, Probes: []string{"1000 pps each: x", "750 pps each: y"}}); !strings.Contains(n, "NOT the 1000 asked") || !strings.Contains(n, "750 pps each") {
		t.Errorf("a lowered rate is not said: %s", n)
	}
}

func TestPrintOverTarget(t *testing.T) {
	r := gangRun("nfhandoff-gang", 2, time.Second, 10, [2]int{}, true)
	r.VMs[1].Record.Paused = 4283 * time.Millisecond
	r.VMs[1].Record.PausedParts = &api.PauseParts{FinalPass: api.Duration(4200 * time.Millisecond)}
	r.VMs[1].Record.Notes = []string{"pause over target: final pass"}
	var b bytes.Buffer
	printOverTarget(&b, []GangRun{r})
	out := b.String()
	for _, want := range []string{"nfhandoff-gang run 2 gang2/bench-2: paused 4.283s (target 300ms): final pass 4.2s", "pause over target: final pass"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "bench-1") {
		t.Errorf("a guest within the target listed:\n%s", out)
	}
	b.Reset()
	printOverTarget(&b, []GangRun{gangRun("nfhandoff-gang", 1, time.Second, 10, [2]int{}, true)})
	if b.Len() != 0 {
		t.Errorf("printed with every pause within the target: %s", b.String())
	}
}

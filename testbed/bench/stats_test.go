package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestStat(t *testing.T) {
	if s := stat([]float64{3, 1, 2}); s != (Stat{Median: 2, Min: 1, Max: 3}) {
		t.Errorf("odd: %+v", s)
	}
	if s := stat([]float64{4, 1, 2, 3}); s != (Stat{Median: 2.5, Min: 1, Max: 4}) {
		t.Errorf("even: %+v", s)
	}
	if s := stat(nil); s != (Stat{}) {
		t.Errorf("empty: %+v", s)
	}
}

func TestSummarise(t *testing.T) {
	ms := time.Millisecond
	runs := []Run{
		{Guest: "g", Method: "qemu-tcp", TotalTime: 100 * ms, Downtime: 10 * ms, WireBytes: 10 << 20},
		{Guest: "g", Method: "qemu-tls", TotalTime: 200 * ms, Downtime: 20 * ms, WireBytes: 11 << 20},
		{Guest: "g", Method: "qemu-tcp", TotalTime: 120 * ms, Downtime: 12 * ms, WireBytes: 10 << 20},
		{Guest: "g", Method: "qemu-tls", TotalTime: 220 * ms, Downtime: 22 * ms, WireBytes: 11 << 20},
		{Guest: "h", Method: "nfhandoff", TotalTime: 50 * ms, WireBytes: 5 << 20},
		{Guest: "g", Method: "nfhandoff", TotalTime: 330 * ms, Downtime: 33 * ms, WireBytes: 20 << 20,
			Record: &RecordRun{EndToEnd: 400 * ms, PayloadBytes: 19 << 20, Passes: 3, Postcopy: true, Paused: 40 * ms, Target: 50 * ms}},
		{Guest: "g", Method: "nfhandoff", TotalTime: 330 * ms, Downtime: 33 * ms, WireBytes: 20 << 20,
			Record: &RecordRun{EndToEnd: 400 * ms, PayloadBytes: 19 << 20, Passes: 3, Postcopy: true, Paused: 60 * ms, Target: 50 * ms}},
	}
	base := []string{"qemu-tcp", "qemu-tls"}
	rows := summarise(runs, base)
	if len(rows) != 4 || rows[0].Method != "qemu-tcp" || rows[1].Method != "qemu-tls" || rows[2].Guest != "h" {
		t.Fatalf("rows %+v", rows)
	}
	if rows[0].Runs != 2 || rows[0].TotalMS.Median != 110 || rows[1].TotalRatio["qemu-tcp"] != 210.0/110 {
		t.Errorf("row %+v / %+v", rows[0], rows[1])
	}
	if rows[2].TotalRatio != nil {
		t.Errorf("ratio without a baseline for that guest: %+v", rows[2])
	}
	c := rows[3]
	if c.TotalRatio["qemu-tcp"] != 3 || c.DowntimeRatio["qemu-tcp"] != 3 || c.WireRatio["qemu-tls"] != 20.0/11 {
		t.Errorf("ratios of c: %+v", c)
	}
	if c.Record == nil || c.Record.EndToEndMS.Median != 400 || c.Record.PayloadMiB.Median != 19 || c.Record.PostcopyRuns != 2 ||
		c.Record.WithinTarget != 1 || c.Record.PausedMS.Median != 50 {
		t.Errorf("record summary %+v", c.Record)
	}
	if rows[0].Record != nil {
		t.Errorf("a plain method has a record summary: %+v", rows[0].Record)
	}
	var b bytes.Buffer
	printTable(&b, rows, base)
	printRecords(&b, rows)
	out := b.String()
	for _, want := range []string{"time/qemu-tcp", "down/qemu-tls", "110 [100-120]", "1.91", "10.0 [10.0-10.0]",
		"3.00", "1.82", "end-to-end ms", "400 [400-400]", "19.0 [19.0-19.0]"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestSummariseTraffic(t *testing.T) {
	ms := time.Millisecond
	tr := func(lost int, gap, down time.Duration) *TrafficRun {
		return &TrafficRun{Rate: 1000, Sent: 3000, Lost: lost, Gap: gap, LossGap: gap - ms, GapMinusDowntime: gap - down, ReflectorContinuous: true}
	}
	hand := tr(0, 30*ms, 20*ms)
	hand.Handoff = &api.HandoffReport{Source: api.HandoffStats{Buffered: 12}, Destination: api.HandoffStats{Held: 3}}
	runs := []Run{
		{Guest: "g", Method: "qemu-tcp", Downtime: 20 * ms, Traffic: tr(40, 120*ms, 20*ms)},
		{Guest: "g", Method: "qemu-tcp", Downtime: 20 * ms, Traffic: tr(50, 140*ms, 20*ms)},
		{Guest: "g", Method: "nfhandoff", Downtime: 20 * ms, Traffic: hand, Record: &RecordRun{}},
	}
	rows := summarise(runs, []string{"qemu-tcp"})
	a, c := rows[0].Traffic, rows[1].Traffic
	if a == nil || c == nil {
		t.Fatalf("no traffic summary: %+v", rows)
	}
	if a.Lost.Median != 45 || a.GapMS.Median != 130 || a.GapMinusDownMS.Median != 110 || a.LostDiff["qemu-tcp"] != 0 {
		t.Errorf("qemu-tcp traffic %+v", a)
	}
	if c.Lost.Median != 0 || c.LostDiff["qemu-tcp"] != -45 || c.GapRatio["qemu-tcp"] != 30.0/130 || c.HandoffCarried != 15 || c.HandoffDropped != 0 {
		t.Errorf("nfhandoff traffic %+v", c)
	}
	var b bytes.Buffer
	printTraffic(&b, rows, []string{"qemu-tcp"})
	for _, want := range []string{"gap-down ms", "lost-qemu-tcp", "45 [40-50]", "130 [120-140]", "-45", "0.23", "15/0", "0/0/0"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("traffic table lacks %q:\n%s", want, b.String())
		}
	}
}

// Each pair's ratio is of neighbours in time; an odd flow out has none.
func TestIdleRatios(t *testing.T) {
	a := IdleAB{Attached: []float64{100, 300, 50}, Detached: []float64{200, 300}}
	if got := a.Ratios(); !slices.Equal(got, []float64{0.5, 1}) {
		t.Errorf("ratios %v, want [0.5 1]", got)
	}
}

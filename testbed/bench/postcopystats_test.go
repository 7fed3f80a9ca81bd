package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	netverify "github.com/nfhandoff/nfhandoff/netctl/verify"
)

func TestSummarisePostcopy(t *testing.T) {
	ms := time.Millisecond
	tr := func(rec time.Duration, recovered bool, lost int) *TrafficRun {
		return &TrafficRun{Rate: 1000, Lost: lost, ReflectorContinuous: true,
			Recovery: &netverify.Recovery{Rate: 990, Time: api.Duration(rec), Recovered: recovered}}
	}
	pc := func(faults uint64, injected int64) *PostcopyRun {
		p := &PostcopyRun{RemoteFaults: faults, Requests: faults}
		if injected > 0 {
			p.Prefetch = &api.PrefetchReport{Mode: api.PrefetchWorkingSet, Requests: 100, Pages: injected}
			p.Requests += 100
		}
		return p
	}
	runs := []Run{
		{Guest: "ws", Method: "qemu-postcopy", TotalTime: 9000 * ms, Downtime: 80 * ms, Traffic: tr(2000*ms, true, 0), Postcopy: pc(5000, 0)},
		{Guest: "ws", Method: "nfhandoff-postcopy", TotalTime: 9500 * ms, Downtime: 90 * ms, Traffic: tr(1800*ms, true, 0), Postcopy: pc(4000, 0)},
		{Guest: "ws", Method: "nfhandoff-postcopy-ws", TotalTime: 9400 * ms, Downtime: 90 * ms, Traffic: tr(400*ms, true, 0), Postcopy: pc(500, 65536)},
		{Guest: "ws", Method: "qemu-postcopy", TotalTime: 9200 * ms, Downtime: 100 * ms, Traffic: tr(3000*ms, false, 2), Postcopy: pc(7000, 0)},
		{Guest: "ws", Method: "nfhandoff-postcopy", TotalTime: 9700 * ms, Downtime: 95 * ms, Traffic: tr(2200*ms, true, 0)}, // did not switch
		{Guest: "ws", Method: "nfhandoff-postcopy-ws", TotalTime: 9600 * ms, Downtime: 95 * ms, Traffic: tr(600*ms, true, 0), Postcopy: pc(700, 65536)},
		{Guest: "ws", Method: "qemu-tcp", TotalTime: 500 * ms}, // not a post-copy row
	}
	rows := summarisePostcopy(summarise(runs, baselines), runs, postcopyBaseline)
	if len(rows) != 3 {
		t.Fatalf("rows %+v: want the three post-copy methods", rows)
	}
	q, n, w := rows[0], rows[1], rows[2]
	if q.Method != "qemu-postcopy" || q.Postcopy != 2 || q.RemoteFaults.Median != 6000 || q.RecoveryMS.Median != 2500 ||
		q.Measured != 2 || q.Recovered != 1 || q.Lost.Max != 2 || q.PauseMS.Median != 90 {
		t.Errorf("qemu-postcopy row %+v", q)
	}
	if n.Postcopy != 1 || n.Runs != 2 || n.RemoteFaults.Median != 4000 || n.RecoveryMS.Median != 2000 {
		t.Errorf("nfhandoff-postcopy row %+v", n)
	}
	if w.InjectedPages.Median != 65536 || w.RemoteFaults.Median != 600 {
		t.Errorf("nfhandoff-postcopy-ws row %+v", w)
	}
	if q.RecoveryRatio == nil || *q.RecoveryRatio != 1 || w.RecoveryRatio == nil || *w.RecoveryRatio != 500.0/2500 ||
		w.FaultsRatio == nil || *w.FaultsRatio != 600.0/6000 {
		t.Errorf("ratios: baseline %v/%v, ws %v/%v", q.RecoveryRatio, q.FaultsRatio, w.RecoveryRatio, w.FaultsRatio)
	}
	var b bytes.Buffer
	printPostcopy(&b, rows)
	out := b.String()
	for _, want := range []string{"recovery/qemu-postcopy", "faults/qemu-postcopy", "2 of 2", "1 of 2", "6000 [5000-7000]",
		"2500 [2000-3000]", "500 [400-600]", "65536 [65536-65536]", "0.20", "0.10"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestSummarisePostcopyWithoutBaseline(t *testing.T) {
	runs := []Run{{Guest: "ws", Method: "nfhandoff-postcopy-ws", Postcopy: &PostcopyRun{RemoteFaults: 10}}}
	rows := summarisePostcopy(summarise(runs, baselines), runs, postcopyBaseline)
	if len(rows) != 1 || rows[0].RecoveryRatio != nil || rows[0].FaultsRatio != nil || rows[0].Measured != 0 {
		t.Fatalf("rows %+v: want one row without ratios or recovery", rows)
	}
	var b bytes.Buffer
	printPostcopy(&b, rows)
	if !strings.Contains(b.String(), "0 of 0") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestRunOfPostcopy(t *testing.T) {
	mv := Move{From: &Host{Name: "a"}, To: &Host{Name: "b"}}
	rec := &api.Migration{Postcopy: true, RAM: api.RAMStats{PostcopyRequests: 300},
		Prefetch: &api.PrefetchReport{Requests: 256, Pages: 4096}}
	r := runOf("nfhandoff-postcopy-ws", mv, Outcome{Record: rec})
	if r.Postcopy == nil || r.Postcopy.RemoteFaults != 44 || r.Postcopy.Requests != 300 {
		t.Errorf("nfhandoff: %+v", r.Postcopy)
	}
	var o Outcome
	o.Summary.RAM.PostcopyRequests, o.Postcopy = 1234, true
	if r := runOf("qemu-postcopy", mv, o); r.Postcopy == nil || r.Postcopy.RemoteFaults != 1234 {
		t.Errorf("plain: %+v", r.Postcopy)
	}
	if r := runOf("nfhandoff", mv, Outcome{Record: &api.Migration{}}); r.Postcopy != nil {
		t.Errorf("pre-copy move has a post-copy run: %+v", r.Postcopy)
	}
	m := migrationOf(Outcome{Started: time.Unix(1, 0), Resumed: time.Unix(2, 0)})
	if !m.Started.Equal(time.Unix(1, 0)) || !m.ResumedAt.Equal(time.Unix(2, 0)) {
		t.Errorf("migrationOf plain: %+v", m)
	}
}

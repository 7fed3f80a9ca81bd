package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestSummariseCodec(t *testing.T) {
	ms := time.Millisecond
	coded := func(link int64, refs int64) *RecordRun {
		return &RecordRun{Codec: &api.CodecReport{Codec: api.CodecAuto, QEMUBytes: 100 << 20, LinkBytes: link << 20,
			Pages: 1000, Refs: refs, Deltas: 100, Lits: 900 - refs}}
	}
	runs := []Run{
		{Guest: "g", Method: "qemu-tcp", TotalTime: 100 * ms, WireBytes: 100 << 20},
		{Guest: "g", Method: "nfhandoff-codec", TotalTime: 110 * ms, WireBytes: 50 << 20, Record: coded(40, 100)},
		{Guest: "g", Method: "nfhandoff-codec", TotalTime: 130 * ms, WireBytes: 70 << 20, Record: coded(60, 300)},
		{Guest: "g", Method: "nfhandoff", TotalTime: 100 * ms, WireBytes: 120 << 20, Record: &RecordRun{}},
		{Guest: "g", Method: "nfhandoff-quic", TotalTime: 100 * ms, WireBytes: 60 << 20,
			Record: &RecordRun{Codec: &api.CodecReport{Codec: api.CodecAuto, QEMUBytes: 10, LinkBytes: 10, Refused: "xbzrle"}}},
	}
	rows := summarise(runs, []string{"qemu-tcp"})
	if rows[0].Codec != nil || rows[2].Codec != nil {
		t.Errorf("an account for a method without one: %+v, %+v", rows[0].Codec, rows[2].Codec)
	}
	c := rows[1].Codec
	if c == nil {
		t.Fatalf("no account: %+v", rows[1])
	}
	if c.Runs != 2 || c.LinkMiB.Median != 50 || c.QEMUMiB.Median != 100 || c.LinkPerQEMU.Median != 0.5 || c.Pages.Median != 1000 {
		t.Errorf("bytes %+v", c)
	}
	if c.RefsPct != (Stat{Median: 20, Min: 10, Max: 30}) || c.DeltasPct.Median != 10 || c.LitsPct.Median != 70 || c.RawPct.Median != 0 {
		t.Errorf("split %+v", c)
	}
	if c.Uncoded != "nfhandoff" || c.TotalRatio != 1.2 || c.WireRatio != 0.5 {
		t.Errorf("against the uncoded twin: %+v", c)
	}
	q := rows[3].Codec
	if q == nil || q.Uncoded != "" || q.Pages.Median != 0 || q.RefsPct.Median != 0 || len(q.Refused) != 1 {
		t.Errorf("a refused account without a twin: %+v", q)
	}
	var b bytes.Buffer
	printCodec(&b, rows)
	out := b.String()
	for _, want := range []string{"link/QEMU", "50.0 [40.0-60.0]", "0.50 [0.40-0.60]", "1000 [1000-1000]", "20.0", "1.20", "xbzrle", "2 of 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "qemu-tcp") {
		t.Errorf("a row without an account:\n%s", out)
	}
}

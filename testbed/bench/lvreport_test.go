package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// The libvirt rows' tables: ratios to libvirt's own methods (no plain
// QEMU's columns), the libvirt daemons' CPU, the agent's record.
func TestReportLibvirt(t *testing.T) {
	ms := time.Millisecond
	o := options{runs: 1, warmup: 1, bandwidth: 10 << 30, downtime: 300 * ms, traffic: 1000, libvirt: true}
	cpu := CPU{SrcQEMU: 800 * ms, DstQEMU: 600 * ms, SrcDaemon: 40 * ms, DstDaemon: 30 * ms}
	run := func(method string, total, down time.Duration, lost int) Run {
		return Run{Guest: "lvvnf-256M", Method: method, N: 1, From: "hostA", To: "hostB", TotalTime: total, Downtime: down,
			WireBytes: 90 << 20, RAMBytes: 80 << 20, CPU: cpu, Libvirt: &LibvirtJob{Elapsed: total - 100*ms, Downtime: down, MemoryBytes: 80 << 20},
			Traffic: &TrafficRun{Rate: 1000, Sent: 4000, Lost: lost, Gap: down + 50*ms, ReflectorContinuous: true}}
	}
	nfh := run("nfhandoff-libvirt", 3000*ms, 250*ms, 0)
	nfh.CPU.SrcAgent, nfh.CPU.DstAgent = 200*ms, 150*ms
	nfh.Record = &RecordRun{ID: "hostA-1", EndToEnd: 2900 * ms, Paused: 250 * ms, Target: 300 * ms}
	nfh.Traffic.Handoff = &api.HandoffReport{Source: api.HandoffStats{Buffered: 200}, Destination: api.HandoffStats{Held: 8}}
	res := results{runs: []Run{run("libvirt-tcp", 2500*ms, 60*ms, 80), run("libvirt-tls", 2800*ms, 70*ms, 90), nfh},
		mem: coldMemory{Warm: 20 * ms, Cold: 300 * ms}}
	var b bytes.Buffer
	newReport(o, []Guest{{Label: "lvvnf-256M", Libvirt: true}}, res).print(&b)
	text := b.String()
	golden(t, "testdata/report-libvirt.txt", []byte(text))
	for _, want := range []string{"time/libvirt-tcp", "time/libvirt-tls", "src libvirtd", "libvirt's --bandwidth 10240 MiB/s"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the libvirt report", want)
		}
	}
	if strings.Contains(text, "qemu-tcp") {
		t.Errorf("the libvirt report has plain QEMU's columns")
	}
}

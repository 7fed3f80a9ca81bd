package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestPrintMigration(t *testing.T) {
	m := runningMigration()
	m.Request = api.MigrateRequest{VM: "fw1", To: "hostB", Postcopy: api.PostcopyAuto}
	m.Request.Defaults()
	var out bytes.Buffer
	g := &globals{env: Env{Stdout: &out, Now: func() time.Time { return testNow.Add(2 * time.Second) }}}
	g.printMigration(m)
	for _, want := range []string{
		"migration hostA-1: fw1 from hostA to hostB (source)", "state:      ACTIVE", "started:    2026-06-01 12:00:00 UTC (2s ago)",
		"progress:   42%, 107.5/256.0 MiB", "elapsed:    1s", "post-copy:  no", "decisions:  none",
		"request:    bandwidth 1.0 GiB/s (first pass 64.0 MiB/s), downtime target 50ms, postcopy auto, multifd 0, pipe tcp, codec none, timeout 5m0s then abort",
		"phases:     setup 1s, precopy (running)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("running summary lacks %q:\n%s", want, out.String())
		}
	}
	postcopy := func(m *api.Migration, now time.Time) {
		m.Postcopy, m.Throttled, m.RAM.PostcopyRequests = true, 30, 17
		decide("throttle", "30%", "not converging")(m, now)
	}
	completed(&m, testNow.Add(2*time.Second))
	postcopy(&m, testNow.Add(2*time.Second))
	ms := func(n int) api.Duration { return api.Duration(time.Duration(n) * time.Millisecond) }
	m.Paused = ms(45)
	m.PausedParts = &api.PauseParts{FinalPass: ms(20), Handoff: ms(2), Completion: ms(8), Destination: ms(10), Messages: ms(5)}
	out.Reset()
	g.printMigration(m)
	for _, want := range []string{
		"state:          COMPLETED", "total time:     2.4s", "qemu downtime:  38ms", "passes:         3",
		"post-copy:      yes (17 page requests from the destination's faults)", "throttle:       30% of the guest's CPU",
		"decisions:      1\n    pass 3", "throttle 30%: not converging\n",
		"guest paused:   45ms (stop on hostA to running on hostB)",
		"paused in:      final pass 20ms, hand-off 2ms, completion 8ms, destination 10ms, messages 5ms",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("final summary lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "progress:") {
		t.Error("final summary shows live progress")
	}
}

package testbed

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// TestIntegrationWorkingSetReport: the vnf answers its agent's requests
// for its working set over the guest's virtio-serial port. The agent's
// status shows a fresh report covering at least the guest's --wss (all of
// it resident, reported hot), and after a plain move to hostB the
// destination's agent asks and gets them.
func TestIntegrationWorkingSetReport(t *testing.T) {
	env := requireTestbed(t)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const wssMiB = 64
	startGuest(ctx, t, env, "hostA", "--wss", strconv.Itoa(wssMiB), "--ws-report-port", wsReportPort)
	before := freshReport(ctx, t, env, "hostA", 9, wssMiB)
	logReportCost(ctx, t, env, "hostA")

	m := migrate(ctx, t, env, "hostA", api.MigrateRequest{VM: "fw1", To: "hostB"})
	if m.State != api.MigrationCompleted {
		t.Fatalf("hostA→hostB: %s: %s", m.State, m.Reason)
	}
	guestOn(ctx, t, env, "hostB", "fw1")
	after := freshReport(ctx, t, env, "hostB", 0, wssMiB)
	if after.Rejected != 0 || before.Rejected != 0 { // unanswered: those asked while the guest booted
		t.Errorf("rejected reports: %d on hostA, %d on hostB, unanswered requests %d and %d; want none from an honest guest",
			before.Rejected, after.Rejected, before.Unanswered, after.Unanswered)
	}
}

// logReportCost logs what the vnf says a report costs it (its console).
func logReportCost(ctx context.Context, t *testing.T, env Env, host string) {
	t.Helper()
	vm, err := api.NewClient(env.Socket(host)).GetVM(ctx, "fw1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(vm.ConsoleLog)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "msg=\"working-set report") {
			t.Logf("fw1's console: %s", strings.TrimSpace(l))
		}
	}
}

// freshReport waits for a report on host newer than seq and at most 3 s
// old, whose hot pages cover wssMiB, and returns the working set status.
func freshReport(ctx context.Context, t *testing.T, env Env, host string, seq uint64, wssMiB int) api.WorkingSetStatus {
	t.Helper()
	c := api.NewClient(env.Socket(host))
	want := uint64(wssMiB) << 20 / 4096
	deadline := time.Now().Add(90 * time.Second)
	var last *api.WorkingSetStatus
	for {
		st, err := c.VMStatus(ctx, "fw1")
		if err != nil {
			t.Fatalf("fw1 on %s: %v", host, err)
		}
		if ws := st.WorkingSet; ws != nil {
			last = ws
			if ws.Received > 0 && ws.Seq > seq && ws.Age < 3*time.Second && ws.HotPages >= want {
				t.Logf("fw1 on %s: report %d, %v old: %d pages in %d ranges, %d hot in %d ranges (wss %d pages); %d received, %d rejected, %d dropped, %d clipped, truncated %v",
					host, ws.Seq, ws.Age, ws.Pages, ws.Ranges, ws.HotPages, ws.HotRanges, want, ws.Received, ws.Rejected, ws.Dropped, ws.Clipped, ws.Truncated)
				if ws.Pages < ws.HotPages || ws.Pages > 256<<20/4096 {
					t.Fatalf("fw1 on %s: %d pages, %d hot: want hot <= all <= the guest's RAM", host, ws.Pages, ws.HotPages)
				}
				return *ws
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("fw1 on %s: no fresh report after seq %d with >= %d hot pages; last %+v", host, seq, want, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// lies is what the lying guest of TestIntegrationWorkingSetLies answers,
// in turn: a report that decodes comes at least every ~4 s (a garbage or
// wrong-id answer costs the agent its 2 s reply wait and a 1 s redial),
// so the one the source holds at the switch is fresh.
const lies = "garbage:huge:wrong-id:out-of-range:stale"

// TestIntegrationWorkingSetLies: a guest that answers its agent's requests
// with garbage, reports answering no request, ranges beyond its RAM and
// across the PCI hole, the most ranges a report holds, and frames it does
// not use cannot fail a migration: the agent counts what it rejects, the
// post-copy move with working-set prefetch sends the lying (checked)
// report first, completes, and the guest runs at the destination with its
// memory intact.
func TestIntegrationWorkingSetLies(t *testing.T) {
	env := requireTestbed(t)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	startGuest(ctx, t, env, "hostA", append([]string{"--ws-report-port", wsReportPort, "--ws-report-lie", lies}, fastDirtyArgs...)...)
	c := api.NewClient(env.Socket("hostA"))
	var ws api.WorkingSetStatus
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		st, err := c.VMStatus(ctx, "fw1")
		if err != nil {
			t.Fatal(err)
		}
		if st.WorkingSet != nil {
			ws = *st.WorkingSet
		}
		// A whole round of lies: every kind seen.
		if ws.Received >= 4 && ws.Rejected >= 3 && ws.Unanswered >= 2 && ws.Age < 2*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fw1 on hostA: working set %+v: want the lies counted (received, rejected, unanswered)", ws)
		}
	}
	t.Logf("fw1 on hostA lies: %d asked, %d unanswered, %d received, %d rejected; latest %d pages in %d ranges, %d dropped, %d clipped",
		ws.Asked, ws.Unanswered, ws.Received, ws.Rejected, ws.Pages, ws.Ranges, ws.Dropped, ws.Clipped)
	if ws.Pages > 256<<20/4096 {
		t.Fatalf("fw1 on hostA: %d pages held, more than its RAM", ws.Pages)
	}

	// Dirtying faster than the cap: the first pass cannot complete the move.
	m := migrate(ctx, t, env, "hostA", api.MigrateRequest{VM: "fw1", To: "hostB",
		Bandwidth: fastCap, Postcopy: api.PostcopyAlways, PostcopyPrefetch: api.PrefetchWorkingSet})
	if m.State != api.MigrationCompleted {
		t.Fatalf("hostA→hostB: %s: %s", m.State, m.Reason)
	}
	p := m.Prefetch
	if !m.Postcopy || p == nil || p.Mode != api.PrefetchWorkingSet || p.Planned == 0 || p.Requests == 0 {
		t.Fatalf("%s: prefetch %+v: want the lying report's checked pages asked for first", m.ID, p)
	}
	t.Logf("%s: prefetch %+v; post-copy remote faults %d", m.ID, *p, m.RemoteFaults())
	guestOn(ctx, t, env, "hostB", "fw1")
	settled(ctx, t, env, "hostB", 2)
}

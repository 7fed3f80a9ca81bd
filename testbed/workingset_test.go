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

// TestIntegrationWorkingSetReport: the vnf reports its working set to its
// agent over the guest's virtio-serial port. The agent's status shows a
// fresh report covering at least the guest's --wss (all of it resident,
// reported hot), and after a plain move to hostB the reports keep coming
// at the destination, from the same vnf (its sequence goes on).
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
	after := freshReport(ctx, t, env, "hostB", before.Seq, wssMiB)
	if after.Rejected != 0 || before.Rejected != 0 {
		t.Errorf("rejected reports: %d on hostA, %d on hostB; want none from an honest guest", before.Rejected, after.Rejected)
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

package testbed

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// TestIntegrationQEMUKilled kills (SIGKILL) a QEMU in the middle of a
// migration under TWAMP-light at 500 pps, in pre-copy and in BUFFER:
//   - the destination's: the source rolls back; the guest runs on hostA
//     only, the same boot with its memory intact, 0 lost, 0 dropped;
//   - the source's: the guest dies with it. It must not run anywhere else
//     (hostB never starts a guest whose state did not all arrive) and no
//     QEMU of it is left on either host; the migration fails naming the
//     source QEMU, the VM record says failed with the reason; every frame
//     the dataplane had captured is put back or counted as dropped; the
//     agent does not restart the guest (a fresh boot loses the VNF's
//     state: the operator's or orchestrator's call).
func TestIntegrationQEMUKilled(t *testing.T) {
	env := requireTestbed(t)
	requireDataplane(t, env)
	// BUFFER lasts 3 s longer than it would: time to kill a QEMU in it.
	env = env.WithAgentArgs("hostA", "--debug-switchover-delay", "3s")
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := api.NewClient(env.Socket("hostA"))
	last := startHandoffGuest(ctx, t, env, "hostA")
	// 2 MiB/s: pre-copy lasts long enough to kill a QEMU in it.
	slow := api.MigrateRequest{VM: "fw1", To: "hostB", Bandwidth: 2 << 20, InitialBandwidth: 2 << 20}
	fast := api.MigrateRequest{VM: "fw1", To: "hostB"}
	for _, tc := range []struct {
		name  string
		host  string // whose QEMU dies
		req   api.MigrateRequest
		phase Phase
	}{
		{"destination in pre-copy", "hostB", slow, PhasePrecopy},
		{"destination in BUFFER", "hostB", fast, PhaseSwitchover},
		{"source in pre-copy", "hostA", slow, PhasePrecopy},
		{"source in BUFFER", "hostA", fast, PhaseSwitchover},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm, err := c.GetVM(ctx, "fw1")
			if err != nil {
				t.Fatal(err)
			}
			if vm.State != api.StateRunning {
				if _, _, err := env.Netctl(ctx, "--host", "hostA", "vm", "stop", "fw1"); err != nil {
					t.Fatal(err)
				}
				last = startHandoffGuest(ctx, t, env, "hostA")
				if vm, err = c.GetVM(ctx, "fw1"); err != nil {
					t.Fatal(err)
				}
			}
			s := faultTraffic(ctx, t)
			m, err := c.Migrate(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := env.WaitPhase(ctx, "hostA", "fw1", tc.phase); err != nil {
				t.Fatal(err)
			}
			pid, err := env.KillQEMU(ctx, tc.host, "fw1")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s: killed %s's QEMU %d", m.ID, tc.phase, tc.host, pid)
			rec := waitMigration(ctx, t, c, m.ID)
			var dropped uint64
			var src api.HandoffStats
			if rec.Handoff != nil {
				src = rec.Handoff.Source
				dropped = src.DroppedTotal()
			}
			t.Logf("source record: %s: %s", rec.State, rec.Reason)
			if tc.host == "hostB" {
				onlyQEMU(ctx, t, env, "hostA", "fw1", vm.PID, time.Now().Add(recoveredWithin))
				last = rolledBack(ctx, t, env, s, m.ID, last, nil)
				return
			}
			if rec.State != api.MigrationFailed || rec.Reason == "" {
				t.Fatalf("source record %s (%q), want failed with a reason", rec.State, rec.Reason)
			}
			if src.Buffered > src.Returned+dropped {
				t.Fatalf("source buffered %d frames, returned %d, dropped %d: some unaccounted (%v)", src.Buffered, src.Returned, dropped, src.Dropped)
			}
			goneFrom(ctx, t, env, "hostB", "fw1", time.Now().Add(recoveredWithin))
			// The source's QEMU died: so did the guest; nothing runs it.
			s.Stop()
			if !strings.Contains(rec.Reason, "source qemu") {
				t.Fatalf("the record's reason %q does not name the source QEMU", rec.Reason)
			}
			for deadline := time.Now().Add(recoveredWithin); ; time.Sleep(200 * time.Millisecond) {
				v, err := c.GetVM(ctx, "fw1")
				pids := qemuOf(env, "fw1")
				if err == nil && v.State == api.StateFailed && strings.Contains(v.Reason, "exited") && len(pids) == 0 {
					t.Logf("hostA's VM record: %s: %s", v.State, v.Reason)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("hostA's VM record %+v (%v), QEMUs of fw1 %v: want failed, exited, none", v, err, pids)
				}
			}
		})
		if t.Failed() {
			return
		}
	}
}

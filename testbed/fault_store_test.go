package testbed

import (
	"context"
	"encoding/json"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/store"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// TestIntegrationStoreFailsAfterArrival migrates fw1 under TWAMP-light at
// 500 pps with the destination's store failing every write from the
// guest's arrival on (--debug-store-fail-writes-after-arrival), then
// restarts the destination's agent: killed (SIGKILL) after a move from
// hostA to hostB, shut down (SIGTERM) after the move back. Before the
// restart the destination's API says what happened (the VM running, the
// migration completed) while its store still holds the launch's
// "starting" record and an unfinished migration. After it the guest runs
// at the destination only, adopted: the same boot with its memory intact,
// one QEMU across the hosts, none left at the source; the VM's record says
// running, the migration's completed with a reason; every TWAMP packet
// lost is counted among the frames the dataplanes dropped, none
// duplicated or reordered.
func TestIntegrationStoreFailsAfterArrival(t *testing.T) {
	env := requireTestbed(t)
	requireDataplane(t, env)
	// Armed by an arrival: a restarted agent's store works until the next.
	env = env.WithAgentArgs("", "--debug-store-fail-writes-after-arrival")
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	last := startHandoffGuest(ctx, t, env, "hostA")

	for _, tc := range []struct {
		name     string
		from, to string
		sig      syscall.Signal
	}{
		{"killed", "hostA", "hostB", syscall.SIGKILL},
		{"shut down", "hostB", "hostA", syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := api.NewClient(env.Socket(tc.to))
			s := faultTraffic(ctx, t)
			m := migrate(ctx, t, env, tc.from, api.MigrateRequest{VM: "fw1", To: tc.to})
			if m.State != api.MigrationCompleted {
				t.Fatalf("%s: %s (%s), want completed", m.ID, m.State, m.Reason)
			}
			// The destination's API reads through the writes its store failed.
			if dm := waitMigration(ctx, t, dst, m.ID); dm.State != api.MigrationCompleted {
				t.Fatalf("%s's record of %s: %s (%s), want completed", tc.to, m.ID, dm.State, dm.Reason)
			}
			vm, err := dst.GetVM(ctx, "fw1")
			if err != nil || vm.State != api.StateRunning {
				t.Fatalf("fw1 on %s before the restart: %+v, %v: want running", tc.to, vm, err)
			}
			if err := env.StopAgent(ctx, tc.to, tc.sig); err != nil {
				t.Fatal(err)
			}
			stored, sm := readStore(t, env, tc.to, m.ID)
			t.Logf("%s: %s's agent stopped (%v); its store holds fw1 %s, the migration %s", m.ID, tc.to, tc.sig, stored.State, sm.State)
			if stored.State != api.StateStarting || stored.PID != vm.PID || api.Ended(sm.State) {
				t.Fatalf("stored: fw1 %s pid %d, the migration %s: want starting with pid %d, unfinished (the store failed the arrival's writes)",
					stored.State, stored.PID, sm.State, vm.PID)
			}
			if err := env.StartAgents(ctx); err != nil {
				t.Fatalf("restarting %s's agent: %v", tc.to, err)
			}
			restarted := time.Now()
			onlyQEMU(ctx, t, env, tc.to, "fw1", vm.PID, restarted.Add(recoveredWithin))
			goneFrom(ctx, t, env, tc.from, "fw1", restarted.Add(recoveredWithin))
			if v, err := dst.GetVM(ctx, "fw1"); err != nil || !v.Adopted {
				t.Fatalf("fw1 on %s after the restart: %+v, %v: want running, adopted", tc.to, v, err)
			}
			// The restarted agent releases the hold the dead run had
			// released already, after waiting for a flush that the
			// source sent to it: the record's account comes then.
			var dm api.Migration
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
				dm, err = dst.GetMigration(ctx, m.ID)
				if err == nil && dm.Handoff != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s's record of %s: %+v, %v: no hand-off account a minute after the restart", tc.to, m.ID, dm, err)
				}
			}
			t.Logf("%s's record after the restart: %s (%s)", tc.to, dm.State, dm.Reason)
			if dm.State != api.MigrationCompleted || dm.Reason == "" {
				t.Fatalf("%s's record of %s: %s (%q), want completed with a reason", tc.to, m.ID, dm.State, dm.Reason)
			}
			time.Sleep(2 * time.Second) // traffic after the restart
			rep := verify.Analyze(s.Stop(), nil, verify.Limits{})
			dropped := droppedIn(m.Handoff, dm.Handoff)
			t.Logf("TWAMP sent %d lost %d dup %d reordered %d, largest gap %v; dataplanes dropped %d",
				rep.Sent, rep.Lost, rep.Duplicated, rep.Reordered, time.Duration(rep.LargestGap), dropped)
			if rep.Sent == 0 || uint64(rep.Lost) > dropped || rep.Duplicated != 0 || rep.Reordered != 0 {
				t.Fatalf("TWAMP sent %d lost %d (dropped and counted: %d), duplicated %d, reordered %d",
					rep.Sent, rep.Lost, dropped, rep.Duplicated, rep.Reordered)
			}
			got := guestOn(ctx, t, env, tc.to, "fw1")
			sameGuest(t, last, got)
			last = got
		})
		if t.Failed() {
			return
		}
	}
}

// readStore reads, from host's store (its agent stopped), the record of
// fw1 and of migration id.
func readStore(t *testing.T, env Env, host, id string) (api.VM, api.Migration) {
	t.Helper()
	st, err := store.Open(filepath.Join(env.RunDir, host, "state"), store.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("%s's store: %v", host, err)
	}
	defer st.Close()
	vm, err := st.GetVM("fw1")
	if err != nil {
		t.Fatalf("%s's store: %v", host, err)
	}
	raw, err := st.GetMigration(id)
	if err != nil {
		t.Fatalf("%s's store: %v", host, err)
	}
	var m api.Migration
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s's store: migration %s: %v", host, id, err)
	}
	return vm, m
}

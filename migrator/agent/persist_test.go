package agent

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/session"
	"github.com/nfhandoff/nfhandoff/migrator/store"
)

var errDisk = errors.New("disk full")

// arrivingRuntime is the fake runtime as one that receives guests: an
// incoming guest is a fake guest that runs once the agent adopts it.
type arrivingRuntime struct{ *fakeRuntime }

func (r arrivingRuntime) StartIncoming(ctx context.Context, spec api.VMSpec, onTap handoff.TapHook) (Instance, error) {
	return r.Start(ctx, spec, onTap)
}

// arrive takes spec's guest in as a destination session does up to its
// arrival: Admit, Launch (stored "starting"), a migration record, then
// Adopt. failFrom, if set, is called right before Adopt.
func arrive(t *testing.T, a *Agent, spec api.VMSpec, id string, failFrom func()) api.Migration {
	t.Helper()
	d := destAgent{a}
	if err := d.Admit(spec); err != nil {
		t.Fatal(err)
	}
	g, _, err := d.Launch(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	m := api.Migration{ID: id, VM: spec.Name, From: "hostB", To: "hostA", Role: "destination",
		State: api.MigrationSwitchover, Started: time.Now().UTC()}
	d.Record(m, true)
	if failFrom != nil {
		failFrom()
	}
	if err := d.Adopt(spec, g); err != nil {
		t.Fatalf("adopting an arrived guest: %v", err)
	}
	m.State, m.Ended = api.MigrationCompleted, time.Now().UTC()
	d.Record(m, true)
	return m
}

// storedRecord reads vm's stored record, as the next agent would.
func storedRecord(t *testing.T, st *store.Store, vm string) api.VM {
	t.Helper()
	rec, err := st.GetVM(vm)
	if err != nil {
		t.Fatalf("stored record of %s: %v", vm, err)
	}
	return rec
}

// A store that fails every write from an arrival on (--debug-store-fail-
// writes-after-arrival) costs no guest: the agent runs and watches it, the
// API says what happened (running, the migration completed) while the
// store still holds "starting" and the migration unfinished, a migration
// out is refused until the record is stored; and the agent restarted on
// that store adopts the guest and completes the migration with a reason.
func TestArrivalSurvivesFailingStore(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) {
		c.Runtime = arrivingRuntime{c.Runtime.(*fakeRuntime)}
		c.DebugStoreFailAfterArrival = true
		c.Dial = func(context.Context, string) (session.Conn, error) { return nil, errors.New("no peers here") }
	})
	ctx := ctxT(t)
	st := h.agent.cfg.Store
	arrive(t, h.agent, spec("fw1", 1), "hostB-4", nil)

	vm, err := h.client.GetVM(ctx, "fw1")
	if err != nil || vm.State != api.StateRunning {
		t.Fatalf("fw1 after its arrival: %+v, %v: want running", vm, err)
	}
	if got := storedRecord(t, st, "fw1"); got.State != api.StateStarting || got.PID != vm.PID {
		t.Fatalf("stored record %s pid %d: want starting with the guest's pid %d (the store failed the arrival's write)", got.State, got.PID, vm.PID)
	}
	m, err := h.client.GetMigration(ctx, "hostB-4")
	if err != nil || m.State != api.MigrationCompleted {
		t.Fatalf("migration after the arrival: %+v, %v: want completed (the kept write)", m, err)
	}
	if list, err := h.client.ListMigrations(ctx); err != nil || len(list) != 1 || list[0].State != api.MigrationCompleted {
		t.Fatalf("migrations listed %+v, %v: want the completed one", list, err)
	}
	if n := h.agent.keptWrites(); n != 2 {
		t.Fatalf("%d kept writes, want 2 (the vm and the migration)", n)
	}
	_, err = h.client.Migrate(ctx, api.MigrateRequest{VM: "fw1", To: "hostB"})
	if !errors.Is(err, api.ErrBusy) || !strings.Contains(err.Error(), "not stored yet") {
		t.Fatalf("migrating fw1 before its record is stored: %v, want busy, not stored yet", err)
	}

	h.restart() // the debug knob fails writes after an arrival only: this agent's store works
	vm, err = h.client.GetVM(ctx, "fw1")
	if err != nil || vm.State != api.StateRunning || !vm.Adopted {
		t.Fatalf("fw1 after the restart: %+v, %v: want running, adopted", vm, err)
	}
	if cleaned := h.rt.cleanedNames(); len(cleaned) != 0 {
		t.Fatalf("cleaned up %v: the guest runs", cleaned)
	}
	m, err = h.client.GetMigration(ctx, "hostB-4")
	if err != nil || m.State != api.MigrationCompleted || m.Reason != ReasonRestartedAfterArrival {
		t.Fatalf("migration after the restart: %s (%q), %v: want completed, %q", m.State, m.Reason, err, ReasonRestartedAfterArrival)
	}
	if got := storedRecord(t, h.agent.cfg.Store, "fw1"); got.State != api.StateRunning {
		t.Fatalf("stored record after the restart: %s, want running", got.State)
	}
	// The guest is watched: its death is noticed.
	h.rt.kill("fw1", "qemu exited")
	waitState(t, h.client, "fw1", api.StateFailed)
}

// A guest that arrived while the store fails is watched like any other:
// its QEMU's death fails the VM, and that record, kept, replaces the
// arrival's; once the store works again every kept write lands and no
// later one is overwritten by an older one.
func TestKeptWritesLandInOrder(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) { c.Runtime = arrivingRuntime{c.Runtime.(*fakeRuntime)} })
	ctx := ctxT(t)
	st := h.agent.cfg.Store
	arrive(t, h.agent, spec("fw1", 1), "hostB-4", func() { st.FailWrites(errDisk) })
	h.rt.kill("fw1", "qemu exited")
	waitState(t, h.client, "fw1", api.StateFailed)
	if got := storedRecord(t, st, "fw1"); got.State != api.StateStarting {
		t.Fatalf("stored %s while the store fails, want the launch's starting", got.State)
	}

	// fw2 is stopped while the store fails (the stop succeeds, the
	// record's deletion is kept), then started again once it works: the
	// kept deletion must not remove the new record.
	if _, err := h.client.StartVM(ctx, spec("fw2", 2)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("start while the store fails: %v, want the store's error", err)
	}
	st.FailWrites(nil)
	if _, err := h.client.StartVM(ctx, spec("fw2", 2)); err != nil {
		t.Fatal(err)
	}
	st.FailWrites(errDisk)
	if _, err := h.client.StopVM(ctx, "fw2"); err != nil {
		t.Fatalf("stop while the store fails: %v", err)
	}
	st.FailWrites(nil)
	if _, err := h.client.StartVM(ctx, spec("fw2", 2)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); h.agent.keptWrites() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes still kept with the store working", h.agent.keptWrites())
		}
	}
	if got := storedRecord(t, st, "fw1"); got.State != api.StateFailed || got.Reason != "qemu exited" {
		t.Fatalf("stored fw1 %s (%q), want failed, qemu exited", got.State, got.Reason)
	}
	if got := storedRecord(t, st, "fw2"); got.State != api.StateRunning {
		t.Fatalf("stored fw2 %s, want running (the new start's)", got.State)
	}
	raw, err := st.GetMigration("hostB-4")
	var m api.Migration
	if err != nil || json.Unmarshal(raw, &m) != nil || m.State != api.MigrationCompleted {
		t.Fatalf("stored migration %s, %v: want completed", raw, err)
	}
}

// An agent whose store fails writes when it starts still starts: the
// guests are adopted and run, their records written once the store works.
func TestRestartWithFailingStore(t *testing.T) {
	fail := true
	h := newHarnessWith(t, func(c *Config) {
		if fail {
			c.Store.FailWrites(errDisk)
		}
	})
	ctx := ctxT(t)
	h.stop()
	h.seedStarting("fw9") // no QEMU: cleaned up, its record deleted
	fail = false
	h.serve()
	if _, err := h.client.StartVM(ctx, spec("fw1", 1)); err != nil {
		t.Fatal(err)
	}
	h.stop()
	h.setStored("fw1", api.StateStarting) // the start's last write did not happen
	h.seedStarting("fw9")
	fail = true
	h.serve()
	st := h.agent.cfg.Store
	vm, err := h.client.GetVM(ctx, "fw1")
	if err != nil || vm.State != api.StateRunning || !vm.Adopted {
		t.Fatalf("fw1 after a restart on a failing store: %+v, %v: want running, adopted", vm, err)
	}
	if _, err := h.client.GetVM(ctx, "fw9"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("fw9: %v, want removed", err)
	}
	if got := storedRecord(t, st, "fw1"); got.State != api.StateStarting {
		t.Fatalf("stored fw1 %s while the store fails, want starting", got.State)
	}
	st.FailWrites(nil)
	for deadline := time.Now().Add(5 * time.Second); h.agent.keptWrites() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes still kept with the store working", h.agent.keptWrites())
		}
	}
	if got := storedRecord(t, st, "fw1"); got.State != api.StateRunning {
		t.Fatalf("stored fw1 %s, want running", got.State)
	}
	if _, err := st.GetVM("fw9"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stored fw9: %v, want deleted", err)
	}
}

// A source whose store fails the commit's write is told so (the session
// then rolls back); no write of it is kept.
func TestCommitNotStored(t *testing.T) {
	h := newHarness(t)
	h.agent.cfg.Store.FailWrites(errDisk)
	err := h.agent.storeCommitted(api.Migration{ID: "hostA-3", VM: "fw1", Role: "source", Committed: true})
	if !errors.Is(err, errDisk) || !strings.Contains(err.Error(), "hostA-3") {
		t.Fatalf("storing the commit: %v, want the store's error naming the migration", err)
	}
	if n := h.agent.keptWrites(); n != 0 {
		t.Fatalf("%d kept writes: a commit is stored now or never", n)
	}
}

package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/store"
)

func TestReadoptionAfterRestart(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	for i, n := range []string{"fw1", "fw2", "fw3"} {
		if _, err := h.client.StartVM(ctx, spec(n, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := h.client.GetVM(ctx, "fw1")
	// fw2 dies while no agent runs; a record is left mid-start.
	h.stop()
	for _, inst := range h.rt.live {
		if !inst.detached {
			t.Errorf("vm %s: not detached at shutdown", inst.rec.Spec.Name)
		}
		select {
		case <-inst.done:
			t.Errorf("vm %s stopped with the agent", inst.rec.Spec.Name)
		default:
		}
	}
	h.rt.kill("fw2", "")
	h.seedStarting("fw9")
	h.serve()

	vm, err := h.client.GetVM(ctx, "fw1")
	if err != nil {
		t.Fatal(err)
	}
	if vm.State != api.StateRunning || !vm.Adopted || vm.PID != before.PID || !vm.Created.Equal(before.Created) {
		t.Fatalf("fw1 after restart = %+v, want running, adopted, same pid and creation", vm)
	}
	gone, err := h.client.GetVM(ctx, "fw2")
	if err != nil || gone.State != api.StateFailed || gone.Reason != ReasonGoneWhileDown {
		t.Fatalf("fw2 after restart = %+v, %v: want failed, %q", gone, err, ReasonGoneWhileDown)
	}
	if !slices.Contains(h.rt.cleanedNames(), "fw2") {
		t.Fatal("gone guest not cleaned up")
	}
	if _, err := h.client.GetVM(ctx, "fw9"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("record left mid-start survived the restart: %v", err)
	}
	if !slices.Contains(h.rt.cleanedNames(), "fw9") {
		t.Fatal("record left mid-start not cleaned up")
	}
	// The adopted guest is watched and can be stopped.
	h.rt.kill("fw3", "qemu exited")
	waitState(t, h.client, "fw3", api.StateFailed)
	if _, err := h.client.StopVM(ctx, "fw1"); err != nil {
		t.Fatal(err)
	}
	if len(h.rt.live) != 0 {
		t.Fatalf("live guests after stop: %v", h.rt.live)
	}
}

func TestAdoptErrorKeepsFailedWithoutCleanup(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	if _, err := h.client.StartVM(ctx, spec("fw1", 1)); err != nil {
		t.Fatal(err)
	}
	h.stop()
	delete(h.rt.live, "fw1")
	h.rt.adoptErr = errors.New("qmp handshake: timeout")
	h.serve()
	vm, err := h.client.GetVM(ctx, "fw1")
	if err != nil || vm.State != api.StateFailed || vm.Reason == "" {
		t.Fatalf("vm = %+v, %v", vm, err)
	}
	if slices.Contains(h.rt.cleanedNames(), "fw1") {
		t.Fatal("a guest that may still run was cleaned up at adoption")
	}
	if _, err := h.client.StopVM(ctx, "fw1"); err != nil || !slices.Contains(h.rt.cleanedNames(), "fw1") {
		t.Fatalf("stop of an unadoptable vm: %v, cleaned %v", err, h.rt.cleanedNames())
	}
}

// seedStarting writes a record in state starting, as an agent killed
// mid-start leaves it. The store must be closed.
func (h *harness) seedStarting(name string) {
	st, err := store.Open(h.dir, store.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutVM(api.VM{Spec: spec(name, 9), State: api.StateStarting, Host: "hostA", Created: time.Now()}); err != nil {
		h.t.Fatal(err)
	}
}

// A stored VM record that does not decode does not keep the agent from
// starting: it is listed as failed with the reason, the others are
// adopted, and deleting it (vm stop) removes it.
func TestCorruptRecordDoesNotStopTheAgent(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	if _, err := h.client.StartVM(ctx, spec("fw1", 1)); err != nil {
		t.Fatal(err)
	}
	h.stop()
	// The store's file, written past the store (as a torn write or a
	// hand edit would): bucket "vms" is the store's.
	db, err := bolt.Open(filepath.Join(h.dir, store.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("vms")).Put([]byte("fw9"), []byte(`{"spec":`)) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	h.serve()
	v, err := h.client.GetVM(ctx, "fw9")
	if err != nil || v.State != api.StateFailed || !strings.Contains(v.Reason, "cannot be decoded") {
		t.Fatalf("corrupt record: %+v, %v", v, err)
	}
	if v, err := h.client.GetVM(ctx, "fw1"); err != nil || v.State != api.StateRunning || !v.Adopted {
		t.Fatalf("fw1 after the restart: %+v, %v", v, err)
	}
	if _, err := h.client.StopVM(ctx, "fw9"); err != nil {
		t.Fatalf("deleting the corrupt record: %v", err)
	}
	if _, err := h.client.GetVM(ctx, "fw9"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("fw9 after stop: %v", err)
	}
	h.restart()
	if _, err := h.client.GetVM(ctx, "fw9"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("fw9 back after a restart: %v", err)
	}
}

// seedOutgoing stores an unfinished source record of vm, as an agent
// killed during the migration leaves it. The store must be closed.
func (h *harness) seedOutgoing(id, vm string, committed bool) {
	h.seedMigration(api.Migration{ID: id, VM: vm, From: "hostA", To: "hostB", Role: "source", State: api.MigrationSwitchover,
		Started: time.Now().UTC(), Committed: committed,
		Handoff: &api.HandoffReport{Source: api.HandoffStats{Buffered: 40, Dropped: map[string]uint64{"ring_full": 1}}}})
}

// seedMigration stores m. The store must be closed.
func (h *harness) seedMigration(m api.Migration) {
	st, err := store.Open(h.dir, store.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	b, _ := json.Marshal(m)
	if err := st.PutMigration(m.ID, b); err != nil {
		h.t.Fatal(err)
	}
}

// An agent that restarts after a guest arrived (adopted running here) but
// before its incoming migration ended completes that migration, so that
// the source, asking, never resumes its own copy; an incoming migration
// whose guest is not here failed, and one in post-copy whose guest runs
// here stays under way: its source resumes it (session.Server.ResumePostcopy).
func TestRestartAfterArrival(t *testing.T) {
	ho := &attachRec{}
	h := newHarnessWith(t, func(c *Config) { c.Handoff = ho })
	ctx := ctxT(t)
	if _, err := h.client.StartVM(ctx, spec("fw1", 1)); err != nil {
		t.Fatal(err)
	}
	h.stop()
	in := func(id, vm string, postcopy bool) api.Migration {
		return api.Migration{ID: id, VM: vm, From: "hostB", To: "hostA", Role: "destination", State: api.MigrationActive,
			Started: time.Now().UTC(), Postcopy: postcopy}
	}
	h.seedMigration(in("hostB-1", "fw1", false))
	h.seedMigration(in("hostB-2", "fw5", false))
	h.seedMigration(in("hostB-3", "fw1", true))
	h.serve()
	for id, want := range map[string]string{"hostB-1": api.MigrationCompleted, "hostB-2": api.MigrationFailed} {
		m, err := h.client.GetMigration(ctx, id)
		if err != nil || m.State != want || m.Reason == "" {
			t.Errorf("%s after restart: %s (%q), %v: want %s with a reason", id, m.State, m.Reason, err, want)
		}
	}
	if m, err := h.client.GetMigration(ctx, "hostB-3"); err != nil || api.Ended(m.State) {
		t.Errorf("hostB-3 (post-copy) after restart: %s (%q), %v: want it under way, waiting for its source", m.State, m.Reason, err)
	}
	// The traffic held for the arrived guest waits for the source's flush,
	// or the agent's end, and is released once.
	h.stop()
	if n := slices.Index(ho.list(), "Flushed(fw1,false)"); n < 0 || slices.Index(ho.list()[n+1:], "Flushed(fw1,false)") >= 0 {
		t.Fatalf("hand-off calls %v: want one Flushed(fw1, no flush)", ho.list())
	}
}

// An agent that restarts while its guest was leaving settles the
// migration: before the commit it cancels QEMU's migration, resumes the
// guest it had stopped and rolls the hand-off back; after the commit it
// resumes nothing, says the outcome is unknown and keeps asking the
// destination (unreachable here) until an operator resolves it.
func TestRestartSettlesOutgoingMigration(t *testing.T) {
	for _, committed := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", committed), func(t *testing.T) {
			ho := &attachRec{}
			h := newHarnessWith(t, func(c *Config) { c.Handoff = ho })
			ctx := ctxT(t)
			if _, err := h.client.StartVM(ctx, spec("fw1", 1)); err != nil {
				t.Fatal(err)
			}
			h.stop()
			q := h.rt.live["fw1"].qemu
			q.set(true, "pre-switchover") // stopped by the dead agent, QEMU waiting for it
			h.seedOutgoing("hostA-7", "fw1", committed)
			h.serve()

			m, err := h.client.GetMigration(ctx, "hostA-7")
			if err != nil {
				t.Fatal(err)
			}
			vm, err := h.client.GetVM(ctx, "fw1")
			if err != nil {
				t.Fatal(err)
			}
			cmds, calls := q.commands(), ho.list()
			if !committed {
				if m.State != api.MigrationFailed || m.Ended.IsZero() {
					t.Fatalf("record %s ended %v, want failed with an end", m.State, m.Ended)
				}
				if !strings.Contains(m.Reason, "rolled back") || vm.Reason != "" {
					t.Fatalf("record reason %q, vm reason %q: want rolled back, vm fine", m.Reason, vm.Reason)
				}
				if !slices.Contains(cmds, "migrate_cancel") || !slices.Contains(cmds, "cont") || !slices.Contains(calls, "Rollback(fw1)") {
					t.Fatalf("qmp %v, hand-off %v: want migrate_cancel, cont and Rollback", cmds, calls)
				}
				if m.Handoff == nil || m.Handoff.Source.Buffered != 40 || m.Handoff.Source.Dropped["ring_full"] != 1 {
					t.Fatalf("hand-off account %+v: the stored one must stay", m.Handoff)
				}
				return
			}
			if m.State != api.MigrationUnknown || !m.Ended.IsZero() {
				t.Fatalf("record %s (%q) ended %v, want unknown, not ended", m.State, m.Reason, m.Ended)
			}
			if !strings.Contains(m.Reason, "outcome unknown") || !strings.Contains(vm.Reason, "outcome unknown") {
				t.Fatalf("record reason %q, vm reason %q: want outcome unknown in both", m.Reason, vm.Reason)
			}
			if slices.Contains(cmds, "cont") || slices.Contains(cmds, "migrate_cancel") || slices.Contains(calls, "Rollback(fw1)") {
				t.Fatalf("qmp %v, hand-off %v: a committed move must not be undone here", cmds, calls)
			}
			if _, err := h.client.StopVM(ctx, "fw1"); !errors.Is(err, api.ErrBusy) {
				t.Fatalf("vm stop while the outcome is unknown: %v, want busy", err)
			}
			if _, err := h.client.ResolveMigration(ctx, "hostA-7", api.ResolveRequest{GuestOn: "here"}); !errors.Is(err, api.ErrInvalidRequest) {
				t.Fatalf("resolve naming no end: %v, want invalid request", err)
			}
			// The operator knows the destination never ran it.
			m, err = h.client.ResolveMigration(ctx, "hostA-7", api.ResolveRequest{GuestOn: api.GuestOnSource})
			if err != nil {
				t.Fatal(err)
			}
			if vm, err = h.client.GetVM(ctx, "fw1"); err != nil {
				t.Fatal(err)
			}
			cmds, calls = q.commands(), ho.list()
			if m.State != api.MigrationFailed || !strings.Contains(m.Reason, "resolved by the operator") || vm.Reason != "" {
				t.Fatalf("resolved record %s (%q), vm reason %q: want failed, resolved by the operator, vm fine", m.State, m.Reason, vm.Reason)
			}
			if !slices.Contains(cmds, "cont") || !slices.Contains(calls, "Rollback(fw1)") {
				t.Fatalf("qmp %v, hand-off %v: want cont and Rollback", cmds, calls)
			}
			if _, err := h.client.ResolveMigration(ctx, "hostA-7", api.ResolveRequest{GuestOn: api.GuestOnSource}); !errors.Is(err, api.ErrInvalidRequest) {
				t.Fatalf("resolving a settled migration: %v, want invalid request", err)
			}
		})
	}
}

// An operator who knows that the destination runs the guest of a
// migration with an unknown outcome resolves it so: the paused copy here
// is stopped, the VM forgotten, the record completed.
func TestResolveUnknownMoved(t *testing.T) {
	ho := &attachRec{}
	h := newHarnessWith(t, func(c *Config) { c.Handoff = ho })
	ctx := ctxT(t)
	if _, err := h.client.StartVM(ctx, spec("fw1", 1)); err != nil {
		t.Fatal(err)
	}
	h.stop()
	q := h.rt.live["fw1"].qemu
	q.set(true, "completed")
	h.seedOutgoing("hostA-7", "fw1", true)
	h.serve()
	m, err := h.client.ResolveMigration(ctx, "hostA-7", api.ResolveRequest{GuestOn: api.GuestOnDestination})
	if err != nil {
		t.Fatal(err)
	}
	if m.State != api.MigrationCompleted || !strings.Contains(m.Reason, "resolved by the operator") || m.Ended.IsZero() {
		t.Fatalf("resolved record %s (%q) ended %v: want completed, resolved by the operator", m.State, m.Reason, m.Ended)
	}
	if _, err := h.client.GetVM(ctx, "fw1"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("fw1 after the resolution: %v, want not found here", err)
	}
	if slices.Contains(q.commands(), "cont") {
		t.Fatalf("the paused copy was resumed: %v", q.commands())
	}
}

func TestWithRestart(t *testing.T) {
	stored := &api.HandoffReport{Source: api.HandoffStats{Buffered: 10, Dropped: map[string]uint64{"ring_full": 2}}}
	got := withRestart(stored, api.HandoffStats{Returned: 7, ReplayRate: 900, Dropped: map[string]uint64{"restart": 3, "ring_full": 1}}, true)
	want := api.HandoffStats{Buffered: 10, Returned: 7, ReplayRate: 900, Dropped: map[string]uint64{"ring_full": 3, "restart": 3}}
	if !reflect.DeepEqual(got.Source, want) {
		t.Fatalf("withRestart = %+v, want %+v", got.Source, want)
	}
	if got := withRestart(nil, api.HandoffStats{Released: 2}, false); got == nil || got.Destination.Released != 2 || got.Source.DroppedTotal() != 0 {
		t.Fatalf("withRestart(nil) = %+v", got)
	}
}

// setStored rewrites the stored state of vm, as an agent that died before
// its last write leaves it. The store must be closed.
func (h *harness) setStored(vm, state string) {
	st, err := store.Open(h.dir, store.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	recs, _, err := st.ListVMs()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range recs {
		if r.Spec.Name == vm {
			r.State = state
			if err := st.PutVM(r); err != nil {
				h.t.Fatal(err)
			}
			return
		}
	}
	h.t.Fatalf("no stored record of %s", vm)
}

// A record left "starting" whose guest runs (its start or its arrival went
// through, but not the record's last write: the agent died, or the store
// failed it) is adopted, not killed; one whose QEMU does not run the guest
// (an arrival never resumed) is cleaned up as before.
func TestStartingButRunningIsAdopted(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	for i, n := range []string{"fw1", "fw2"} {
		if _, err := h.client.StartVM(ctx, spec(n, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	h.stop()
	h.rt.live["fw2"].qemu.set(true, "")
	h.setStored("fw1", api.StateStarting)
	h.setStored("fw2", api.StateStarting)
	h.serve()
	vm, err := h.client.GetVM(ctx, "fw1")
	if err != nil || vm.State != api.StateRunning || !vm.Adopted {
		t.Fatalf("fw1 after restart: %+v, %v: want running, adopted", vm, err)
	}
	if _, err := h.client.GetVM(ctx, "fw2"); !errors.Is(err, api.ErrNotFound) || !slices.Contains(h.rt.cleanedNames(), "fw2") {
		t.Fatalf("fw2 after restart: %v, cleaned %v: want gone and cleaned up", err, h.rt.cleanedNames())
	}
	if slices.Contains(h.rt.cleanedNames(), "fw1") {
		t.Fatal("the running guest was cleaned up")
	}
}

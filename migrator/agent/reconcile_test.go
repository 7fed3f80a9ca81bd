package agent

import (
	"errors"
	"path/filepath"
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

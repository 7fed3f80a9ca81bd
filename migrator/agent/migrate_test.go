package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/session"
	"github.com/nfhandoff/nfhandoff/migrator/store"
	"github.com/nfhandoff/nfhandoff/migrator/transport"
)

// newMigrationAgent is an agent (not serving) whose Dial is dial.
func newMigrationAgent(t *testing.T, dial func(ctx context.Context, host string) (session.Conn, error)) (*Agent, *fakeRuntime) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rt := newFakeRuntime()
	a, err := New(Config{Host: "hostA", Store: st, Runtime: rt, Dial: dial, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return a, rt
}

func TestMigrateDisabled(t *testing.T) {
	a, _ := newMigrationAgent(t, nil)
	_, err := a.Migrate(context.Background(), api.MigrateRequest{VM: "fw1", To: "hostB"})
	if !errors.Is(err, ErrMigrationsDisabled) || !strings.Contains(err.Error(), "--quic-listen") {
		t.Fatalf("err %v, want migrations disabled naming --quic-listen", err)
	}
}

func TestMigrateRefusals(t *testing.T) {
	release, dialing := make(chan struct{}), make(chan struct{}, 1)
	dial := func(ctx context.Context, host string) (session.Conn, error) {
		switch host {
		case "hostB":
			dialing <- struct{}{}
			select { // a slow peer: the VM is busy meanwhile
			case <-release:
			case <-ctx.Done():
			}
			return nil, &transport.PeerError{Host: host, Kind: transport.ErrPeerUnreachable, Msg: "not answering"}
		}
		return nil, &transport.PeerError{Host: host, Kind: transport.ErrUnknownPeer, Msg: "not in peers file"}
	}
	a, _ := newMigrationAgent(t, dial)
	ctx := context.Background()
	if _, err := a.StartVM(ctx, spec("fw1", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Migrate(ctx, api.MigrateRequest{VM: "fw1", To: "hostZ"}); !errors.Is(err, api.ErrUnknownHost) {
		t.Errorf("unknown host: %v, want ErrUnknownHost", err)
	}
	if _, err := a.Migrate(ctx, api.MigrateRequest{VM: "nope", To: "hostB"}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unknown vm: %v, want ErrNotFound", err)
	}
	if _, err := a.Migrate(ctx, api.MigrateRequest{VM: "fw1", To: "hostA"}); !errors.Is(err, api.ErrInvalidRequest) {
		t.Errorf("to itself: %v, want ErrInvalidRequest", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := a.Migrate(ctx, api.MigrateRequest{VM: "fw1", To: "hostB"})
		errc <- err
	}()
	// While the first request dials, the VM is busy.
	<-dialing
	_, busyStop := a.StopVM(ctx, "fw1")
	_, busyMigrate := a.Migrate(ctx, api.MigrateRequest{VM: "fw1", To: "hostB"})
	close(release)
	if !errors.Is(busyStop, api.ErrBusy) || !errors.Is(busyMigrate, api.ErrBusy) {
		t.Errorf("during a migration: stop %v, migrate %v, want ErrBusy", busyStop, busyMigrate)
	}
	if err := <-errc; !errors.Is(err, api.ErrPeer) {
		t.Errorf("unreachable peer: %v, want ErrPeer", err)
	}
	// The failed attempts are recorded; the VM is free again.
	ms, err := a.ListMigrations()
	if err != nil || len(ms) != 2 || ms[0].State != api.MigrationFailed || !strings.HasPrefix(ms[0].ID, "hostA-") {
		t.Errorf("records %+v (err %v), want 2 failed hostA-n", ms, err)
	}
	if _, err := a.StopVM(ctx, "fw1"); err != nil {
		t.Errorf("stop after the failed migration: %v", err)
	}
}

func TestReconcileMarksUnfinishedMigrationsFailed(t *testing.T) {
	a, _ := newMigrationAgent(t, nil)
	m := api.Migration{ID: "hostB-3", VM: "fw1", Role: "destination", State: api.MigrationActive, Started: time.Now()}
	b, _ := json.Marshal(m)
	if err := a.cfg.Store.PutMigration(m.ID, b); err != nil {
		t.Fatal(err)
	}
	if err := a.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := a.GetMigration("hostB-3")
	if err != nil || got.State != api.MigrationFailed || got.Reason != ReasonAgentRestarted {
		t.Fatalf("after reconcile: %+v %v", got, err)
	}
	if _, err := a.AttachVerification("hostB-3", json.RawMessage(`{"pass":true}`)); err != nil {
		t.Fatalf("attach verification: %v", err)
	}
	if got, _ := a.GetMigration("hostB-3"); string(got.Verification) != `{"pass":true}` {
		t.Errorf("verification %s", got.Verification)
	}
	if _, err := a.GetMigration("hostB-9"); !errors.Is(err, api.ErrNoMigration) {
		t.Errorf("missing: %v", err)
	}
}

func FuzzDecodeMigrateRequest(f *testing.F) {
	f.Add([]byte(`{"vm":"fw1","to":"hostB","bandwidth":1048576,"downtime_target":"50ms"}`))
	f.Add([]byte(`{"vm":"fw1","x":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeMigrateRequest(bytes.NewReader(b))
		if err != nil {
			return
		}
		r.Defaults()
		_ = r.Validate()
		out, _ := json.Marshal(r)
		if _, err := decodeMigrateRequest(bytes.NewReader(out)); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
	})
}

// FuzzDecodeResolveRequest: the resolve body decodes strictly; whatever
// decodes and validates names one of the two ends.
func FuzzDecodeResolveRequest(f *testing.F) {
	f.Add([]byte(`{"guest_on":"source"}`))
	f.Add([]byte(`{"guest_on":"destination"} {}`))
	f.Add([]byte(`{"guest_on":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r api.ResolveRequest
		if decodeStrict(bytes.NewReader(b), &r, api.ErrInvalidRequest) != nil || r.Validate() != nil {
			return
		}
		if r.GuestOn != api.GuestOnSource && r.GuestOn != api.GuestOnDestination {
			t.Fatalf("%q validated", r.GuestOn)
		}
	})
}

var _ = fmt.Sprint

// TestLiveRecordEndsAfterTheVM: a source migration's live record shows its
// end only once the agent has dealt with the VM (endLive), so a client that
// reads "completed" no longer finds the VM on the source (the bench saw the
// VM still there, between the session's last record and sourceEnded).
func TestLiveRecordEndsAfterTheVM(t *testing.T) {
	a, _ := newMigrationAgent(t, nil)
	live := &liveMigration{done: make(chan struct{}),
		rec: api.Migration{ID: "hostA-1", VM: "vm1", Role: "source", State: api.MigrationSetup}}
	a.mu.Lock()
	a.migs["hostA-1"] = live
	a.mu.Unlock()

	active := live.rec
	active.State = api.MigrationActive
	a.recordMigration(active, true)
	if m, err := a.GetMigration("hostA-1"); err != nil || m.State != api.MigrationActive {
		t.Fatalf("live record %q, %v; want active", m.State, err)
	}
	done := live.rec
	done.State = api.MigrationCompleted
	a.recordMigration(done, true)
	if m, err := a.GetMigration("hostA-1"); err != nil || m.State != api.MigrationActive {
		t.Fatalf("before endLive: %q, %v; want still active", m.State, err)
	}
	a.endLive("hostA-1", live, done)
	if m, err := a.GetMigration("hostA-1"); err != nil || m.State != api.MigrationCompleted {
		t.Fatalf("after endLive: %q, %v; want completed (from the store)", m.State, err)
	}
	select {
	case <-live.done:
	default:
		t.Fatal("endLive did not close done")
	}
}

func TestFixedPauseLearned(t *testing.T) {
	a := &Agent{}
	if d := a.lastFixedPause("hostB"); d != 0 {
		t.Fatalf("before any move: %v, want 0 (the policy's default)", d)
	}
	a.learnFixedPause("hostB", 40*time.Millisecond)
	a.learnFixedPause("hostB", 20*time.Millisecond)
	a.learnFixedPause("hostC", 0) // nothing measured: nothing learned
	if d := a.lastFixedPause("hostB"); d != 30*time.Millisecond {
		t.Errorf("hostB: %v, want 30ms (half the last estimate, half the new measure)", d)
	}
	if d := a.lastFixedPause("hostC"); d != 0 {
		t.Errorf("hostC: %v, want 0", d)
	}
}

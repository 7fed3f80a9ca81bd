package qmpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx/qmpxtest"
)

func newPair(t *testing.T, h qmpxtest.Handler) (*qmpxtest.Server, *Monitor) {
	t.Helper()
	srv, err := qmpxtest.NewServer(filepath.Join(t.TempDir(), "qmp.sock"), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := Dial(ctx, srv.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return srv, m
}

func TestExecute(t *testing.T) {
	_, m := newPair(t, func(cmd string, args json.RawMessage) (any, error) {
		switch cmd {
		case "query-status":
			return map[string]any{"status": "running", "running": true}, nil
		case "echo":
			return json.RawMessage(args), nil
		}
		return nil, fmt.Errorf("The command %s has not been found", cmd)
	})
	ctx := context.Background()
	if m.Version() != "7.2.0" {
		t.Errorf("version %q, want 7.2.0", m.Version())
	}
	var st struct{ Status string }
	if err := m.Execute(ctx, "query-status", nil, &st); err != nil || st.Status != "running" {
		t.Fatalf("query-status: %v %+v", err, st)
	}
	var out map[string]int
	if err := m.Execute(ctx, "echo", map[string]int{"x": 1}, &out); err != nil || out["x"] != 1 {
		t.Fatalf("echo: %v %v", err, out)
	}
	err := m.Execute(ctx, "bogus", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("bogus: %v", err)
	}
	if err := m.Execute(ctx, "query-status", nil, nil); err != nil {
		t.Fatalf("after error: %v", err)
	}
}

func TestEventsFanOutInOrder(t *testing.T) {
	srv, m := newPair(t, func(string, json.RawMessage) (any, error) { return nil, nil })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, b := m.Events(ctx), m.Events(ctx)
	const n = 200
	for i := range n {
		if err := srv.Emit("MIGRATION_PASS", map[string]int{"pass": i}); err != nil {
			t.Fatal(err)
		}
	}
	// Nobody reads b yet: commands must still get through.
	if err := m.Execute(ctx, "query-status", nil, nil); err != nil {
		t.Fatalf("command while events queue: %v", err)
	}
	for _, ch := range []<-chan Event{a, b} {
		for i := range n {
			select {
			case e := <-ch:
				if e.Name != "MIGRATION_PASS" || int(e.Data["pass"].(float64)) != i || e.Time.IsZero() {
					t.Fatalf("event %d: %+v", i, e)
				}
			case <-ctx.Done():
				t.Fatalf("event %d: %v", i, ctx.Err())
			}
		}
	}
}

func TestEventsEndWithContextAndConnection(t *testing.T) {
	srv, m := newPair(t, func(string, json.RawMessage) (any, error) { return nil, nil })
	sctx, scancel := context.WithCancel(context.Background())
	short := m.Events(sctx)
	long := m.Events(context.Background())
	scancel()
	waitClosed(t, short)

	srv.Emit("STOP", nil)
	if e := <-long; e.Name != "STOP" {
		t.Fatalf("got %+v", e)
	}
	srv.DropClient()
	waitClosed(t, long)
	select {
	case <-m.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the connection ended")
	}
	if err := m.Execute(context.Background(), "query-status", nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("execute after close: %v, want ErrClosed", err)
	}
	if _, ok := <-m.Events(context.Background()); ok {
		t.Fatal("subscription after close delivered an event")
	}
}

func TestExecuteContext(t *testing.T) {
	release := make(chan struct{})
	_, m := newPair(t, func(cmd string, _ json.RawMessage) (any, error) {
		if cmd == "slow" {
			<-release
		}
		return nil, nil
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Execute(ctx, "slow", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow: %v, want deadline exceeded", err)
	}
}

func TestDialNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := Dial(ctx, filepath.Join(t.TempDir(), "none.sock"), nil); err == nil {
		t.Fatal("dialing a missing socket succeeded")
	}
}

func waitClosed(t *testing.T, ch <-chan Event) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("events channel not closed")
		}
	}
}

// TestDialOutOfStep: an event between qmp_capabilities and its reply
// would leave every reply one command behind (go-qemu's handshake takes
// the event for the reply); Dial sees it and connects again, and replies
// then answer their own commands.
func TestDialOutOfStep(t *testing.T) {
	srv, err := qmpxtest.NewServer(filepath.Join(t.TempDir(), "qmp.sock"), func(cmd string, _ json.RawMessage) (any, error) {
		switch cmd {
		case "query-status":
			return map[string]any{"status": "running", "running": true}, nil
		case "query-migrate":
			return map[string]any{"status": "postcopy-active"}, nil
		}
		return nil, fmt.Errorf("The command %s has not been found", cmd)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.EventBeforeHandshakeReply("MIGRATION")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := Dial(ctx, srv.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for range 2 {
		var mig, st struct{ Status string }
		if err := m.Execute(ctx, "query-migrate", nil, &mig); err != nil || mig.Status != "postcopy-active" {
			t.Fatalf("query-migrate: %v %+v", err, mig)
		}
		if err := m.Execute(ctx, "query-status", nil, &st); err != nil || st.Status != "running" {
			t.Fatalf("query-status: %v %+v: a reply out of step", err, st)
		}
	}
}

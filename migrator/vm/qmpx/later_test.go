package qmpx

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx/qmpxtest"
)

// DialLater's monitor waits while another client holds the socket (as a
// QEMU whose main thread is blocked never answers), then connects: commands
// wait for it, events flow from then on.
func TestDialLater(t *testing.T) {
	srv, err := qmpxtest.NewServer(filepath.Join(t.TempDir(), "qmp.sock"), func(cmd string, _ json.RawMessage) (any, error) {
		return map[string]string{"status": "running"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	squatter, err := net.Dial("unix", srv.Path)
	if err != nil {
		t.Fatal(err)
	}
	m := DialLater(srv.Path, nil)
	defer m.Close()
	events := m.Events(t.Context())
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	err = m.Execute(ctx, "query-status", nil, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("execute before the connection: %v, want the deadline", err)
	}
	if m.Version() != "" {
		t.Errorf("version %q before the connection", m.Version())
	}
	squatter.Close()
	var st struct{ Status string }
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := m.Execute(ctx, "query-status", nil, &st); err != nil || st.Status != "running" {
		t.Fatalf("execute once connected: %+v, %v", st, err)
	}
	if m.Version() == "" {
		t.Error("no version once connected")
	}
	if err := srv.Emit("STOP", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if e.Name != "STOP" {
			t.Errorf("event %q", e.Name)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
	m.Close()
	select {
	case <-m.Done():
	case <-ctx.Done():
		t.Fatal("not done after Close")
	}
}

// A DialLater monitor closed before it connects ends at once.
func TestDialLaterClosedWhilePending(t *testing.T) {
	m := DialLater(filepath.Join(t.TempDir(), "none.sock"), nil)
	time.Sleep(50 * time.Millisecond)
	m.Close()
	select {
	case <-m.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not done after Close")
	}
	if err := m.Execute(t.Context(), "query-status", nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("execute after close: %v, want ErrClosed", err)
	}
}

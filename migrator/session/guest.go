package session

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
)

// Guest is one end's QEMU (*vm.Instance satisfies it).
type Guest interface {
	// Execute runs a QMP command and decodes its return into out.
	Execute(ctx context.Context, cmd string, args, out any) error
	// Events subscribes to QMP events until ctx ends.
	Events(ctx context.Context) <-chan qmpx.Event
	// Stop quits QEMU and removes its tap and files.
	Stop(ctx context.Context) error
	// Done is closed when QEMU has exited.
	Done() <-chan struct{}
}

// setCapabilities runs migrate-set-capabilities with caps, in name order.
func setCapabilities(ctx context.Context, g Guest, caps map[string]bool) error {
	type capState struct {
		Capability string `json:"capability"`
		State      bool   `json:"state"`
	}
	names := make([]string, 0, len(caps))
	for c := range caps {
		names = append(names, c)
	}
	sort.Strings(names)
	list := make([]capState, 0, len(names))
	for _, c := range names {
		list = append(list, capState{c, caps[c]})
	}
	if err := g.Execute(ctx, "migrate-set-capabilities", map[string]any{"capabilities": list}, nil); err != nil {
		return fmt.Errorf("setting migration capabilities: %w", err)
	}
	return nil
}

// queryMigrate returns query-migrate's raw return object.
func queryMigrate(ctx context.Context, g Guest) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := g.Execute(ctx, "query-migrate", nil, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// migrateStatus is query-migrate's status ("" before any migration).
func migrateStatus(ctx context.Context, g Guest) (status, errDesc string, err error) {
	var st struct {
		Status    string `json:"status"`
		ErrorDesc string `json:"error-desc"`
	}
	if err := g.Execute(ctx, "query-migrate", nil, &st); err != nil {
		return "", "", err
	}
	return st.Status, st.ErrorDesc, nil
}

// runState is query-status's status ("running", "paused", "inmigrate", ...).
func runState(ctx context.Context, g Guest) (string, error) {
	var st struct {
		Status string `json:"status"`
	}
	if err := g.Execute(ctx, "query-status", nil, &st); err != nil {
		return "", err
	}
	return st.Status, nil
}

// eventStatus is the status of a MIGRATION event, "" for other events.
func eventStatus(e qmpx.Event) string {
	if e.Name != "MIGRATION" {
		return ""
	}
	s, _ := e.Data["status"].(string)
	return s
}

// bounded runs fn with ctx limited to d.
func bounded(ctx context.Context, d time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return fn(ctx)
}

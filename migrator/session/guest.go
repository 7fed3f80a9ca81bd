package session

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
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
	if err := g.Execute(ctx, qmpcmd.MigrateSetCapabilities, qmpcmd.Capabilities(caps), nil); err != nil {
		return fmt.Errorf("setting migration capabilities: %w", err)
	}
	return nil
}

// cont starts (or resumes) the guest.
func cont(ctx context.Context, g Guest) error {
	return g.Execute(ctx, qmpcmd.Cont, nil, nil)
}

// queryMigrate returns query-migrate's raw return object.
func queryMigrate(ctx context.Context, g Guest) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := g.Execute(ctx, qmpcmd.QueryMigrate, nil, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// migrateStatus is query-migrate's status ("" before any migration).
func migrateStatus(ctx context.Context, g Guest) (status, errDesc string, err error) {
	var st qmpcmd.MigrateInfo
	if err := g.Execute(ctx, qmpcmd.QueryMigrate, nil, &st); err != nil {
		return "", "", err
	}
	return st.Status, st.ErrorDesc, nil
}

// runState is query-status's status ("running", "paused", "inmigrate", ...).
func runState(ctx context.Context, g Guest) (string, error) {
	var st qmpcmd.StatusInfo
	if err := g.Execute(ctx, qmpcmd.QueryStatus, nil, &st); err != nil {
		return "", err
	}
	return st.Status, nil
}

// eventStatus is the status of a MIGRATION event, "" for other events.
func eventStatus(e qmpx.Event) string {
	if e.Name != qmpcmd.EventMigration {
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

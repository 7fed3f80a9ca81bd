package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/engine"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// What both ends of a foreign guest's migration (Hello.Engine) share: the
// engine they drive and the wait for a control message.

// Engine is the manager of a foreign guest (migrator/libvirt's Engine):
// it migrates the guest itself, its stream through a UNIX socket that the
// agents carry between hosts, and leaves it paused at the destination for
// the agent to resume once the traffic's hand-off is ready.
type Engine interface {
	// URI is how a peer's engine reaches this host's (the destination's
	// Ready carries it).
	URI() string
	// Socket is migration id's UNIX socket: the path the engine and its
	// QEMU see, and the one the agent uses (its directory made).
	Socket(id string) (engineView, agentView string, err error)
	// Migrate (source) runs m: the guest to the engine at m.DestURI
	// through the socket at m.Socket (engine view), the switchover the
	// agent's when m asks for it. nil: the guest is at the destination,
	// paused, and no longer here; an error: it runs here.
	Migrate(ctx context.Context, m engine.Migration) error
	// Arrival (destination) watches for domain's incoming migration to
	// finish here (the guest paused, all of it here): arrived closes then.
	// Called before the migration can finish; stop ends the watch.
	Arrival(ctx context.Context, domain string) (arrived <-chan struct{}, stop func(), err error)
	// Resume (destination) runs domain, paused after its arrival.
	Resume(ctx context.Context, domain string) error
	// Follow (source) follows m.Domain's migration that someone else
	// started (ForeignSourceConfig.Accepted), as Migrate does its own.
	Follow(ctx context.Context, m engine.Migration) error
}

// PeerSocketName is the name (Engine.Socket's id) of the standing socket
// for an operator's own migrations to host.
func PeerSocketName(host string) string { return "to-" + host }

// awaitMsg reads control messages until a T, an Abort (an error with its
// reason), the stream's end or the timeout.
func awaitMsg[T any](ctx context.Context, in <-chan control, d time.Duration, what string) (T, error) {
	var zero T
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case c, ok := <-in:
			switch {
			case !ok || errors.Is(c.err, io.EOF):
				return zero, fmt.Errorf("%w: control stream ended waiting for %s", api.ErrPeer, what)
			case c.err != nil:
				return zero, fmt.Errorf("%w: waiting for %s: %w", api.ErrPeer, what, c.err)
			}
			switch m := c.msg.(type) {
			case T:
				return m, nil
			case wire.Abort:
				return zero, fmt.Errorf("%w: the destination aborted: %s", api.ErrMigration, m.Reason)
			}
		case <-t.C:
			return zero, fmt.Errorf("%w: no %s within %v", api.ErrPeer, what, d)
		case <-ctx.Done():
			return zero, context.Cause(ctx)
		}
	}
}

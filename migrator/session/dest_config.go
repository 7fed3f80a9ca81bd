package session

import (
	"context"
	"log/slog"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// DestAgent is what a destination session needs from its agent.
type DestAgent interface {
	// Admit reserves spec's name and addresses on this host, or refuses
	// (errors matching api.ErrExists, api.ErrAddressInUse).
	Admit(spec api.VMSpec) error
	// Launch starts QEMU for an incoming migration, paused ("-incoming
	// defer -S"), and returns it with the VM's directory.
	Launch(ctx context.Context, spec api.VMSpec) (Guest, string, error)
	// Adopt hands over the guest, which now runs here.
	Adopt(spec api.VMSpec, g Guest) error
	// Release drops the reservation of a migration that failed here; its
	// guest, if any, has been stopped.
	Release(spec api.VMSpec)
	// Record stores the destination's migration record.
	Record(m api.Migration, persist bool)
	// Lookup returns a stored migration record.
	Lookup(id string) (api.Migration, bool)
}

// DestConfig configures a Server.
type DestConfig struct {
	Host    string // this agent's host name
	Agent   DestAgent
	Handoff handoff.Handoff // nil: handoff.Nop
	Logger  *slog.Logger
	// Context bounds the sessions (the agent's life; default Background).
	// Sessions outlive their connection's context: a destination that
	// has Commit starts the guest even if the source is gone.
	Context context.Context

	FlushTimeout  time.Duration // Running until the source's flush stream (default 30s)
	CommitTimeout time.Duration // after Commit, how long to wait for the incoming migration to finish (default 2m)
	Poll          time.Duration // query-migrate/query-status interval (default 200ms)
	Debug         Debug         // test knobs; zero in production

	// Engine migrates the foreign guests (Hello.Engine) that arrive here;
	// nil refuses them.
	Engine Engine
	// WaitAttached waits until the dataplane is attached to the taps of
	// the named foreign guest, which the engine just brought here (the
	// agent's watch of the engine attaches them). nil: no wait.
	WaitAttached func(ctx context.Context, name string) error
}

func (c *DestConfig) defaults() {
	c.Handoff, c.Logger = orNop(c.Handoff), orDiscard(c.Logger)
	orDuration(&c.FlushTimeout, 30*time.Second)
	orDuration(&c.CommitTimeout, 2*time.Minute)
	orDuration(&c.Poll, 200*time.Millisecond)
	if c.Context == nil {
		c.Context = context.Background()
	}
}

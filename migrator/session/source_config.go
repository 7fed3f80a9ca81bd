package session

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nfhandoff/nfhandoff/migrator/pagecode"
	"github.com/nfhandoff/nfhandoff/migrator/prefetch"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// ErrCancelled is the cancel cause of a migration cancelled by the
// operator: its record ends "cancelled" rather than "failed".
var ErrCancelled = errors.New("cancelled by request")

// Outcome says where the guest is after RunSource.
type Outcome int

const (
	// Stayed: the guest runs on the source, as before.
	Stayed Outcome = iota
	// Moved: the guest runs at the destination; the source QEMU has quit.
	Moved
	// Unknown: the guest is paused on the source and the destination may
	// run it; an operator must check (the source never resumes it).
	Unknown
	// Lost: post-copy failed; the source QEMU holds a stale guest that
	// must never resume.
	Lost
)

func (o Outcome) String() string {
	return [...]string{"stayed", "moved", "unknown", "lost"}[o]
}

// SourceConfig configures the source end of one migration.
type SourceConfig struct {
	ID      string             // migration ID, "<source host>-<n>"
	Host    string             // this agent's host name
	Request api.MigrateRequest // defaults filled and validated
	Spec    api.VMSpec
	Guest   Guest
	Dir     string // the VM's directory, where migrate.sock goes
	// Conn is the connection to Request.To; if nil, Dial makes it.
	Conn Conn
	// Dial connects to Request.To (again, after a connection loss).
	Dial    func(ctx context.Context) (Conn, error)
	Handoff handoff.Handoff // nil: handoff.Nop
	Record  Recorder        // receives the record as it changes
	Logger  *slog.Logger
	// Commit stores the record that says the migration committed, before
	// the destination is told to run the guest: an agent restarted after
	// that must not resume the guest here. Its error keeps the source from
	// committing (the migration rolls back). Record then gets the change
	// unpersisted (Commit stored it): one write in the guest's pause.
	// Default: nothing stored.
	Commit func(m api.Migration) error
	// Started is the record's start time (default now).
	Started time.Time
	// FixedPause is the agent's last measure of the pause's fixed part
	// towards Request.To (api.PauseParts.Fixed); 0: the policy's default.
	FixedPause time.Duration

	// Gang is the content store this migration's page coders share with
	// the other migrations of its gang (Request.Gang); nil: its own.
	Gang *pagecode.Gang
	// Blackouts orders this migration's switchover with the agent's other
	// migrations' (nil: no order).
	Blackouts *Blackouts
	// WorkingSet is the guest's working set, hottest first, that a request
	// for working-set prefetch asks QEMU to send first at the post-copy
	// switch, or none and why (nil: none known).
	WorkingSet func() ([]prefetch.Range, string)
	// QuietGuest lets go of the guest's side channels (its working-set
	// port) so that nothing talks to the guest through them while it is
	// stopped or in post-copy (nil: none). It is called before QEMU's
	// first pass (final false: the hook may wait, e.g. for a report yet
	// to come, and their rings then go over in pre-copy) and before the
	// guest is stopped (final true: it must). It returns within a bound
	// of its own.
	QuietGuest func(ctx context.Context, final bool)

	// Debug are test-only knobs; zero in production.
	Debug Debug

	ReadyTimeout   time.Duration // Hello until Ready (default 2m)
	HandoffTimeout time.Duration // waiting for the destination's HandoffDone (default 30s)
	OutcomeTimeout time.Duration // asking the destination after a loss past Commit (default 2m)
	// RecoverTimeout bounds the attempts to resume a post-copy whose
	// stream broke (default 10m); after it the guest is lost.
	RecoverTimeout time.Duration
	Poll           time.Duration // query-migrate interval (default 200ms)
}

func (c *SourceConfig) defaults() {
	c.Handoff, c.Logger = orNop(c.Handoff), orDiscard(c.Logger)
	if c.Commit == nil {
		c.Commit = func(api.Migration) error { return nil }
	}
	if c.Started.IsZero() {
		c.Started = time.Now().UTC()
	}
	orDuration(&c.ReadyTimeout, 2*time.Minute)
	orDuration(&c.OutcomeTimeout, 2*time.Minute)
	orDuration(&c.RecoverTimeout, 10*time.Minute)
	orDuration(&c.Poll, 200*time.Millisecond)
	orDuration(&c.HandoffTimeout, 30*time.Second)
}

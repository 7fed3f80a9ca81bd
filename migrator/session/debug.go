package session

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Debug holds a session's test-only knobs; production leaves it zero.
//
// Who uses them: the integration tests (testbed/handoff_failure_test.go)
// start migratord with --debug-switchover-delay to widen the blackout (a
// small BUFFER overflows; the destination is killed while the source
// buffers) and --debug-running-delay to kill a destination's agent after
// the commit (testbed/fault_agent_test.go), and --debug-postcopy-rate to
// make a post-copy last long enough to break it
// (testbed/fault_postcopy_test.go), and --debug-corrupt-page to check the
// destination refuses a page that does not match its name; the session's
// unit tests set them
// directly.
//
// Why one struct handed on whole (migratord's flags -> agent.Config.Debug
// -> SourceConfig.Debug, read only here) rather than an environment
// variable: an environment variable is global state, which the unit tests
// (several sessions in one process) could not set per session, and which
// a production agent would read silently; and the testbed keeps its flag.
// A new knob is one field here and one flag in migratord: the layers in
// between pass the struct without knowing its fields.
type Debug struct {
	// SwitchoverDelay is how long a source waits after the hand-off's
	// Switchover (BUFFER) before migrate-continue, the guest stopped.
	SwitchoverDelay time.Duration
	// RunningDelay is how long a destination waits, the guest running
	// here and handed to its agent, before it tells the source (Running).
	RunningDelay time.Duration
	// PostcopyRate paces a source's post-copy at this many bytes/s (0:
	// unpaced, as in production): a post-copy long enough to break. The
	// pace starts once the guest runs at the destination: the agent paces
	// QEMU's whole stream, and the pages the destination's device load
	// asks for would queue behind up to a second of bulk (at 8 MiB/s the
	// load took 315-352 ms of a 325-373 ms pause).
	PostcopyRate uint64
	// CorruptPage makes a source alter its Nth coded page (1-based) after
	// naming it, as a fault on the way would: the destination must refuse
	// it and the migration roll back (testbed/codec_test.go).
	CorruptPage int64
	// PrefetchRanges is a fixed working set a source prefetches when the
	// request asks for it and no WorkingSet is configured
	// (testbed/prefetch_test.go), as prefetch.ParseRanges reads it: a
	// string keeps Debug comparable.
	PrefetchRanges string
}

// runningDelay waits cfg.Debug.RunningDelay with the guest running here
// and the source not yet told.
func (d *dest) runningDelay(ctx context.Context) {
	if d.cfg.Debug.RunningDelay <= 0 {
		return
	}
	d.log.Warn("debug: delaying Running", "delay", d.cfg.Debug.RunningDelay)
	t := time.NewTimer(d.cfg.Debug.RunningDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// switchoverDelay waits cfg.Debug.SwitchoverDelay with the guest stopped
// and the hand-off buffering.
func (s *source) switchoverDelay(ctx context.Context) error {
	d := s.cfg.Debug.SwitchoverDelay
	if d <= 0 {
		return nil
	}
	s.log.Warn("debug: delaying migrate-continue", "delay", d)
	t := time.NewTimer(d)
	defer t.Stop()
	start := time.Now()
	defer func() { s.pause.held = time.Since(start) }()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-s.conn.Context().Done():
		return fmt.Errorf("%w: connection to %s lost during the switchover delay", api.ErrPeer, s.cfg.Request.To)
	}
}

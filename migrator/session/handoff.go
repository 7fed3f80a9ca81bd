package session

import (
	"context"
	"io"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Handoff is the dataplane's part of a migration (issue 4 implements it
// with eBPF; migrator never imports the dataplane). The session calls:
//
//	destination: Prepare (before QEMU starts)
//	source:      Switchover (guest stopped at pre-switchover, before migrate-continue)
//	destination: after cont, Flushed with the flush stream
//	source:      after the destination's Running, Resumed with the flush stream
//	either end:  Rollback when the migration fails before the guest runs
//	             at the destination
//
// Every method must return promptly; Rollback may be called more than once
// and without the others having been called.
type Handoff interface {
	// Prepare puts the VM's MAC/IP in HOLD at the destination: packets for
	// it are queued until Flushed.
	Prepare(ctx context.Context, spec api.VMSpec) error
	// Switchover puts the VM in BUFFER at the source: the guest is stopped
	// and its packets queue until Resumed or Rollback.
	Switchover(ctx context.Context, spec api.VMSpec) error
	// Resumed puts the VM in FORWARD at the source and writes, in order,
	// the packets still queued in the source tap and the BUFFER queue to
	// flush. The session half-closes flush afterwards.
	Resumed(ctx context.Context, spec api.VMSpec, flush Stream) error
	// Flushed injects what arrives on flush (until EOF) into the new tap,
	// then releases the HOLD queue and sets PASS. flush is nil when the
	// source sent none in time: release HOLD and PASS.
	Flushed(ctx context.Context, spec api.VMSpec, flush Stream) error
	// Rollback undoes what the other methods did on this end: at the
	// source, BUFFER goes back into the source tap and PASS; at the
	// destination the HOLD entry goes.
	Rollback(ctx context.Context, spec api.VMSpec) error
}

// NoHandoff is the Handoff of an agent without a dataplane: nothing is held
// or buffered; the flush stream stays empty.
type NoHandoff struct{}

func (NoHandoff) Prepare(context.Context, api.VMSpec) error         { return nil }
func (NoHandoff) Switchover(context.Context, api.VMSpec) error      { return nil }
func (NoHandoff) Resumed(context.Context, api.VMSpec, Stream) error { return nil }
func (NoHandoff) Rollback(context.Context, api.VMSpec) error        { return nil }

// Flushed drains the (empty) flush stream.
func (NoHandoff) Flushed(_ context.Context, _ api.VMSpec, flush Stream) error {
	if flush == nil {
		return nil
	}
	_, err := io.Copy(io.Discard, flush)
	return err
}

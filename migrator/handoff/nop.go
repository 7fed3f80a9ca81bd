package handoff

import (
	"context"
	"io"
	"net/netip"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Nop is the Handoff of an agent without a dataplane: nothing is held
// or buffered; the flush stream stays empty.
type Nop struct{}

func (Nop) Attach(context.Context, api.VMSpec, Tap) error       { return nil }
func (Nop) Detach(context.Context, api.VMSpec) error            { return nil }
func (Nop) Begin(context.Context, api.VMSpec, netip.Addr) error { return nil }
func (Nop) Prepare(context.Context, api.VMSpec) error           { return nil }
func (Nop) Switchover(context.Context, api.VMSpec) error        { return nil }
func (Nop) Started(context.Context, api.VMSpec) error           { return nil }
func (Nop) Resumed(context.Context, api.VMSpec, Stream) error   { return nil }
func (Nop) Rollback(context.Context, api.VMSpec) error          { return nil }
func (Nop) Stats(api.VMSpec) api.HandoffStats                   { return api.HandoffStats{} }

// Flushed drains the (empty) flush stream.
func (Nop) Flushed(_ context.Context, _ api.VMSpec, flush Stream) error {
	if flush == nil {
		return nil
	}
	_, err := io.Copy(io.Discard, flush)
	return err
}

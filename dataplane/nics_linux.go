package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// A VM has one entry per NIC, keyed by the NIC's MAC like any entry and
// named nicName(vm, i): NIC 0's entry carries the VM's name, so a one-NIC
// VM's entry, account and metrics are what they always were. The methods
// of handoff.Handoff run the per-NIC step on every NIC in order (Attach on
// the one NIC its tap is for); each NIC keeps its own order guarantee, and
// the flush stream carries one section per NIC.

// nicSep joins a VM's name and a NIC index in an entry's name; it is never
// in a VM's name.
const nicSep = "#"

// nicName is the name of the entry of NIC nic of the VM named vm.
func nicName(vm string, nic int) string {
	if nic == 0 {
		return vm
	}
	return vm + nicSep + strconv.Itoa(nic)
}

// splitNIC is nicName's inverse.
func splitNIC(name string) (vm string, nic int) {
	i := strings.LastIndex(name, nicSep)
	if i < 0 {
		return name, 0
	}
	n, err := strconv.Atoi(name[i+len(nicSep):])
	if err != nil {
		return name, 0
	}
	return name[:i], n
}

// entryLog is the logger of the entry named name.
func entryLog(log *slog.Logger, name string) *slog.Logger {
	vm, nic := splitNIC(name)
	if nic == 0 {
		return log.With("vm", vm)
	}
	return log.With("vm", vm, "nic", nic)
}

// nicSpecs are the specs of spec's NIC entries, NIC 0's first: each is
// spec with the NIC's name, MAC, address and network.
func nicSpecs(spec api.VMSpec) []api.VMSpec {
	nics := spec.AllNICs()
	specs := make([]api.VMSpec, len(nics))
	for i, n := range nics {
		s := spec
		s.Name, s.MAC, s.Address, s.Network, s.NICs = nicName(spec.Name, i), n.MAC, n.Address, n.Network, nil
		specs[i] = s
	}
	return specs
}

// each runs fn for every NIC of spec, in order, and joins the errors: a
// NIC's failure leaves the others done (Rollback undoes them all).
func each(spec api.VMSpec, fn func(nic int, s api.VMSpec) error) error {
	var errs []error
	for i, s := range nicSpecs(spec) {
		if err := fn(i, s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Attach sets up the entry of the NIC tap is for (mode kept if it exists,
// else PASS) and its tap hook.
func (h *Handoff) Attach(ctx context.Context, spec api.VMSpec, tap handoff.Tap) error {
	specs := nicSpecs(spec)
	if tap.NIC < 0 || tap.NIC >= len(specs) {
		return fmt.Errorf("attaching vm %s: tap %s is for nic %d of %d", spec.Name, tap.Name, tap.NIC, len(specs))
	}
	return h.attach(ctx, specs[tap.NIC], tap)
}

// Detach removes the VM's tap hooks and mappings (see detach).
func (h *Handoff) Detach(ctx context.Context, spec api.VMSpec) error {
	return each(spec, func(_ int, s api.VMSpec) error { return h.detach(ctx, s) })
}

// Begin starts MIRROR on every NIC (see begin).
func (h *Handoff) Begin(ctx context.Context, spec api.VMSpec, peer netip.Addr) error {
	return each(spec, func(_ int, s api.VMSpec) error { return h.begin(ctx, s, peer) })
}

// Quiesce buffers every NIC and waits for each tap to drain (see quiesce).
func (h *Handoff) Quiesce(ctx context.Context, spec api.VMSpec) error {
	return each(spec, func(_ int, s api.VMSpec) error { return h.quiesce(ctx, s) })
}

// Switchover starts BUFFER on every NIC (see switchover).
func (h *Handoff) Switchover(ctx context.Context, spec api.VMSpec) error {
	return each(spec, func(_ int, s api.VMSpec) error { return h.switchover(ctx, s) })
}

// Resumed forwards every NIC and writes each NIC's section of the flush
// stream, NIC 0's first (see resumed).
func (h *Handoff) Resumed(ctx context.Context, spec api.VMSpec, flush handoff.Stream) error {
	var w io.Writer
	if flush != nil {
		w = flush
	}
	return each(spec, func(nic int, s api.VMSpec) error { return h.resumed(ctx, s, nic, w) })
}

// Prepare puts every NIC in HOLD (see prepare).
func (h *Handoff) Prepare(ctx context.Context, spec api.VMSpec) error {
	return each(spec, func(_ int, s api.VMSpec) error { return h.prepare(ctx, s) })
}

// Started marks the guest running here and announces every NIC (see
// started).
func (h *Handoff) Started(ctx context.Context, spec api.VMSpec) error {
	return each(spec, func(_ int, s api.VMSpec) error { return h.started(ctx, s) })
}

// Flushed (destination) injects each NIC's flush section into its tap and
// releases its HOLD queue (flushNIC), NIC after NIC as the sections come;
// it returns when every NIC's frames captured so far are injected.
func (h *Handoff) Flushed(ctx context.Context, spec api.VMSpec, flush handoff.Stream) error {
	specs := nicSpecs(spec)
	var readers []*frame.FlushReader
	if flush != nil {
		readers = frame.NewFlushReaders(flush, len(specs))
	}
	type release struct {
		v       *vmEntry
		drained <-chan struct{}
	}
	var errs []error
	var rels []release
	for i, s := range specs {
		var r *frame.FlushReader
		if readers != nil {
			r = readers[i]
		}
		v, drained, err := h.flushNIC(ctx, s, r)
		if err != nil {
			errs = append(errs, err)
		}
		if drained != nil {
			rels = append(rels, release{v, drained})
		}
	}
	if flush != nil && len(errs) > 0 {
		io.Copy(io.Discard, flush) // what a broken section left
	}
	for _, r := range rels {
		if err := awaitRelease(ctx, r.v, r.drained); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Rollback undoes this end's part on every NIC (see rollback).
func (h *Handoff) Rollback(ctx context.Context, spec api.VMSpec) error {
	return each(spec, func(_ int, s api.VMSpec) error { return h.rollback(ctx, s) })
}

// Stats is this end's account of the VM's current or last migration: for
// a VM with several NICs the sum, with each NIC's own in NICs.
func (h *Handoff) Stats(spec api.VMSpec) api.HandoffStats {
	specs := nicSpecs(spec)
	if len(specs) == 1 {
		return h.entryStats(spec.Name)
	}
	per := make([]api.HandoffStats, len(specs))
	var total api.HandoffStats
	for i, s := range specs {
		per[i] = h.entryStats(s.Name)
		total.Add(per[i])
	}
	total.NICs = per
	return total
}

// Watch starts the post-copy watch on every NIC (see watch); prior, the
// account a previous run stored, gives each NIC its own part.
func (h *Handoff) Watch(ctx context.Context, spec api.VMSpec, prior *api.HandoffStats) error {
	return each(spec, func(nic int, s api.VMSpec) error { return h.watch(ctx, s, nicPrior(prior, nic)) })
}

// nicPrior is NIC nic's part of a stored account: its own when the account
// has NICs, else the whole for NIC 0 (a one-NIC VM's).
func nicPrior(prior *api.HandoffStats, nic int) *api.HandoffStats {
	switch {
	case prior == nil:
		return nil
	case nic < len(prior.NICs):
		return &prior.NICs[nic]
	case nic == 0 && len(prior.NICs) == 0:
		return prior
	}
	return nil
}

// Pause holds every NIC's traffic (see pause).
func (h *Handoff) Pause(ctx context.Context, spec api.VMSpec) error {
	return each(spec, func(_ int, s api.VMSpec) error { return h.pause(ctx, s) })
}

// Unpause releases what Pause held on every NIC (see unpause).
func (h *Handoff) Unpause(ctx context.Context, spec api.VMSpec) error {
	return each(spec, func(_ int, s api.VMSpec) error { return h.unpause(ctx, s) })
}

// Unwatch ends the watch on every NIC (see unwatch).
func (h *Handoff) Unwatch(ctx context.Context, spec api.VMSpec) error {
	return each(spec, func(_ int, s api.VMSpec) error { return h.unwatch(ctx, s) })
}

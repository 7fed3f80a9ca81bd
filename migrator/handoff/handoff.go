package handoff

import (
	"context"
	"net/netip"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Handoff is the dataplane's part of a VM's life and migrations (issue 4
// implements it with eBPF; migrator never imports the dataplane).
//
// The agent calls Attach when a VM's tap exists (vm start, incoming
// migration before QEMU starts, re-adoption after a restart) and Detach when
// the tap goes (vm stop, source after a move). A migration calls, in order:
//
//	destination: Prepare (before QEMU starts: HOLD)
//	source:      Begin (after the destination's Ready, before migrate: MIRROR)
//	source:      Switchover (guest stopped at pre-switchover, before migrate-continue: BUFFER)
//	destination: Started (right after cont: GARPs)
//	source:      after Commit, on the destination's Running, Resumed with the flush stream (FORWARD)
//	destination: right after Running, Flushed with the flush stream (inject, release HOLD, PASS)
//	either end:  Rollback when the migration fails before the guest runs at
//	             the destination (at the source after the guest was resumed)
//
// Resumed and Flushed do not wait for a post-copy migration to complete:
// the guest already runs at the destination while QEMU still moves pages,
// so they run concurrently with the rest of the session (Stats may be
// called meanwhile), and a post-copy failure afterwards rolls nothing back.
//
// Every method must return promptly; Rollback may be called more than once
// and without the others having been called.
type Handoff interface {
	// Attach: one of a VM's taps (tap.NIC) exists on this host; called
	// once per NIC. Sets up the tap hook and the NIC's entry: its mode kept
	// if an entry exists (an incoming VM is in HOLD since Prepare), but
	// FORWARD (the VM left and is started here again within the grace
	// period) and a new entry are PASS. Every other method covers all of
	// the VM's NICs, each with its own order guarantee.
	Attach(ctx context.Context, spec api.VMSpec, tap Tap) error
	// Detach: the VM's taps are going away (vm stop; source after a move: the
	// entry stays in FORWARD for a grace period).
	Detach(ctx context.Context, spec api.VMSpec) error
	// Begin (source): a migration of spec to the host whose underlay IPv4
	// is peer starts: MIRROR.
	Begin(ctx context.Context, spec api.VMSpec, peer netip.Addr) error
	// Prepare puts the VM's MAC/IP in HOLD at the destination: packets for
	// it are queued until Flushed.
	Prepare(ctx context.Context, spec api.VMSpec) error
	// Switchover puts the VM in BUFFER at the source: the guest is stopped
	// and its packets queue until Resumed or Rollback.
	Switchover(ctx context.Context, spec api.VMSpec) error
	// Started (destination, right after cont): announce the VM (GARPs, in
	// the background).
	Started(ctx context.Context, spec api.VMSpec) error
	// Resumed puts the VM in FORWARD at the source and writes, in order,
	// the frame QEMU held, the packets still queued in the source tap and
	// the BUFFER queue to flush. The session half-closes flush afterwards.
	Resumed(ctx context.Context, spec api.VMSpec, flush Stream) error
	// Flushed injects what arrives on flush (until EOF) into the new tap,
	// then releases the HOLD queue and sets PASS. flush is nil when the
	// source sent none in time: release HOLD and PASS.
	Flushed(ctx context.Context, spec api.VMSpec, flush Stream) error
	// Rollback undoes what the other methods did on this end: at the
	// source (called after the guest was resumed there), BUFFER goes back
	// into the source tap, in order, and PASS; at the destination the HOLD
	// entry goes (held unicast frames counted as dropped "rollback_dest",
	// the flooded ones, which the source had too, as RollbackFlooded). After
	// an agent restart it also rolls back a source's part that the
	// previous run left (the frames that run held count as dropped).
	Rollback(ctx context.Context, spec api.VMSpec) error
	// Stats is this end's account of the current or last migration of spec.
	Stats(spec api.VMSpec) api.HandoffStats
}

// Quiescer is a Handoff that can quiet a running guest's tap before the
// agent stops the guest: Quiesce (source, guest running) buffers the VM's
// new frames, as Switchover does, and returns once QEMU has read every
// frame already in the tap. Stopping the guest then catches no frame in
// QEMU's hands: QEMU 7.2 drops the packets queued for a NIC when the guest
// stops (net_vm_change_state_handler), and a frame it read while the run
// state was already "stopped" is one of them.
//
// With a Quiescer the agent decides the switchover itself: QEMU's
// downtime-limit is kept at 1 ms; at the pass boundary where the rest fits
// the downtime target the agent holds QEMU's migration channels, calls
// Quiesce, stops the guest and lets QEMU finish (see policy.Config's AgentSwitchover). Switchover is still called at pre-switchover.
type Quiescer interface {
	Quiesce(ctx context.Context, spec api.VMSpec) error
}

// Pauser is a Handoff that keeps a guest's traffic while the guest cannot
// take it: a post-copy whose stream broke leaves the guest at the
// destination stuck on pages that have not arrived, for as long as the
// recovery takes; frames delivered into its tap meanwhile overflow the
// tap's queue, where no counter of ours sees them. Pause (destination,
// post-copy paused) holds the VM's frames, as HOLD does; Unpause (the
// stream resumed) releases them into the tap in order, paced, and passes
// again. Both are no-ops for a VM whose traffic is not passing (a release
// under way) or not held. Before the pause is noticed (a silent path: ~2 s)
// the stuck guest's tap overflows: Watch (the post-copy starts here) and
// Unwatch (it ended) count those frames as dropped "postcopy_stall". A
// post-copy resumed after an agent restart passes prior, the account the
// previous run stored: the tap (created for the arrival) dropped since its
// creation what that account counts as tap_full or postcopy_stall, and the
// stall the rest.
type Pauser interface {
	Watch(ctx context.Context, spec api.VMSpec, prior *api.HandoffStats) error
	Pause(ctx context.Context, spec api.VMSpec) error
	Unpause(ctx context.Context, spec api.VMSpec) error
	Unwatch(ctx context.Context, spec api.VMSpec) error
}

// TunnelPeers is a Handoff whose tunnel takes frames (the stragglers a
// source forwards after a move) only from known hosts. SetTunnelPeers
// replaces the set with addrs, the underlay addresses of the hosts that
// may migrate a VM here (the agent's peers file); an empty set refuses
// every tunnelled frame. The agent sets it at start and again before each
// incoming migration holds its VM (Prepare).
type TunnelPeers interface {
	SetTunnelPeers(addrs []netip.Addr) error
}

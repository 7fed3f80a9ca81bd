package dataplane

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/dataplane/tapio"
	"github.com/nfhandoff/nfhandoff/dataplane/tchook"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// Roles of a VM entry in its current migration.
const (
	roleNone   = ""
	roleSource = "source"
	roleDest   = "destination"
)

// vmEntry is what user space keeps of a VM: who it is, its tap, the order
// of its ring records, and its current migration on this end, as a source
// (src) or as a destination (dst).
type vmEntry struct {
	key   vmKey
	name  string
	mac   net.HardwareAddr
	ip    netip.Addr
	log   *slog.Logger
	queue *frame.Queue // captured frames not yet handed on
	stats *stats
	done  finished // records finished with; its own lock

	mu      sync.Mutex // guards the fields below
	tap     handoff.Tap
	hook    *tchook.Hook
	grace   *time.Timer // FORWARD after Detach: the entry goes when it fires
	role    string
	discard bool        // captured frames are no longer wanted (counted already)
	order   ringOrder   // see ring_linux.go
	src     sourceState // role source
	dst     destState   // role destination
	release releasing   // RELEASE, at either end
	paused  bool        // Pause holds the traffic of a paused post-copy
	stall   stallWatch  // Watch: a post-copy runs here
	guard   *guard      // Watch: holds the traffic if this agent dies (guard_linux.go)
}

// stallWatch counts, while a post-copy runs at the destination, the frames
// the tap drops because the guest is stuck: tun's tx_dropped growth less
// what the injectors' own writes caused.
type stallWatch struct {
	on     bool
	base   uint64 // the tap's tx_dropped at Watch
	caused uint64 // tx_dropped the injectors caused since (counted by them, or sent again)
}

// sourceState is what a source keeps of a migration from Begin on.
type sourceState struct {
	peer     netip.Addr // the destination host
	mirror   frame.MirrorRing
	baseCtr  vmCounters        // program counters at Begin
	baseDev  tapio.DevCounters // tap counters at Begin
	held     heldState         // see held_linux.go
	quiesced bool              // Quiesce set BUFFER with the guest running
	// probeMissed: Quiesce's probe was not read (QEMU held a frame then):
	// the tap drained does not mean QEMU holds nothing.
	probeMissed bool
	// borrowed is a descriptor of a tap the agent did not open (Tap.File
	// nil: a libvirt guest's), taken at the switchover from the QEMU that
	// has it, so that the frames queued in the tap outlive that QEMU (its
	// engine takes it down before the flush); Resumed reads them through
	// it, Resumed and Rollback close it.
	borrowed *os.File
}

// destState is what a destination keeps of a migration from Prepare on.
type destState struct {
	garpDone chan struct{} // closed when the gratuitous ARPs of Started are out
}

// releasing is a running release (see release_linux.go).
type releasing struct {
	done    chan struct{} // closed when it ends
	drained chan struct{} // closed when it has injected all captured so far
}

// finished counts the records user space has finished with (injected,
// flushed or discarded) and mirrors the count into the released map, which
// the RELEASE mode compares with captured.
type finished struct {
	mu   sync.Mutex
	n    uint64
	err  error
	maps *bpfMaps
}

// finish marks n more records as finished with.
func (v *vmEntry) finish(n uint64) {
	if n == 0 {
		return
	}
	f := &v.done
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n += n
	if err := f.maps.setReleased(v.key, f.n); err != nil && f.err == nil {
		f.err = err
		v.log.Error("updating released", "err", err)
	}
}

// released is the number of records finished with.
func (v *vmEntry) released() uint64 {
	v.done.mu.Lock()
	defer v.done.mu.Unlock()
	return v.done.n
}

// setReleased starts the count at n (a new or adopted entry).
func (v *vmEntry) setReleased(n uint64) {
	v.done.mu.Lock()
	defer v.done.mu.Unlock()
	v.done.n = n
}

// claim (v.mu held) readies v for a new owner (Attach, Prepare): no grace
// timer, and its BPF entry if it exists, else fresh (to be written) and the
// bookkeeping of a new entry (baseline).
func (v *vmEntry) claim(m *bpfMaps, fresh vmState) (vmState, error) {
	v.stopGrace()
	st, exists, err := m.state(v.key)
	if err != nil || exists {
		return st, err
	}
	return fresh, v.baseline(m)
}

// baseline starts a new entry's bookkeeping (v.mu held): its counters
// exist, and sequence and released continue from what the program has
// captured so far, so RELEASE compares like with like.
func (v *vmEntry) baseline(m *bpfMaps) error {
	if err := m.ensureCounts(v.key); err != nil {
		return err
	}
	cur, err := m.capturedOf(v.key)
	if err != nil {
		return err
	}
	v.order.next = cur + 1
	v.setReleased(cur)
	return m.setReleased(v.key, cur)
}

// setMode writes mode into the VM's entry and times it (v.mu held).
func (h *Handoff) setMode(v *vmEntry, m mode, timed string, fn func(*vmState)) error {
	err := h.d.maps.update(v.key, func(st *vmState) {
		st.Mode = m
		if guestLeaves(m) {
			st.Flags &^= runsHere
		}
		if fn != nil {
			fn(st)
		}
	})
	if err != nil {
		return fmt.Errorf("vm %s: setting %s: %w", v.name, m, err)
	}
	v.stats.enter(timed, time.Now())
	v.log.Debug("mode", "mode", m.String())
	return nil
}

// startGrace removes the entry after ForwardGrace (v.mu held).
func (v *vmEntry) startGrace(h *Handoff) {
	v.stopGrace()
	v.grace = time.AfterFunc(h.d.cfg.ForwardGrace, func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.grace == nil || v.tap.Ifindex != 0 {
			return
		}
		v.grace = nil
		if err := h.removeLocked(v); err != nil {
			v.log.Error("removing forward entry", "err", err)
			return
		}
		v.log.Info("forward grace over: entry removed")
	})
}

func (v *vmEntry) stopGrace() {
	if v.grace != nil {
		v.grace.Stop()
		v.grace = nil
	}
}

// dropUnsent (v.mu held) stops wanting v's captured frames: the queued
// ones and those still in the ring (or waiting for order), discarded when
// taken. It returns both counts; the caller counts them as dropped.
func (v *vmEntry) dropUnsent(m *bpfMaps) (queued, inRing uint64) {
	queued = uint64(len(v.queue.Drain()))
	if captured, err := m.capturedOf(v.key); err == nil && captured > v.consumed() {
		inRing = captured - v.consumed()
	}
	v.discard = true
	return queued, inRing
}

// removeLocked deletes v's BPF entries and forgets it (v.mu held). Frames
// still wanted (queued, or captured and in the ring) are counted as dropped
// "detached".
func (h *Handoff) removeLocked(v *vmEntry) error {
	if !v.discard {
		// Frames captured and not yet handed on (queued, or still in the
		// ring) go with the entry: a Detach during BUFFER, HOLD or RELEASE.
		st, ok, err := h.d.maps.state(v.key)
		queued, inRing := v.dropUnsent(h.d.maps)
		n := queued
		if err == nil && ok && capturing(st.Mode) {
			n += inRing
		}
		v.stats.drop(dropDetached, n)
		if n > 0 {
			v.log.Warn("captured frames dropped with the entry", "frames", n)
		}
	}
	v.freeze(h.d.maps)
	v.discard = true
	err := h.d.maps.remove(v.key, uint32(v.tap.Ifindex), ipKey(v.ip))
	h.forget(v)
	if err != nil {
		return fmt.Errorf("removing vm %s: %w", v.name, err)
	}
	return nil
}

// freeze ends v's account: the program's counters as they are now, no mode
// timed.
func (v *vmEntry) freeze(m *bpfMaps) {
	if ctr, err := m.countersOf(v.key); err == nil {
		v.stats.freeze(ctr)
	}
	v.stats.enter("", time.Now())
}

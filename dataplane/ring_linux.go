package dataplane

import (
	"encoding/binary"
	"errors"
	"os"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
)

// tickEvery is how often the ring reader wakes without records, to give up
// on records that cannot come any more.
const tickEvery = 20 * time.Millisecond

// staleAfter is how long a VM's out-of-order records wait for the missing
// sequence numbers (which the programs never skip) before the reader moves
// on; only a restart of the agent can lose records that way.
const staleAfter = 250 * time.Millisecond

// restartSettleBusy is how long after a restart a reader that never found
// the ring empty waits before deciding which records of the previous run
// are gone (an idle reader decides at once: every record written before the
// restart has been read).
const restartSettleBusy = time.Second

// ringOrder is how far a VM's ring records have been taken, in sequence.
type ringOrder struct {
	next         uint64 // next record sequence number expected (0: not known yet)
	restartUpTo  uint64 // adopted: records up to here the previous run took and never finished are lost (0: none)
	adoptedAt    time.Time
	pending      map[uint64]frame.Frame // records that came ahead of a missing one
	pendingSince time.Time
}

// readRing is the one reader of the ring: it hands every record to the VM
// it belongs to until the reader is closed.
func (d *Dataplane) readRing() {
	var rec ringbuf.Record
	lastTick := time.Now()
	for {
		d.rd.SetDeadline(time.Now().Add(tickEvery))
		err := d.rd.ReadInto(&rec)
		switch {
		case err == nil:
			d.deliver(rec.RawSample)
			if now := time.Now(); now.Sub(lastTick) >= tickEvery {
				d.handoff.tick(now, false) // a busy ring must not starve skipStale
				lastTick = now
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			lastTick = time.Now()
			d.handoff.tick(lastTick, true)
		case errors.Is(err, ringbuf.ErrClosed):
			return
		default:
			d.log.Error("reading ring", "err", err)
			time.Sleep(tickEvery)
		}
	}
}

// deliver parses one record (rec_hdr, then the frame) and hands it to its
// VM; records of unknown VMs are counted as orphans.
func (d *Dataplane) deliver(raw []byte) {
	if len(raw) < recHdrLen {
		d.log.Error("short ring record", "len", len(raw))
		return
	}
	var k vmKey
	seq := binary.NativeEndian.Uint64(raw[recSeqAt:])
	copy(k.Mac[:], raw[recMacAt:recMacLast])
	m := raw[recModeAt]
	n := int(binary.NativeEndian.Uint32(raw[recLenAt:]))
	if n > len(raw)-recHdrLen {
		d.log.Error("ring record longer than its sample", "len", n, "sample", len(raw))
		return
	}
	v := d.handoff.byKey(k)
	if v == nil {
		d.orphans.Add(1)
		return
	}
	data := make([]byte, n)
	copy(data, raw[recHdrLen:recHdrLen+n])
	// Injected or compared with what the tap hands its reader, the copy
	// needs the checksum the kernel completes only after the hook.
	frame.CompleteChecksum(data)
	v.accept(frame.Frame{Seq: seq, Mode: m, Data: data}, time.Now())
}

// accept takes the VM's record f, in sequence order: records that arrive
// ahead of a missing one wait for it.
func (v *vmEntry) accept(f frame.Frame, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.order.next == 0 { // first record after an agent restart
		v.order.next = f.Seq
	}
	switch {
	case f.Seq < v.order.next:
		v.log.Warn("stale ring record dropped", "seq", f.Seq, "next", v.order.next)
		return
	case f.Seq > v.order.next:
		if len(v.order.pending) == 0 {
			v.order.pendingSince = now
		}
		v.order.pending[f.Seq] = f
		return
	}
	v.take(f)
	v.drainPending()
}

// drainPending takes the waiting records that are next in sequence.
func (v *vmEntry) drainPending() {
	for {
		f, ok := v.order.pending[v.order.next]
		if !ok {
			break
		}
		delete(v.order.pending, v.order.next)
		v.take(f)
	}
}

// skipStale gives up on missing records that out-of-order ones have waited
// for too long (v.mu held).
func (v *vmEntry) skipStale(now time.Time) {
	if len(v.order.pending) == 0 || now.Sub(v.order.pendingSince) < staleAfter {
		return
	}
	low := uint64(0)
	for s := range v.order.pending {
		if low == 0 || s < low {
			low = s
		}
	}
	// The programs never skip a sequence number: the records are lost (a
	// malformed record, or one the previous run took after a restart).
	n := low - v.order.next
	reason := dropRingLost
	if v.order.restartUpTo != 0 && low-1 <= v.order.restartUpTo {
		reason = dropRestart
	}
	v.log.Warn("ring records missing, skipped", "from", v.order.next, "to", low-1, "reason", reason)
	v.stats.drop(reason, n)
	v.finish(n)
	v.order.next = low
	v.drainPending()
	v.order.pendingSince = now
}

// take consumes the next record in sequence (v.mu held): a MIRROR copy is
// kept among the last copies and finished at once; a captured frame is
// queued (or, when the queue is full, dropped and counted).
func (v *vmEntry) take(f frame.Frame) {
	v.order.next = f.Seq + 1
	switch {
	case mode(f.Mode) == modeMirror:
		v.src.mirror.Add(f.Data)
		v.finish(1)
	case capturing(mode(f.Mode)) && !v.discard:
		if !v.queue.Push(f) {
			v.stats.drop(dropQueueFull, 1)
			v.finish(1)
		}
	default:
		// Frames this end no longer wants (counted where it stopped wanting them).
		v.finish(1)
	}
}

// consumed is the number of records taken so far (v.mu held).
func (v *vmEntry) consumed() uint64 {
	if v.order.next == 0 {
		return 0
	}
	return v.order.next - 1
}

// settleRestart (v.mu held), once every record written before the restart
// has been read: the adopted entry's records up to restartUpTo that never
// came were taken by the previous run and died with it. They are counted as
// dropped "restart" and finished (RELEASE compares captured with released).
func (v *vmEntry) settleRestart() {
	upTo := v.order.restartUpTo
	v.order.restartUpTo = 0
	var lost uint64
	for v.order.next <= upTo {
		if f, ok := v.order.pending[v.order.next]; ok {
			delete(v.order.pending, v.order.next)
			v.take(f)
			continue
		}
		lost++
		v.order.next++
	}
	v.drainPending()
	if lost > 0 {
		v.log.Warn("frames held by the previous run lost", "frames", lost)
		v.stats.drop(dropRestart, lost)
		v.finish(lost)
	}
}

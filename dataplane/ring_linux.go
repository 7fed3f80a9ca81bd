package dataplane

import (
	"encoding/binary"
	"errors"
	"os"
	"time"

	"github.com/cilium/ebpf/ringbuf"
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
	seq := binary.NativeEndian.Uint64(raw[0:])
	copy(k.MAC[:], raw[8:14])
	mode := raw[14]
	n := int(binary.NativeEndian.Uint32(raw[16:]))
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
	completeChecksum(data)
	v.accept(frame{seq: seq, mode: mode, data: data}, time.Now())
}

// accept takes the VM's record f, in sequence order: records that arrive
// ahead of a missing one wait for it.
func (v *vmEntry) accept(f frame, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.nextSeq == 0 { // first record after an agent restart
		v.nextSeq = f.seq
	}
	switch {
	case f.seq < v.nextSeq:
		v.log.Warn("stale ring record dropped", "seq", f.seq, "next", v.nextSeq)
		return
	case f.seq > v.nextSeq:
		if len(v.pending) == 0 {
			v.pendingSince = now
		}
		v.pending[f.seq] = f
		return
	}
	v.take(f)
	v.drainPending()
}

// drainPending takes the waiting records that are next in sequence.
func (v *vmEntry) drainPending() {
	for {
		f, ok := v.pending[v.nextSeq]
		if !ok {
			break
		}
		delete(v.pending, v.nextSeq)
		v.take(f)
	}
}

// skipStale gives up on missing records that out-of-order ones have waited
// for too long (v.mu held).
func (v *vmEntry) skipStale(now time.Time) {
	if len(v.pending) == 0 || now.Sub(v.pendingSince) < staleAfter {
		return
	}
	low := uint64(0)
	for s := range v.pending {
		if low == 0 || s < low {
			low = s
		}
	}
	// The programs never skip a sequence number: the records are lost (a
	// malformed record, or one the previous run took after a restart).
	n := low - v.nextSeq
	reason := dropRingLost
	if v.restartUpTo != 0 && low-1 <= v.restartUpTo {
		reason = dropRestart
	}
	v.log.Warn("ring records missing, skipped", "from", v.nextSeq, "to", low-1, "reason", reason)
	v.stats.drop(reason, n)
	v.finish(n)
	v.nextSeq = low
	v.drainPending()
	v.pendingSince = now
}

// take consumes the next record in sequence (v.mu held): a MIRROR copy is
// kept among the last copies and finished at once; a captured frame is
// queued (or, when the queue is full, dropped and counted).
func (v *vmEntry) take(f frame) {
	v.nextSeq = f.seq + 1
	switch {
	case f.mode == modeMirror:
		v.mirror.add(f)
		v.finish(1)
	case capturing(f.mode) && !v.discard:
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
	if v.nextSeq == 0 {
		return 0
	}
	return v.nextSeq - 1
}

// settleRestart (v.mu held), once every record written before the restart
// has been read: the adopted entry's records up to restartUpTo that never
// came were taken by the previous run and died with it. They are counted as
// dropped "restart" and finished (RELEASE compares captured with released).
func (v *vmEntry) settleRestart() {
	upTo := v.restartUpTo
	v.restartUpTo = 0
	var lost uint64
	for v.nextSeq <= upTo {
		if f, ok := v.pending[v.nextSeq]; ok {
			delete(v.pending, v.nextSeq)
			v.take(f)
			continue
		}
		lost++
		v.nextSeq++
	}
	v.drainPending()
	if lost > 0 {
		v.log.Warn("frames held by the previous run lost", "frames", lost)
		v.stats.drop(dropRestart, lost)
		v.finish(lost)
	}
}

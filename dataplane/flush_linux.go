package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/dataplane/tapio"
	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// The flush stream at both ends: the source writes what it kept through
// the blackout (Resumed), the destination injects it into the new tap
// (Flushed) before it releases its HOLD queue.

// writeFlush writes a NIC's section of the flush stream (held < residue <
// buffered) and finishes the buffered records. What cannot be sent is
// counted as lost. A GSO frame goes as its segments: Flushed counts the
// frames on the stream (what the destination injects), the losses count
// captured frames.
func (h *Handoff) writeFlush(v *vmEntry, flush io.Writer, nic int, held []byte, residue [][]byte, buffered []frame.Frame) error {
	defer v.finish(uint64(len(buffered)))
	total := uint64(len(residue) + len(buffered))
	if held != nil {
		total++
	}
	if flush == nil {
		v.stats.drop(dropFlushLost, total)
		return fmt.Errorf("vm %s: no flush stream: %d frames lost", v.name, total)
	}
	w := frame.NewFlushWriter(flush, nic)
	mtu := tapMTU(v.tap.Name)
	var sent, frames, tooLarge uint64 // captured frames sent, frames on the stream
	var werr error
	write := func(o frame.Origin, b []byte) bool {
		if werr != nil {
			return false
		}
		segs, err := frame.Segment(b, mtu)
		if err != nil || len(b) == 0 {
			tooLarge++
			return false
		}
		for _, s := range segs {
			if len(s) > frame.MaxFrame {
				tooLarge++
				return false
			}
		}
		for _, s := range segs {
			if werr = w.WriteFrame(o, s); werr != nil {
				return false
			}
			frames++
		}
		sent++
		return true
	}
	heldSent := held != nil && write(frame.OriginHeld, held)
	for _, b := range residue {
		write(frame.OriginResidue, b)
	}
	for _, f := range buffered {
		write(frame.OriginBuffered, f.Data)
	}
	if werr == nil {
		werr = w.Close()
	}
	if werr != nil {
		// The writer buffers: frames it took may never have left. Nothing
		// is known to have arrived (the destination's Flushed says what did).
		sent, frames, heldSent = 0, 0, false
	}
	v.stats.drop(dropTooLarge, tooLarge)
	v.stats.drop(dropFlushLost, total-sent-tooLarge)
	v.stats.update(func(s *api.HandoffStats) {
		s.Flushed += frames
		if heldSent && werr == nil {
			s.HeldInQEMU++
		}
	})
	v.log.Info("flushed", "frames", frames, "captured", sent, "held", heldSent, "residue", len(residue), "buffered", len(buffered))
	if werr != nil {
		return fmt.Errorf("vm %s: writing flush: %w", v.name, werr)
	}
	return nil
}

// tapMTU is the MTU of tap, or Ethernet's when it cannot be read (the tap
// is gone: the flush still goes, segmented for the usual MTU).
func tapMTU(tap string) int {
	if ifi, err := net.InterfaceByName(tap); err == nil && ifi.MTU > 0 {
		return ifi.MTU
	}
	return 1500
}

// injectFlush injects every frame of a NIC's flush section, in order.
func (h *Handoff) injectFlush(ctx context.Context, v *vmEntry, inj *tapio.Injector, r *frame.FlushReader) error {
	var n, failed uint64
	var err error
	for {
		var b []byte
		if _, b, err = r.Next(); err != nil {
			break
		}
		if ierr := inj.Inject(ctx, b); ierr != nil {
			failed++
			v.log.Warn("injecting a flushed frame", "err", ierr)
			continue
		}
		n++
	}
	v.stats.update(func(s *api.HandoffStats) { s.Flushed += n })
	v.stats.drop(dropInject, failed)
	if errors.Is(err, io.EOF) {
		v.log.Info("flush injected", "frames", n)
		return nil
	}
	// The source counts what it could not send; frames cut off here are
	// counted by the source as sent, so the report shows the difference.
	return fmt.Errorf("vm %s: reading flush after %d frames: %w", v.name, n, err)
}

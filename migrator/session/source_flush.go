package session

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// Bounds of the source's hand-off after the move.
const (
	flushOpenTimeout = 10 * time.Second // opening the flush stream
	resumedTimeout   = 30 * time.Second // Handoff.Resumed
)

// handoffRun is the source's hand-off once the guest runs at the
// destination: Handoff.Resumed (FORWARD, write the flush), then the flush
// stream's half-close.
type handoffRun struct {
	done chan struct{} // closed when the hand-off has finished
}

// startHandoff starts the hand-off over conn in the background, once per
// session (later calls do nothing, so the flush stream is opened once).
// Call it only after Commit, when the guest runs at the destination: from
// here on the hand-off is never rolled back.
func (s *source) startHandoff(ctx context.Context, conn Conn) {
	if s.handoff != nil {
		return
	}
	h := &handoffRun{done: make(chan struct{})}
	s.handoff = h
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer close(h.done)
		s.resume(ctx, conn)
	}()
}

// resume opens the flush stream on conn (none if conn is nil or it cannot
// be opened: Resumed then forwards without a flush), calls Resumed and
// half-closes the stream. It only reads s.cfg and s.log: it runs
// concurrently with the session's loop.
func (s *source) resume(ctx context.Context, conn Conn) {
	var flush Stream
	if conn != nil {
		err := bounded(ctx, flushOpenTimeout, func(ctx context.Context) error {
			var err error
			flush, err = conn.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindFlush, Session: s.cfg.ID})
			return err
		})
		if err != nil {
			s.log.Warn("opening flush stream", "err", err)
			flush = nil
		}
	}
	err := bounded(ctx, resumedTimeout, func(ctx context.Context) error {
		return s.cfg.Handoff.Resumed(ctx, s.cfg.Spec, flush)
	})
	if flush != nil {
		flush.CloseWrite()
	}
	if err != nil {
		s.log.Warn("hand-off resumed", "err", err)
		return
	}
	s.log.Info("hand-off: forwarding to the destination, flush sent", "flush", flush != nil)
}

// waitHandoff waits for the hand-off started by startHandoff, if any, for
// at most the bounds of its steps (and a little more).
func (s *source) waitHandoff() {
	if s.handoff == nil {
		return
	}
	limit := flushOpenTimeout + resumedTimeout + 5*time.Second
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-s.handoff.done:
	case <-t.C:
		s.log.Warn("hand-off still running; going on without it", "waited", limit)
	}
}

// waitHandoffDone waits (bounded) for the destination's HandoffDone on the
// session's control stream. conn is the connection the guest was found
// running through; after a reconnection there is no control stream to
// wait on.
func (s *source) waitHandoffDone(ctx context.Context, conn Conn) {
	if s.destStats != nil || conn != s.conn || s.in == nil {
		return
	}
	t := time.NewTimer(s.cfg.HandoffTimeout)
	defer t.Stop()
	for {
		select {
		case c, ok := <-s.in:
			if !ok || c.err != nil {
				if ok && c.err != io.EOF {
					s.log.Warn("waiting for the destination's hand-off report", "err", c.err)
				} else {
					s.log.Warn("control stream ended before the destination's hand-off report")
				}
				s.in = nil
				return
			}
			if m, ok := c.msg.(wire.HandoffDone); ok {
				s.destStats = &m.Stats
				return
			}
			s.log.Debug("ignoring control message after the move", "type", fmt.Sprintf("%T", c.msg))
		case <-t.C:
			s.log.Warn("no hand-off report from the destination", "waited", s.cfg.HandoffTimeout)
			return
		case <-conn.Context().Done():
			s.log.Warn("connection lost before the destination's hand-off report")
			return
		case <-ctx.Done():
			return
		}
	}
}

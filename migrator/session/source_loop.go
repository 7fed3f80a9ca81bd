package session

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// loop watches QEMU, the policy and the destination until the guest runs
// at the destination (nil) or something fails.
func (s *source) loop(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	to := s.cfg.Request.To
	events := s.events
	for !(s.phase == srcRunning && s.completed) {
		done := ctx.Done()
		if s.postcopy {
			// No way back: neither a cancel nor the deadline may leave the
			// guest without the pages only this end has.
			done = nil
		}
		select {
		case <-done:
			return context.Cause(ctx)
		case <-s.conn.Context().Done():
			return fmt.Errorf("%w: connection to %s lost", api.ErrPeer, to)
		case <-s.cfg.Guest.Done():
			return fmt.Errorf("%w: source qemu exited during the migration", api.ErrQEMU)
		case c, ok := <-s.in:
			if (!ok || c.err == io.EOF) && s.destStats != nil {
				// The destination said all it had to (its hand-off
				// report); QEMU's end of a post-copy is still to come.
				s.in = nil
				continue
			}
			if !ok || c.err != nil {
				err := c.err
				if err == io.EOF || !ok {
					err = fmt.Errorf("closed")
				}
				s.in = nil
				return fmt.Errorf("%w: control stream from %s: %v", api.ErrPeer, to, err)
			}
			if err := s.onMessage(ctx, c.msg); err != nil {
				return err
			}
		case e, ok := <-events:
			if !ok {
				events, s.events = nil, nil
				continue
			}
			if e.Name == qmpcmd.EventStop {
				// QEMU's own time of the stop: earlier than the agent's
				// if QEMU stopped the guest itself first.
				if t := eventTime(e); s.pause.stopped.IsZero() || t.Before(s.pause.stopped) {
					s.pause.stopped = t
				}
			}
			if st := eventStatus(e); st != "" {
				s.log.Debug("migration event", "status", st)
				if err := s.onStatus(ctx, st, ""); err != nil {
					return err
				}
			}
			if e.Name == qmpcmd.EventMigrationPass {
				if err := s.sample(ctx); err != nil {
					return err
				}
			}
		case <-tick.C:
			if err := s.sample(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// onMessage handles a control message from the destination. Its Running
// (after Commit) starts the hand-off at once, in the background: in a
// post-copy migration the guest runs at the destination while QEMU still
// moves pages on its own streams, and its traffic must not wait for that.
func (s *source) onMessage(ctx context.Context, m any) error {
	to := s.cfg.Request.To
	switch m := m.(type) {
	case wire.Running:
		if s.phase < srcCommitted {
			return fmt.Errorf("%w: %s says running before commit", api.ErrPeer, to)
		}
		if !s.advance(srcRunning) {
			return nil // said twice
		}
		var paused time.Duration
		if !s.pause.stopped.IsZero() {
			// The guest ran since the destination's cont, m.Since ago.
			heard := time.Since(s.pause.stopped)
			paused = heard - min(max(time.Duration(m.Since), 0), heard)
			s.rec.update(true, func(m *api.Migration) {
				m.Paused, m.ResumedAt = api.Duration(paused), s.pause.stopped.Add(paused).UTC()
			})
			s.notePause(paused, m, s.rec.get().Progress.Pass)
		}
		// Its blackout is over; its post-copy, if any, must not be held.
		s.endBlackout()
		s.leaveBlackouts()
		s.log.Info("guest running at the destination; handing its traffic off", "postcopy", s.postcopy, "paused", paused)
		s.startHandoff(ctx, s.conn)
		if s.postcopy && s.cfg.Debug.PostcopyRate > 0 {
			s.bandwidth = s.cfg.Debug.PostcopyRate
			s.gate.setRate(s.bandwidth)
		}
		if s.postcopy {
			// Only now: the destination loads the devices' state before
			// it runs the guest, and the pages that load touches must not
			// wait behind the working set (the bench: +90 ms of pause).
			s.startPrefetch(s.pipes)
		}
		return nil
	case wire.Abort:
		s.destAborted = true
		return fmt.Errorf("%w: %s aborted: %s", api.ErrPeer, to, m.Reason)
	case wire.HandoffDone:
		if s.phase == srcRunning {
			s.destStats = &m.Stats
			return nil
		}
	}
	return fmt.Errorf("%w: %s sent an unexpected %T", api.ErrPeer, to, m)
}

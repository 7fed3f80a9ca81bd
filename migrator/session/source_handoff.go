package session

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// peerAddr is the IP address of the other end of c (for the hand-off: the
// destination host's underlay address, where FORWARD sends stragglers).
func peerAddr(c Conn) (netip.Addr, error) {
	ra := c.RemoteAddr()
	if ra == nil {
		return netip.Addr{}, fmt.Errorf("no remote address")
	}
	if u, ok := ra.(*net.UDPAddr); ok {
		if a, ok := netip.AddrFromSlice(u.IP); ok {
			return a.Unmap(), nil
		}
	}
	ap, err := netip.ParseAddrPort(ra.String())
	if err != nil {
		return netip.Addr{}, fmt.Errorf("remote address %q: %w", ra, err)
	}
	return ap.Addr().Unmap(), nil
}

// begin starts the hand-off (MIRROR) towards the destination's address.
// A failure fails the migration before QEMU started migrating.
func (s *source) begin(ctx context.Context) error {
	peer, err := peerAddr(s.conn)
	if err != nil {
		return fmt.Errorf("%w: hand-off: destination address: %w", api.ErrMigration, err)
	}
	err = bounded(ctx, 10*time.Second, func(ctx context.Context) error {
		return s.cfg.Handoff.Begin(ctx, s.cfg.Spec, peer)
	})
	if err != nil {
		return fmt.Errorf("%w: hand-off begin: %w", api.ErrMigration, err)
	}
	s.begun = true
	s.log.Debug("hand-off begun", "peer", peer)
	s.handoffStats(true)
	return nil
}

// handoffStats copies the hand-off's statistics into the record (once it
// has begun), with the destination's if they arrived.
func (s *source) handoffStats(persist bool) {
	if !s.begun {
		return
	}
	st := s.cfg.Handoff.Stats(s.cfg.Spec)
	s.rec.update(persist, func(m *api.Migration) {
		r := &api.HandoffReport{Source: st}
		if s.destStats != nil {
			r.Destination = *s.destStats
		}
		m.Handoff = r
	})
}

// switchoverDelay waits cfg.SwitchoverDelay (a test knob) with the guest
// stopped and the hand-off buffering.
func (s *source) switchoverDelay(ctx context.Context) error {
	if s.cfg.SwitchoverDelay <= 0 {
		return nil
	}
	s.log.Warn("debug: delaying migrate-continue", "delay", s.cfg.SwitchoverDelay)
	t := time.NewTimer(s.cfg.SwitchoverDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-s.conn.Context().Done():
		return fmt.Errorf("%w: connection to %s lost during the switchover delay", api.ErrPeer, s.cfg.Request.To)
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
			if m, ok := c.msg.(HandoffDone); ok {
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

package session

import (
	"context"
	"fmt"
	"maps"
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
	rep := handoffReport(s.cfg.Handoff.Stats(s.cfg.Spec), s.destStats, s.flushSettled)
	s.rec.update(persist, func(m *api.Migration) { m.Handoff = &rep })
}

// handoffReport is a source's record of the hand-off: its own account st
// and the destination's dst (nil: none came). Once the wait for dst is
// over (settled), what the source flushed that dst does not confirm counts
// as dropped (api.DropFlushUnconfirmed).
func handoffReport(st api.HandoffStats, dst *api.HandoffStats, settled bool) api.HandoffReport {
	var d api.HandoffStats
	if dst != nil {
		d = *dst
	}
	if settled {
		if n := unconfirmedFlush(st, d); n > 0 {
			st.Dropped = maps.Clone(st.Dropped)
			if st.Dropped == nil {
				st.Dropped = map[string]uint64{}
			}
			st.Dropped[api.DropFlushUnconfirmed] += n
		}
	}
	return api.HandoffReport{Source: st, Destination: d}
}

// unconfirmedFlush is how many frames the source wrote on the flush stream
// (src.Flushed counts the frames on the stream) that the destination's
// account neither injected nor counted as failed to inject. A QUIC write
// succeeds once the frames are buffered: only the destination's report
// says they arrived.
func unconfirmedFlush(src, dst api.HandoffStats) uint64 {
	confirmed := dst.Flushed + dst.Dropped[api.DropInject]
	if src.Flushed <= confirmed {
		return 0
	}
	return src.Flushed - confirmed
}

package session

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/prefetch"
	"github.com/nfhandoff/nfhandoff/migrator/stream"
)

// ramBlockTimeout bounds x-query-ramblock at the post-copy switch.
const ramBlockTimeout = 2 * time.Second

// newPrefetch makes the injector of a request for working-set prefetch
// that may reach post-copy (the main channel's return path is only read in
// post-copy; multifd never is: QEMU 7.2 cannot do both).
func (s *source) newPrefetch() {
	r := s.cfg.Request
	if r.PostcopyPrefetch != api.PrefetchWorkingSet || r.Postcopy == api.PostcopyNever || r.Multifd() > 0 {
		return
	}
	in, err := prefetch.New(prefetch.Config{}, s.log.With("part", "prefetch"))
	if err != nil {
		s.log.Warn("post-copy prefetch off", "err", err)
		return
	}
	s.prefetch = in
}

// prefetchConn puts the injector between the main channel and its QEMU
// connection c: what QEMU sends is counted (the window), what comes back
// for it goes through the injector. Unchanged without prefetch.
func (s *source) prefetchConn(c net.Conn) net.Conn {
	if s.prefetch == nil {
		return c
	}
	in := s.prefetch
	// QEMU's discards at the switch say which pages it will send again,
	// its page records which it sent: the injector asks for those not
	// sent yet, and knows when QEMU served a request.
	pages := stream.NewWriter(io.Discard, stream.Funcs{
		OnPage: func(p stream.Page) { in.Sent(p.Block, p.Offset) },
		OnEvent: func(e stream.Event) {
			for _, x := range e.Extents {
				in.Discard(e.Name, x.Start, x.Len)
			}
			if e.Kind == stream.EventOpaque {
				in.Lost(e.Reason)
			}
		},
	}, s.log.With("part", "prefetch"))
	return &prefetchConn{Conn: c, in: in, w: in.Attach(c), pages: pages}
}

type prefetchConn struct {
	net.Conn
	in    *prefetch.Injector
	w     *prefetch.Writer
	pages *stream.Writer // parses what QEMU sends, forwards nothing
}

func (c *prefetchConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.pages.Write(p[:n]) // never fails: io.Discard, and a parse error turns it opaque
	c.in.Observe(n)
	return n, err
}

func (c *prefetchConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// CloseWrite passes on a message cut short at the end, then the end.
func (c *prefetchConn) CloseWrite() error {
	err := c.w.End()
	if hc, ok := c.Conn.(halfCloser); ok {
		err = errors.Join(err, hc.CloseWrite())
	}
	return err
}

// startPrefetch asks QEMU for its RAM blocks and starts injecting the
// working set, in the background, once the guest runs at the destination
// in post-copy (its Running).
func (s *source) startPrefetch(ctx context.Context) {
	in := s.prefetch
	if in == nil {
		return
	}
	var ranges []prefetch.Range
	why := "none known"
	switch {
	case s.cfg.Debug.PrefetchRanges != "": // a test's list wins
		var err error
		if ranges, err = prefetch.ParseRanges(s.cfg.Debug.PrefetchRanges); err != nil {
			s.log.Warn("debug: prefetch ranges", "err", err)
		}
	case s.cfg.WorkingSet != nil:
		ranges, why = s.cfg.WorkingSet()
	}
	if len(ranges) == 0 {
		in.Skip("no working set: " + why)
		return
	}
	go func() {
		var txt prefetch.RAMBlockText
		err := bounded(ctx, ramBlockTimeout, func(ctx context.Context) error {
			return s.cfg.Guest.Execute(ctx, prefetch.QueryRAMBlock, nil, &txt)
		})
		var blocks []prefetch.Block
		if err == nil {
			blocks, err = prefetch.ParseRAMBlocks(txt.Text)
		}
		if err != nil {
			s.log.Warn("no ram blocks to check the working set against: not prefetching", "err", err)
			in.Skip("no ram blocks: " + err.Error())
			return
		}
		in.Start(ctx, blocks, ranges)
	}()
}

// workingSetBytes is the size of the working set prefetch would send
// first after a switch to post-copy now (0: no prefetch, or no fresh
// report): the policy may then switch earlier.
func (s *source) workingSetBytes() uint64 {
	if s.prefetch == nil || s.cfg.WorkingSet == nil {
		return 0
	}
	var n uint64
	ranges, _ := s.cfg.WorkingSet()
	for _, r := range ranges {
		n += r.Len
	}
	return n
}

// recordPrefetch puts the injector's account in the record.
func (s *source) recordPrefetch() {
	if s.prefetch == nil {
		return
	}
	st := s.prefetch.Stats()
	f := st.Faults
	if st.Requests == 0 && st.Stopped == "" && st.Rewritten == 0 && len(st.Refused) == 0 && f == (prefetch.Faults{}) {
		return
	}
	s.rec.update(false, func(m *api.Migration) {
		m.Prefetch = &api.PrefetchReport{Mode: s.cfg.Request.PostcopyPrefetch, Requests: st.Requests, Pages: st.Pages, Sent: st.Sent, Clean: st.Clean, Readahead: st.Readahead,
			Planned: st.Planned, Refused: st.Refused, Rewritten: st.Rewritten, Stopped: st.Stopped,
			Faults: &api.PrefetchFaults{Before: f.Before, Asked: f.Asked, Ahead: f.Ahead, Outside: f.Outside}}
	})
}

package session

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// run does steps 2-5 until the guest runs at the destination. pctx bounds
// the QEMU channel pipes.
func (s *source) run(ctx, pctx context.Context) error {
	cfg := s.cfg
	to := cfg.Request.To
	conn := cfg.Conn
	if conn == nil {
		var err error
		if conn, err = cfg.Dial(ctx); err != nil {
			return fmt.Errorf("%w: dialing %s: %w", api.ErrPeer, to, err)
		}
	}
	s.conn, s.conn0 = conn, conn
	s.sent0, s.recv0 = conn.Stats()
	ctl, err := conn.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindControl, Session: cfg.ID})
	if err != nil {
		return fmt.Errorf("%w: opening control stream to %s: %w", api.ErrPeer, to, err)
	}
	s.ctl, s.in = ctl, readControl(ctl)

	caps := policy.Capabilities(s.pcfg)
	caps[qmpcmd.CapEvents], caps[qmpcmd.CapPauseBeforeSwitchover] = true, true
	params := policy.Parameters(s.pcfg)
	if n := cfg.Request.Multifd(); n > 0 {
		caps[qmpcmd.CapMultifd] = true
		params.MultifdChannels = new(n)
	}
	hello := wire.Hello{ID: cfg.ID, Source: cfg.Host, Spec: cfg.Spec, Request: cfg.Request,
		Capabilities: caps, MultifdChannels: cfg.Request.Multifd()}
	if err := wire.WriteMessage(ctl, hello); err != nil {
		return fmt.Errorf("%w: sending hello to %s: %w", api.ErrPeer, to, err)
	}
	if err := s.waitReady(ctx); err != nil {
		return err
	}
	// The main channel's stream opens while QEMU is set up: QEMU's first
	// writes would otherwise wait for a lane's TCP and TLS handshakes.
	// Once Ready, the destination knows the session and takes it.
	first := s.preopen(pctx)
	defer func() { discardOpened(first) }() // unless acceptChannels took it

	if err := setCapabilities(ctx, cfg.Guest, caps); err != nil {
		return fmt.Errorf("%w: %w", api.ErrQEMU, err)
	}
	if err := cfg.Guest.Execute(ctx, qmpcmd.MigrateSetParameters, params, nil); err != nil {
		return fmt.Errorf("%w: setting migration parameters: %w", api.ErrQEMU, err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	sock := filepath.Join(cfg.Dir, "migrate.sock")
	ln, err := listenUnix(sock)
	if err != nil {
		return fmt.Errorf("listening for qemu's migration stream: %w", err)
	}
	defer ln.Close() // removes sock
	go s.acceptChannels(pctx, ln, first)
	first = nil

	// Subscribed for the session's life (pctx): a recovered post-copy
	// goes on watching them.
	s.events = cfg.Guest.Events(pctx)
	// Before the first pass: the side channel's rings, quiet from now on,
	// go over in pre-copy; touched until the stop they would be missing
	// at the destination, where loading the devices reads every ring
	// (a post-copy fault each: a longer pause).
	s.quietGuest(ctx, false)
	if err := cfg.Guest.Execute(ctx, qmpcmd.Migrate, qmpcmd.UnixURI(sock), nil); err != nil {
		if ctx.Err() != nil {
			// Cancelled with the command in flight: QEMU may have
			// started migrating, so the rollback must migrate_cancel.
			s.advance(srcMigrating)
		}
		return fmt.Errorf("%w: starting migration: %w", api.ErrQEMU, err)
	}
	s.advance(srcMigrating)
	return s.loop(ctx)
}

// waitReady waits for the destination's Ready.
func (s *source) waitReady(ctx context.Context) error {
	timer := time.NewTimer(s.cfg.ReadyTimeout)
	defer timer.Stop()
	to := s.cfg.Request.To
	select {
	case c, ok := <-s.in:
		if !ok || c.err != nil {
			return fmt.Errorf("%w: %s closed the control stream before ready: %v", api.ErrPeer, to, c.err)
		}
		switch m := c.msg.(type) {
		case wire.Ready:
			s.log.Info("destination ready", "dest_pid", m.PID)
			return nil
		case wire.Abort:
			s.destAborted = true
			return fmt.Errorf("%w: %s refused: %s", api.ErrPeer, to, m.Reason)
		default:
			return fmt.Errorf("%w: %s sent %T before ready", api.ErrPeer, to, m)
		}
	case <-timer.C:
		return fmt.Errorf("%w: %s not ready after %v", api.ErrPeer, to, s.cfg.ReadyTimeout)
	case <-s.conn.Context().Done():
		return fmt.Errorf("%w: connection to %s lost before ready", api.ErrPeer, to)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// openedChannel is a channel's stream opened ahead of QEMU's connection.
type openedChannel struct {
	st  Stream
	via string
	err error
}

// preopen opens channel 0's stream in the background; acceptChannels takes
// it for QEMU's first connection.
func (s *source) preopen(ctx context.Context) <-chan openedChannel {
	out := make(chan openedChannel, 1)
	go func() {
		st, via, err := s.openChannel(ctx, s.qemuHeader(0))
		out <- openedChannel{st, via, err}
	}()
	return out
}

// discardOpened closes the stream preopen opens, once open (nil: none).
func discardOpened(first <-chan openedChannel) {
	if first == nil {
		return
	}
	go func() {
		if o := <-first; o.err == nil {
			o.st.Close()
		}
	}()
}

// acceptChannels turns each connection QEMU opens into a QEMU stream, in
// order: the i-th connection is channel i (0 the main channel, then the
// multifd ones), channel 0's stream the one preopen opened (if it could).
// A stream opened for a connection that never came is closed.
func (s *source) acceptChannels(ctx context.Context, ln net.Listener, first <-chan openedChannel) {
	defer func() { discardOpened(first) }()
	for i := 0; ; i++ {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		var o openedChannel
		if i == 0 && first != nil {
			o, first = <-first, nil
			if o.err != nil {
				s.log.Warn("opening the main channel's stream ahead", "err", o.err)
			}
		}
		if o.st == nil || o.err != nil { // none ahead, or it failed: once more, now
			o.st, o.via, o.err = s.openChannel(ctx, s.qemuHeader(i))
		}
		if o.err != nil {
			s.log.Warn("opening qemu stream", "channel", i, "err", o.err)
			c.Close()
			continue
		}
		st, err := s.encode(s.qemuHeader(i), o.st)
		if err != nil {
			s.log.Warn("coding qemu channel", "channel", i, "err", err)
			o.st.Close()
			c.Close()
			continue
		}
		s.log.Info("qemu channel open", "channel", i, "pipe", o.via)
		if i == 0 {
			c = s.prefetchConn(c)
		}
		go func(i int, st Stream) {
			sent, recv, err := pipe(ctx, c, st, s.gate)
			s.log.Debug("qemu channel done", "channel", i, "sent", sent, "received", recv, "err", err)
		}(i, st)
	}
}

// openChannel opens the stream for a QEMU channel on the request's pipe
// and says which pipe it got. A lane that cannot be opened (a peer without
// lanes, TCP filtered) falls back to a QUIC stream: slower, but the
// migration goes on.
func (s *source) openChannel(ctx context.Context, h wire.StreamHeader) (Stream, string, error) {
	if s.cfg.Request.Pipe == api.PipeTCP {
		st, err := s.conn.OpenLane(ctx, h)
		if err == nil {
			return st, api.PipeTCP, nil
		}
		if ctx.Err() != nil {
			return nil, "", err
		}
		s.log.Warn("tcp lane refused, carrying the channel on quic", "channel", h.Channel, "err", err)
	}
	st, err := s.conn.OpenStream(ctx, h)
	return st, api.PipeQUIC, err
}

// listenUnix listens on a fresh unix socket at path (a stale file from an
// earlier run removed); closing the listener removes it.
func listenUnix(path string) (net.Listener, error) {
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, nil
}

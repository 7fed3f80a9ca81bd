package session

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// Bounds of a post-copy recovery (none is reached on a healthy path).
const (
	recoverPauseWait  = 30 * time.Second // the source QEMU noticing the break (postcopy-paused)
	recoverReplyWait  = 30 * time.Second // the destination's answer to Recover (it may pause its QEMU first)
	recoverAcceptWait = 10 * time.Second // QEMU connecting to the resumed stream's socket
	recoverBackoffMax = 5 * time.Second  // between two attempts
)

// recoverPostcopy resumes a post-copy whose stream broke (cause): once the
// source QEMU is in postcopy-paused it dials the destination again, as
// often as it takes within RecoverTimeout, sends Recover on a new control
// stream, and on RecoverReady points QEMU's migrate with resume at a new
// socket whose one channel goes on the new connection. Then the session
// goes on as before. QEMU keeps the guest's pages meanwhile; nothing
// cancels this (the guest runs at the destination and needs them).
func (s *source) recoverPostcopy(ctx, pctx context.Context, cause error) error {
	ctx = context.WithoutCancel(ctx)
	s.log.Warn("post-copy stream broke; resuming it", "err", cause)
	s.rec.phase("paused", time.Now().UTC())
	st, err := s.waitPaused(ctx)
	switch {
	case err != nil:
		return err
	case st == qmpcmd.MigrationCompleted:
		// Everything went before the break: only the messages are missing.
		if err := s.onStatus(ctx, st, ""); err != nil {
			return err
		}
		return cause
	}
	deadline := time.Now().Add(s.cfg.RecoverTimeout)
	backoff := time.Second
	for n := 1; ; n++ {
		s.attempts++
		err := s.resumeStream(ctx, pctx, s.attempts)
		if err == nil {
			break
		}
		s.log.Warn("post-copy not resumed yet", "attempt", n, "err", err)
		if time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("%w: post-copy not resumed within %v (%d attempts): %w; first: %v",
				api.ErrMigration, s.cfg.RecoverTimeout, n, err, cause)
		}
		sleepCtx(ctx, backoff)
		backoff = min(2*backoff, recoverBackoffMax)
	}
	s.recovered++
	s.rec.phase("postcopy", time.Now().UTC())
	s.rec.update(true, func(m *api.Migration) { m.Recoveries = s.recovered })
	s.log.Info("post-copy resumed", "recoveries", s.recovered)
	return s.loop(ctx)
}

// waitPaused waits until the source QEMU has seen the break: its status is
// postcopy-paused (or completed: nothing was left to send).
func (s *source) waitPaused(ctx context.Context) (string, error) {
	deadline := time.Now().Add(recoverPauseWait)
	for {
		st, err := outgoingStatus(ctx, s.cfg.Guest)
		switch {
		case err != nil:
			return "", err
		case st == qmpcmd.MigrationPostcopyPaused || st == qmpcmd.MigrationCompleted:
			return st, nil
		case time.Now().After(deadline):
			// QEMU 7.2 hangs in postcopy-active when the break hits its
			// completion (it waits for the return path for good).
			return "", fmt.Errorf("%w: source qemu still %q %v after the stream broke", api.ErrQEMU, st, recoverPauseWait)
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

// outgoingStatus is the source QEMU's migration status during a post-copy,
// or why the post-copy cannot go on: QEMU gone, or its migration failed.
// A query that fails while QEMU lives is no answer ("").
func outgoingStatus(ctx context.Context, g Guest) (string, error) {
	st, desc, err := migrateStatus(ctx, g)
	switch {
	case err != nil && !guestAlive(g):
		return "", fmt.Errorf("%w: source qemu exited during the post-copy", api.ErrQEMU)
	case st == qmpcmd.MigrationFailed || st == qmpcmd.MigrationCancelled:
		return "", fmt.Errorf("%w: qemu migration %s: %s", api.ErrQEMU, st, desc)
	}
	return st, nil
}

// resumeStream makes one attempt: a new connection, Recover, RecoverReady, then
// migrate with resume on a new socket whose channel goes on it.
func (s *source) resumeStream(ctx, pctx context.Context, attempt int) error {
	to := s.cfg.Request.To
	var conn Conn
	if err := bounded(ctx, 10*time.Second, func(ctx context.Context) error {
		var err error
		conn, err = s.cfg.Dial(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("%w: dialing %s: %w", api.ErrPeer, to, err)
	}
	ctl, err := conn.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindControl, Session: s.cfg.ID})
	if err != nil {
		return fmt.Errorf("%w: opening a control stream to %s: %w", api.ErrPeer, to, err)
	}
	ok := false
	defer func() {
		if !ok {
			ctl.Close()
		}
	}()
	if err := wire.WriteMessage(ctl, wire.Recover{ID: s.cfg.ID, Attempt: attempt, Restarted: s.restarted}); err != nil {
		return fmt.Errorf("%w: sending recover to %s: %w", api.ErrPeer, to, err)
	}
	var reply any
	if err := bounded(ctx, recoverReplyWait, func(ctx context.Context) error {
		stop := context.AfterFunc(ctx, func() { ctl.Close() })
		defer stop()
		var err error
		reply, err = wire.ReadMessage(ctl)
		return err
	}); err != nil {
		return fmt.Errorf("%w: waiting for %s to take the recovery: %w", api.ErrPeer, to, err)
	}
	switch m := reply.(type) {
	case wire.RecoverReady:
	case wire.Abort:
		return fmt.Errorf("%w: %s refused the recovery: %s", api.ErrPeer, to, m.Reason)
	default:
		return fmt.Errorf("%w: %s answered recover with %T", api.ErrPeer, to, m)
	}

	sock := filepath.Join(s.cfg.Dir, "recover-"+strconv.Itoa(attempt)+".sock")
	ln, err := listenUnix(sock)
	if err != nil {
		return fmt.Errorf("listening for qemu's resumed stream: %w", err)
	}
	defer ln.Close() // removes sock
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	if err := bounded(ctx, 10*time.Second, func(ctx context.Context) error {
		return s.cfg.Guest.Execute(ctx, qmpcmd.Migrate, qmpcmd.Resume{URI: "unix:" + sock, Resume: true}, nil)
	}); err != nil {
		return fmt.Errorf("%w: migrate resume: %w", api.ErrQEMU, err)
	}
	var local net.Conn
	t := time.NewTimer(recoverAcceptWait)
	defer t.Stop()
	select {
	case local = <-accepted:
	case <-t.C:
		return fmt.Errorf("%w: qemu did not connect its resumed stream within %v", api.ErrQEMU, recoverAcceptWait)
	}
	old := s.ctl
	s.conn = conn
	h := wire.StreamHeader{Kind: wire.KindQEMU, Session: s.cfg.ID, Channel: 0}
	st, via, err := s.openChannel(pctx, h)
	if err != nil {
		// QEMU is in postcopy-recover on a socket that leads nowhere: it
		// cannot be paused again there (7.2), so keep it open; the next
		// attempt finds QEMU stuck and says so.
		return fmt.Errorf("%w: opening the resumed channel to %s: %w", api.ErrPeer, to, err)
	}
	go func() {
		sent, recv, err := pipe(pctx, s.prefetchConn(local), st, s.gate)
		s.log.Debug("resumed qemu channel done", "attempt", attempt, "sent", sent, "received", recv, "err", err)
	}()
	ok = true
	s.ctl, s.in = ctl, readControl(ctl)
	if old != nil {
		old.Close()
	}
	s.log.Info("qemu channel resumed", "attempt", attempt, "pipe", via)
	return nil
}

// FinishPostcopy sees through the post-copy of outgoing migration cfg.ID
// whose agent restarted while it ran: the source QEMU (cfg.Guest,
// re-adopted) holds the pages the guest, running at the destination, still
// lacks, and waits in postcopy-paused (its stream died with the agent).
// It resumes the stream as often as it breaks, within cfg.RecoverTimeout,
// until QEMU completed, and returns nil then; the caller quits QEMU.
func FinishPostcopy(ctx context.Context, cfg SourceConfig) error {
	cfg.defaults()
	s := &source{cfg: cfg, log: cfg.Logger.With("migration", cfg.ID, "vm", cfg.Spec.Name, "to", cfg.Request.To), gate: newGate(),
		restarted: true, endBlackout: func() {}, leaveBlackouts: func() {}} // its guest runs at the destination
	s.gate.setRate(cfg.Debug.PostcopyRate)
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	defer func() {
		if s.ctl != nil {
			s.ctl.Close()
		}
	}()
	deadline := time.Now().Add(cfg.RecoverTimeout)
	for {
		st, err := outgoingStatus(ctx, cfg.Guest)
		switch {
		case err != nil:
			return err
		case st == qmpcmd.MigrationCompleted:
			s.log.Info("post-copy completed after the restart")
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%w: post-copy not completed within %v of the restart (qemu %q)", api.ErrMigration, cfg.RecoverTimeout, st)
		case st == qmpcmd.MigrationPostcopyPaused:
			s.attempts++
			if err := s.resumeStream(ctx, pctx, s.attempts); err != nil {
				s.log.Warn("post-copy not resumed yet", "attempt", s.attempts, "err", err)
				sleepCtx(ctx, recoverBackoffMax)
				continue
			}
			s.log.Info("post-copy resumed after the restart", "attempt", s.attempts)
		}
		sleepCtx(ctx, cfg.Poll)
	}
}

// InPostcopy reports whether g's outgoing migration is in post-copy and
// not completed: its QEMU holds pages a guest elsewhere needs.
func InPostcopy(ctx context.Context, g Guest) bool {
	st, _, err := migrateStatus(ctx, g)
	if err != nil {
		return false
	}
	switch st {
	case qmpcmd.MigrationPostcopyActive, qmpcmd.MigrationPostcopyPaused, qmpcmd.MigrationPostcopyRecover:
		return true
	}
	return false
}

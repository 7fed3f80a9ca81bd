package session

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// An incoming post-copy whose stream breaks (the path lost, either agent
// restarted) does not fail: both QEMUs stop at postcopy-paused, the guest
// runs on here except for the pages it still lacks, and the source agent
// comes back with a Recover on a new connection. QEMU 7.2 resumes it:
// migrate-recover here, migrate with resume there, one channel.
//
// The command that matters runs out of band (qmpx.OOB): QEMU's main thread
// is blocked as soon as device emulation touches a page that has not
// arrived, and only the recovery unblocks it.

// recoverReq is a Recover from the source with the stream it came on.
type recoverReq struct {
	conn Conn
	ctl  Stream
	msg  wire.Recover
}

// offer passes a Recover on; false if one is being taken already.
func (p *incomingPostcopy) offer(r recoverReq) bool {
	select {
	case p.requests <- r:
		return true
	default:
		return false
	}
}

// resumedOn reports whether c is the connection the post-copy was last
// resumed on (the source's flush may come on it).
func (p *incomingPostcopy) resumedOn(c Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn == c && p.ctl != nil
}

// takeChannel takes st, the resumed channel from c, if a recovery waits
// for it.
func (p *incomingPostcopy) takeChannel(c Conn, h wire.StreamHeader, st Stream) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.channel == nil || p.conn != c || h.Channel != 0 {
		return false
	}
	select {
	case p.channel <- st:
		p.channel = nil
		return true
	default:
		return false
	}
}

// recoverChannelWait bounds the wait for the resumed channel after
// RecoverReady.
const recoverChannelWait = 30 * time.Second

// take resumes the post-copy on r's connection: QEMU listens again
// (migrate-recover), the source hears RecoverReady and its resumed
// channel is connected. An error leaves QEMU waiting for another attempt.
func (p *incomingPostcopy) take(ctx context.Context, r recoverReq) error {
	if peer := r.conn.Peer(); peer != p.source {
		return fmt.Errorf("%w: %s may not resume a migration from %s", api.ErrPeer, peer, p.source)
	}
	p.mu.Lock()
	p.count++
	n := p.count
	p.mu.Unlock()
	log := p.log.With("attempt", r.msg.Attempt)
	log.Info("source asks to resume the post-copy")
	sock := filepath.Join(p.dir, "recover-"+strconv.Itoa(n)+".sock")
	os.Remove(sock)
	if err := p.listen(ctx, qmpcmd.UnixURI(sock)); err != nil {
		return err
	}
	ch := make(chan Stream, 1)
	p.mu.Lock()
	p.conn, p.channel = r.conn, ch
	p.mu.Unlock()
	if err := wire.WriteMessage(r.ctl, wire.RecoverReady{}); err != nil {
		return fmt.Errorf("%w: answering the recovery: %w", api.ErrPeer, err)
	}
	var st Stream
	t := time.NewTimer(recoverChannelWait)
	defer t.Stop()
	select {
	case st = <-ch:
	case <-t.C:
	case <-r.conn.Context().Done():
	case <-ctx.Done():
	}
	if st == nil {
		p.mu.Lock()
		p.channel = nil
		p.mu.Unlock()
		// QEMU listens on sock still: the next attempt's migrate-recover
		// replaces it.
		return fmt.Errorf("%w: no resumed channel from %s", api.ErrPeer, p.source)
	}
	var d net.Dialer
	local, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		st.Close()
		return fmt.Errorf("connecting the resumed channel: %w", err)
	}
	go func() {
		sent, recv, err := pipe(p.pipes, local, st, nil)
		log.Debug("resumed qemu channel done", "sent", sent, "received", recv, "err", err)
	}()
	p.mu.Lock()
	old := p.ctl
	p.ctl = r.ctl
	p.mu.Unlock()
	if old != nil {
		old.Close()
	}
	if err := wire.WriteMessage(r.ctl, p.running()); err != nil {
		log.Warn("telling the source the guest runs", "err", err)
	}
	p.mu.Lock()
	p.restarted = p.restarted || r.msg.Restarted
	p.mu.Unlock()
	p.resumedOnce.Do(func() { close(p.resumed) })
	log.Info("post-copy resuming: channel connected", "source_restarted", r.msg.Restarted)
	return nil
}

// sourceRestarted reports whether a recovery came from a source agent that
// restarted (its hand-off state, and any flush, went with it).
func (p *incomingPostcopy) sourceRestarted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarted
}

// listen runs migrate-recover (out of band if it can). A QEMU that has not
// seen the break yet (its end of the old stream still open) is paused
// first with migrate-pause: the source only asks once its own QEMU paused.
func (p *incomingPostcopy) listen(ctx context.Context, args qmpcmd.URI) error {
	exec := func(cmd string, args any) error {
		return bounded(ctx, 10*time.Second, func(ctx context.Context) error {
			if p.oob != nil {
				return p.oob.Exec(ctx, cmd, args, nil)
			}
			return p.guest.Execute(ctx, cmd, args, nil)
		})
	}
	err := exec(qmpcmd.MigrateRecover, args)
	if err == nil {
		return nil
	}
	if !strings.Contains(err.Error(), "paused") {
		return fmt.Errorf("%w: migrate-recover: %w", api.ErrQEMU, err)
	}
	if perr := exec(qmpcmd.MigratePause, nil); perr != nil {
		return fmt.Errorf("%w: migrate-recover: %v; migrate-pause: %w", api.ErrQEMU, err, perr)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = exec(qmpcmd.MigrateRecover, args)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: migrate-recover after migrate-pause: %w", api.ErrQEMU, err)
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

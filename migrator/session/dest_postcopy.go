package session

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// oobDialer is a guest with a QMP socket for out-of-band commands
// (*vm.Instance).
type oobDialer interface {
	DialOOB(ctx context.Context) (*qmpx.OOB, error)
}

// incomingPostcopy sees an incoming post-copy through to completion,
// taking the source's recoveries meanwhile. The Server routes Recover
// requests and the resumed channel to it by session ID.
type incomingPostcopy struct {
	id, source string // the session, and the host allowed to resume it
	spec       api.VMSpec
	handoff    handoff.Handoff // holds the guest's traffic while paused (handoff.Pauser)
	guest      Guest
	dir        string // the VM's directory: the recovery sockets go there
	log        *slog.Logger
	poll       time.Duration
	running    func() wire.Running // sent again after a recovery: the source may have missed it
	pipes      context.Context     // bounds the resumed channel's pipe

	prior *api.HandoffStats // a resumed post-copy's stored account (Pauser.Watch)
	// takenOver: a previous run of the agent left this post-copy (its
	// stream broke with that run): it starts paused.
	takenOver bool
	requests  chan recoverReq
	oob       *qmpx.OOB // nil: no second QMP socket (in-band commands)

	resumed     chan struct{} // closed once the stream was first resumed
	resumedOnce sync.Once

	mu          sync.Mutex
	leftForNext bool        // wait ended with the agent: the next run resumes the post-copy
	restarted   bool        // the source agent restarted (Recover.Restarted)
	conn        Conn        // the connection a resumed channel is taken from
	channel     chan Stream // the resumed channel, once RecoverReady was sent
	ctl         Stream      // the control stream of the last recovery
	count       int         // recoveries taken
}

func newIncomingPostcopy(ctx context.Context, id, source string, spec api.VMSpec, h handoff.Handoff, g Guest, dir string,
	oob *qmpx.OOB, poll time.Duration, log *slog.Logger) *incomingPostcopy {
	p := &incomingPostcopy{id: id, source: source, spec: spec, handoff: h, guest: g, dir: dir, oob: oob, poll: poll, log: log, pipes: ctx,
		requests: make(chan recoverReq, 1), running: func() wire.Running { return wire.Running{} }, resumed: make(chan struct{})}
	if p.oob == nil {
		p.oob = dialOOB(ctx, g, log)
	}
	return p
}

// dialOOB opens g's out-of-band QMP connection, nil if it cannot: QEMU
// negotiates it in its main thread, so open it while that thread answers
// (before the stream can break: at launch), and keep it.
func dialOOB(ctx context.Context, g Guest, log *slog.Logger) *qmpx.OOB {
	d, ok := g.(oobDialer)
	if !ok {
		return nil
	}
	var oob *qmpx.OOB
	err := bounded(ctx, 5*time.Second, func(ctx context.Context) error {
		var err error
		oob, err = d.DialOOB(ctx)
		return err
	})
	if err != nil {
		log.Warn("no out-of-band qmp: a post-copy recovery waits for qemu's main thread", "err", err)
		return nil
	}
	return oob
}

// close ends what the post-copy holds (the resumed channel's pipe ends
// with its context). The out-of-band connection stays with QEMU for the
// next run if this one stops with the post-copy unfinished.
func (p *incomingPostcopy) close() {
	p.mu.Lock()
	if p.ctl != nil {
		p.ctl.Close()
	}
	keep := p.leftForNext
	p.mu.Unlock()
	if p.oob == nil {
		return
	}
	if keep {
		p.oob.Close()
		return
	}
	releaseOOB(p.pipes, p.oob, p.log)
}

// releaseOOB lets go of an out-of-band connection for good (QEMU keeps it
// otherwise, see qmpx.NegotiateOOB), bounded: QEMU's main thread answers.
func releaseOOB(ctx context.Context, oob *qmpx.OOB, log *slog.Logger) {
	if err := bounded(context.WithoutCancel(ctx), 2*time.Second, oob.Release); err != nil {
		log.Warn("releasing the out-of-band qmp connection", "err", err)
	}
}

// control is the control stream of the last recovery (nil: none yet).
func (p *incomingPostcopy) control() Stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ctl
}

// wait returns once the incoming migration completed, taking recoveries
// meanwhile; an error if it failed or QEMU exited; ctx's error when the
// agent stops (its successor takes the post-copy over).
func (p *incomingPostcopy) wait(ctx context.Context) (err error) {
	defer func() {
		p.mu.Lock()
		p.leftForNext = err != nil && ctx.Err() != nil
		p.mu.Unlock()
	}()
	events := p.guest.Events(ctx)
	var oobEvents <-chan qmpx.Event
	if p.oob != nil {
		oobEvents = p.oob.Events()
	}
	tick := time.NewTicker(p.poll)
	defer tick.Stop()
	paused := false
	var unpaused chan struct{} // closed once the traffic held during a pause is released
	hold := func() {
		if !paused {
			paused = true
			p.pause(context.WithoutCancel(ctx))
		}
	}
	if p.takenOver {
		// Held by the previous run (a graceful stop) or by the dataplane's
		// guard (it died): released once QEMU says the stream runs again,
		// whichever status this run sees first (a quick Recover may
		// resume it before a poll ever sees postcopy-paused). Held before
		// this run's guard is armed, so no frame passes in between.
		hold()
	}
	p.pauser(ctx, pauseWait, func(pz handoff.Pauser, ctx context.Context, spec api.VMSpec) error {
		return pz.Watch(ctx, spec, p.prior)
	})
	defer func() {
		if ctx.Err() != nil && !paused {
			// The agent stops: the stream ends with it, and the guest
			// stalls. Its traffic is held (the pinned ring keeps what
			// comes) before the guard goes, for the next run to release.
			hold()
		}
		if unpaused != nil {
			<-unpaused // the account that follows counts the release
		}
		p.pauser(context.WithoutCancel(ctx), unpauseWait, handoff.Pauser.Unwatch)
	}()
	resumed := func() {
		if !paused {
			return
		}
		paused = false
		if unpaused != nil {
			<-unpaused
		}
		unpaused = make(chan struct{})
		go func(done chan struct{}) {
			defer close(done)
			p.unpause(context.WithoutCancel(ctx))
		}(unpaused)
	}
	for {
		st, desc := "", ""
		select {
		case <-p.guest.Done():
			return fmt.Errorf("%w: destination qemu exited", api.ErrQEMU)
		case <-ctx.Done():
			return ctx.Err()
		case r := <-p.requests:
			if err := p.take(ctx, r); err != nil {
				p.log.Warn("post-copy recovery refused", "attempt", r.msg.Attempt, "err", err)
				wire.WriteMessage(r.ctl, wire.Abort{Reason: truncate(err.Error())})
				r.ctl.CloseWrite()
				r.ctl.Close()
			}
			continue
		case e, ok := <-events:
			if !ok {
				events = nil
			}
			st = eventStatus(e)
		case e, ok := <-oobEvents:
			if !ok {
				oobEvents = nil
			}
			st = eventStatus(e)
		case <-tick.C:
			// Bounded: QEMU's main thread may be blocked on a missing page.
			_ = bounded(ctx, 2*time.Second, func(ctx context.Context) error {
				var err error
				st, desc, err = migrateStatus(ctx, p.guest)
				return err
			})
		}
		switch st {
		case qmpcmd.MigrationCompleted:
			resumed()
			return nil
		case qmpcmd.MigrationFailed, qmpcmd.MigrationCancelled:
			return fmt.Errorf("%w: incoming post-copy %s: %s", api.ErrQEMU, st, desc)
		case qmpcmd.MigrationPostcopyPaused:
			if !paused {
				p.log.Warn("post-copy paused: the stream from the source broke; holding the guest's traffic until it resumes")
			}
			hold()
		case qmpcmd.MigrationPostcopyActive:
			if paused {
				p.log.Info("post-copy resumed")
			}
			resumed()
		}
	}
}

// Bounds of the hand-off's Pauser calls: Unpause waits for the release of
// what a pause held, paced (about half the pause).
const (
	pauseWait   = 5 * time.Second
	unpauseWait = 2 * time.Minute
)

// pause holds the guest's traffic while it is stuck (handoff.Pauser).
func (p *incomingPostcopy) pause(ctx context.Context) { p.pauser(ctx, pauseWait, handoff.Pauser.Pause) }

// pauser runs one of the hand-off's Pauser methods, bounded, if it has them.
func (p *incomingPostcopy) pauser(ctx context.Context, d time.Duration, fn func(handoff.Pauser, context.Context, api.VMSpec) error) {
	pz, ok := p.handoff.(handoff.Pauser)
	if !ok {
		return
	}
	if err := bounded(ctx, d, func(ctx context.Context) error { return fn(pz, ctx, p.spec) }); err != nil {
		p.log.Warn("hand-off", "err", err)
	}
}

// unpause releases what pause held, in order (its wait is the release's).
func (p *incomingPostcopy) unpause(ctx context.Context) {
	p.pauser(ctx, unpauseWait, handoff.Pauser.Unpause)
}

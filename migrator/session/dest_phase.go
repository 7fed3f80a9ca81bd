package session

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// channel is one QEMU stream for a destination session.
type channel struct {
	index uint16
	st    Stream
	coded bool // the stream is package pagecode's (KindQEMUCoded)
}

// dest is one destination session.
type dest struct {
	srv   *Server
	cfg   DestConfig
	hello wire.Hello
	conn  Conn
	ctl   Stream
	log   *slog.Logger
	rec   *record
	chans chan channel
	// codecErr is why a coded QEMU channel was refused (a page that did
	// not match its name, a malformed stream); nil if none was.
	codecErr atomic.Pointer[error]
	flush    chan Stream

	guest    Guest
	dir      string            // the VM's directory (sockets)
	pipes    context.Context   // bounds QEMU's channel pipes
	oob      *qmpx.OOB         // out-of-band QMP, opened at launch (post-copy recovery); nil: none
	pc       *incomingPostcopy // the post-copy under way, once the guest runs here
	postcopy bool              // the guest started here with the incoming migration in post-copy
	commitAt time.Time         // when Commit arrived: the destination's part of the pause starts
	contAt   time.Time         // when cont returned, or QEMU started the guest itself: the guest runs here
	readyAt  time.Time         // when its QEMU was seen ready for cont, or started the guest itself
	listenAt time.Time         // when its QEMU reported post-copy active (its discards done)

	mu     sync.Mutex // guards phase and reason: status requests read them
	phase  destPhase
	reason string // why it failed
}

func newDest(s *Server, c Conn, st Stream, h wire.Hello) *dest {
	return &dest{
		srv: s, cfg: s.cfg, hello: h, conn: c, ctl: st,
		log:   s.log.With("migration", h.ID, "vm", h.Spec.Name, "from", h.Source),
		chans: make(chan channel, 32),
		flush: make(chan Stream, 1),
	}
}

// destPhase is how far a destination session has come. It moves through
// enter, along destNext; a status request reads it from another
// goroutine, so it is guarded by dest.mu.
type destPhase uint8

const (
	// destHello: a Hello was taken; nothing reserved yet.
	destHello destPhase = iota
	// destAdmitted: the agent reserved the VM's name and addresses.
	destAdmitted
	// destPrepared: the hand-off was asked to hold the VM's packets
	// (Prepare); QEMU starts waiting for the stream.
	destPrepared
	// destCommitted: the source's Commit arrived: the guest starts here
	// once QEMU has the whole state.
	destCommitted
	// destRunning: the guest runs here.
	destRunning
	// destFailed: over without the guest running here (refused, failed,
	// aborted); it never will.
	destFailed
)

func (p destPhase) String() string {
	switch p {
	case destHello:
		return "hello"
	case destAdmitted:
		return "admitted"
	case destPrepared:
		return "prepared"
	case destCommitted:
		return "committed"
	case destRunning:
		return "running"
	case destFailed:
		return "failed"
	}
	return "destPhase(?)"
}

// destNext lists the phases each phase may move to: forward one step, or
// to failed from anywhere before running.
var destNext = map[destPhase][]destPhase{
	destHello:     {destAdmitted, destFailed},
	destAdmitted:  {destPrepared, destFailed},
	destPrepared:  {destCommitted, destFailed},
	destCommitted: {destRunning, destFailed},
}

// status is the answer to a status request about a session in phase p.
func (p destPhase) status() string {
	switch p {
	case destRunning:
		return wire.StatusRunning
	case destFailed:
		return wire.StatusFailed
	}
	return wire.StatusPending
}

// enter moves the session to p, with reason (for failed), and reports
// whether it did: false when p cannot follow the current phase.
func (d *dest) enter(p destPhase, reason string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, next := range destNext[d.phase] {
		if next == p {
			d.log.Debug("destination phase", "from", d.phase, "to", p)
			d.phase, d.reason = p, reason
			return true
		}
	}
	return false
}

// state is the session's phase and, once failed, why.
func (d *dest) state() (destPhase, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.phase, d.reason
}

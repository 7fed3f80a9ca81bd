package verify

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Sample is what happened to one test packet. Sent and Received carry
// monotonic clock readings when they come from a Sender.
type Sample struct {
	Seq          uint32        // sender sequence number, 0, 1, 2, ...
	Sent         time.Time     // when it was sent
	Received     time.Time     // first reply's arrival; zero if lost
	Copies       int           // replies received (more than 1: duplicated)
	ReflectorSeq uint32        // the reflector's sequence number in the first reply
	RTT          time.Duration // round trip without the time spent in the reflector
	Arrival      int           // order of the first reply's arrival, 0, 1, ...; -1 if lost
}

// Lost reports whether no reply arrived.
func (s Sample) Lost() bool { return s.Copies == 0 }

// A late wake-up (Go's timers are good to about a millisecond) makes the
// pacer send what is due back to back, as long as that is no more than
// maxBurst packets or maxLag of schedule; further behind, it drops the
// backlog and restarts its schedule from now.
const (
	maxBurst = 4
	maxLag   = 2 * time.Millisecond
)

// record is a Sample in compact form, times in ns since Sender.start.
type record struct {
	sent, recv, rtt int64
	rseq            uint32
	copies          int32
	arrival         int32
}

// Sender is a running TWAMP-light Session-Sender.
type Sender struct {
	log   *slog.Logger
	cfg   Config
	conn  *net.UDPConn
	start time.Time
	now   func() time.Time // Stop's clock for late replies: time.Now, in tests a fake

	mu        sync.Mutex
	recs      []record // index = sender seq
	arrivals  int32
	strays    int
	lastReply time.Time // the last matched reply's, copies too, by now

	cancel   context.CancelFunc
	sendDone chan struct{}
	recvDone chan struct{}
	stopOnce sync.Once
	samples  []Sample
}

// Start opens a UDP socket towards cfg.Target (inside cfg.Netns if set)
// and starts sending at cfg.Rate until ctx ends or Stop is called. log may
// be nil.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Sender, error) {
	return start(ctx, cfg, log, time.Now)
}

// start is Start with the clock Stop measures Drain and DrainMax on.
func start(ctx context.Context, cfg Config, log *slog.Logger, now func() time.Time) (*Sender, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("verify config: %w", err)
	}
	conn, err := dialIn(cfg.Netns, net.UDPAddrFromAddrPort(cfg.Target))
	if err != nil {
		return nil, fmt.Errorf("opening test socket: %w", err)
	}
	_ = conn.SetReadBuffer(1 << 20)
	ctx, cancel := context.WithCancel(ctx)
	s := &Sender{
		log: log, cfg: cfg, conn: conn, start: time.Now(), now: now,
		recs:     make([]record, 0, min(cfg.Rate*120, 1<<20)),
		cancel:   cancel,
		sendDone: make(chan struct{}),
		recvDone: make(chan struct{}),
	}
	go s.receive()
	go s.send(ctx)
	log.Debug("verify sender started", "target", cfg.Target, "rate", cfg.Rate, "size", cfg.Size, "netns", cfg.Netns)
	return s, nil
}

// Counts returns how many packets were sent and answered so far.
func (s *Sender) Counts() (sent, received int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs), int(s.arrivals)
}

// Stop stops sending, waits for late replies, closes the socket and
// returns every sent packet in sequence order. It waits until every sent
// packet is answered, or no reply has arrived for Config.Drain (counted
// from the last reply or from the call, whichever is later), or
// Config.DrainMax has passed since the call, whichever comes first: replies
// that keep trickling in, such as the frames a rollback re-injects at a
// bounded rate, count as received, not lost. A reply waiting in the socket
// has arrived, even if this process has not yet run to read it (a busy
// machine): Stop does not give up as idle while one waits. Later calls
// return the same samples.
func (s *Sender) Stop() []Sample {
	s.stopOnce.Do(func() {
		s.cancel()
		<-s.sendDone
		why := s.drain(s.now())
		s.conn.Close()
		<-s.recvDone
		s.samples = s.build()
		s.log.Debug("verify sender stopped", "sent", len(s.samples), "answered", s.arrivals, "strays", s.strays, "drain_end", why)
	})
	return s.samples
}

// drainPoll is how often drain looks at the counters.
const drainPoll = 10 * time.Millisecond

// drain waits for late replies as Stop describes, from t0 on, and says why
// it stopped waiting.
func (s *Sender) drain(t0 time.Time) string {
	hard := t0.Add(s.cfg.DrainMax)
	for {
		// The clock before the counters: should this goroutine stall in
		// between, a reply taken in meanwhile moves last on rather than
		// now past it.
		now := s.now()
		s.mu.Lock()
		sent, got, last := len(s.recs), int(s.arrivals), s.lastReply
		s.mu.Unlock()
		if got >= sent {
			return "all answered"
		}
		if last.Before(t0) {
			last = t0
		}
		idle := last.Add(s.cfg.Drain)
		switch {
		case !now.Before(hard):
			return "drain max"
		case now.Before(idle):
			time.Sleep(min(drainPoll, idle.Sub(now), hard.Sub(now)))
		case queued(s.conn):
			// Replies came while this process did not run; the receiver
			// is about to take them in.
			time.Sleep(time.Millisecond)
		default:
			return "idle"
		}
	}
}

func (s *Sender) build() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Sample, len(s.recs))
	for i, r := range s.recs {
		out[i] = Sample{Seq: uint32(i), Sent: s.start.Add(time.Duration(r.sent)), Arrival: -1}
		if r.copies > 0 {
			out[i].Received = s.start.Add(time.Duration(r.recv))
			out[i].Copies = int(r.copies)
			out[i].ReflectorSeq = r.rseq
			out[i].RTT = time.Duration(r.rtt)
			out[i].Arrival = int(r.arrival)
		}
	}
	return out
}

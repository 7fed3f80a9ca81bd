package prefetch

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
)

// Injector sits on the return path in front of the source QEMU (Attach),
// learns the main channel's progress (Observe) and, once started, adds
// requests for a list of ranges between the destination's messages.
type Injector struct {
	cfg  Config
	log  *slog.Logger
	fwd  atomic.Int64  // main channel bytes (Observe)
	kick chan struct{} // Observe or Start: look at the window again

	mu sync.Mutex // serializes writes to w: whole messages only
	w  io.Writer  // QEMU's end of the stream (nil: none now)
	// The destination's message being read; raw: the parser gave up and
	// everything passes through as bytes.
	msg []byte
	raw bool
	// After RECV_BITMAP (a resumed post-copy) the destination writes the
	// block's received bitmap as bytes, not as a message: its be64 size
	// (bitmapSize, being read while inBitmap), the bitmap and a be64 end
	// mark (rawLeft: bytes of them still to pass as they are).
	inBitmap   bool
	bitmapSize []byte
	rawLeft    uint64
	// The block the destination last named, and the one QEMU reads a
	// plain REQ_PAGES against ("" none, unknownBlock: not sure).
	destBlock, qemuBlock string
	injected             bool // something was injected on this stream
	attached             int  // streams attached: more than one is a resumed post-copy

	started, done bool
	blocks        blockSet
	ranges        []Range  // valid, hottest first
	sorted        []placed // ranges by block and start (classify)
	before        []uint64 // bytes planned before ranges[i]; the last: all
	next          int      // ranges[next] is being injected, from off
	off           uint64
	due           int64       // fwd by which every injected chunk is served
	queue         []queued    // requests at QEMU not known served, in its order
	tracking      atomic.Bool // a plan with ranges, or discards: Sent matters
	dirty         dirtySet    // pages still to be sent (Discard, Sent)
	ra            []readahead // the destination's sequential requests
	raTurn        int         // the stream whose turn it is to read ahead
	faults        int64       // the destination's requests so far
	stopped       string      // why injection stopped ("" it did not)
	stats         Stats

	trace func(kind segment, in, out []byte) // tests: what went where
}

// segment tells apart what an Injector writes to QEMU (tests).
type segment int

const (
	segPass    segment = iota // a destination's message, as it came
	segRewrite                // a destination's REQ_PAGES, naming its block
	segInject                 // an injected request
	segRaw                    // bytes passed through after the parser gave up
)

// unknownBlock is no block's name (QEMU's are C strings).
const unknownBlock = "\x00?"

// New returns an Injector that passes the return path through until
// Start; log may be nil.
func New(cfg Config, log *slog.Logger) (*Injector, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Injector{cfg: cfg, log: log, kick: make(chan struct{}, 1),
		msg: make([]byte, 0, headerLen+maxPayload), stats: Stats{Refused: map[string]int64{}}}, nil
}

// Attach makes w, a stream's connection to the source QEMU, the return
// path's destination, and returns what writes the destination's bytes to
// it. A second Attach is a resumed post-copy stream: no
// more injection, but the destination's plain REQ_PAGES still name its
// block where QEMU might read them against another.
func (in *Injector) Attach(w io.Writer) *Writer {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.attached++; in.attached > 1 {
		// Which of the old stream's messages QEMU read is unknown.
		in.stop("post-copy stream resumed")
		in.qemuBlock = unknownBlock
	}
	in.w, in.msg, in.raw, in.injected = w, in.msg[:0], false, false
	in.inBitmap, in.bitmapSize, in.rawLeft = false, in.bitmapSize[:0], 0
	return &Writer{in: in, gen: in.attached}
}

// Observe counts n bytes the main channel carried to the destination.
func (in *Injector) Observe(n int) {
	in.fwd.Add(int64(n))
	in.poke()
}

func (in *Injector) poke() {
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// Start validates blocks and ranges and injects the valid ranges, in
// order, until they are all asked for, the return path stops or ctx ends.
func (in *Injector) Start(ctx context.Context, blocks []Block, ranges []Range) {
	in.mu.Lock()
	in.plan(blocks, ranges)
	in.mu.Unlock()
	go func() {
		for in.pump() {
			select {
			case <-ctx.Done():
				in.mu.Lock()
				in.stop("session ended")
				in.mu.Unlock()
				return
			case <-in.kick:
			}
		}
	}()
}

// Stats returns the account so far.
func (in *Injector) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.stats
	s.Refused = maps.Clone(in.stats.Refused)
	if in.started && !in.done || in.raw {
		s.Stopped = in.stopped
	}
	return s
}

// StoppedReturnPathShut is Stats.Stopped when the destination ended the
// post-copy (it shuts its return path once it has every page): what was
// not asked for by then came with QEMU's background scan.
const StoppedReturnPathShut = "the destination shut the return path"

// stop ends injection for why (the first reason stays).
func (in *Injector) stop(why string) {
	if in.stopped == "" {
		in.stopped = why
		if in.started && !in.done {
			in.log.Info("working-set prefetch stopped", "why", why, "pages", in.stats.Pages, "sent", in.stats.Sent)
		}
	}
}

// Skip records why nothing is injected (no working set, no RAM blocks).
func (in *Injector) Skip(why string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.started = true
	in.stop(why)
}

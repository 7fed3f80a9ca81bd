package pagecode

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/nfhandoff/nfhandoff/migrator/stream"
)

// EncoderConfig configures an Encoder.
type EncoderConfig struct {
	// Gang is the content store this channel shares with others; nil: one
	// of its own, of Key and Slots.
	Gang  *Gang
	Key   Key
	Slots int  // store slots; 0: DefaultStoreBytes worth
	Mode  Mode // how eagerly to code
	// Multifd reads a multifd channel (package stream's MultifdWriter)
	// rather than the main channel.
	Multifd bool
	// Tamper, a test knob, alters the Tamper-th coded page (1-based)
	// after naming it, as a fault on the way would: the destination
	// refuses it. 0 in production.
	Tamper int64
}

func (c *EncoderConfig) setDefaults() {
	if c.Slots == 0 {
		c.Slots = DefaultStoreBytes / PageSize
	}
}

func (c *EncoderConfig) validate() error {
	if c.Slots < minSlots || c.Slots > MaxStoreSlots {
		return fmt.Errorf("store of %d slots (want %d to %d)", c.Slots, minSlots, MaxStoreSlots)
	}
	if c.Mode != ModeAuto && c.Mode != ModeAlways {
		return fmt.Errorf("unknown coding mode %d", c.Mode)
	}
	return nil
}

// minSlots keeps a delta's base and its result apart with room to spare.
const minSlots = 16

// Encoder codes the source QEMU's main migration channel onto the agent
// link. Write it what QEMU writes; Close it when QEMU's side ends.
type Encoder struct {
	mu     sync.Mutex
	sw     reader
	namer  namer
	g      *Gang
	stream uint32               // this channel's number in the gang
	seq    uint64               // page frames sent
	prev   map[pageKey]slotName // where the destination's copy of a page is
	link   *countWriter         // the link, counting
	zenc   *zstd.Encoder        // compresses chunks
	chunk  []byte               // frames for the next chunk
	zbuf   []byte
	pol    policy
	// tamper counts down to the page Tamper alters (0: none).
	tamper int64
	log    *slog.Logger

	raw      []byte // QEMU bytes for the next raw frame
	swallow  int    // bytes of a coded page record still to drop
	frame    []byte // scratch
	dbuf     []byte
	tampered []byte // Tamper's copy of the page
	basebuf  []byte // a delta's base
	stats    Stats
	err      error
	left     sync.Once // the gang left
}

// reader is what both of package stream's readers offer.
type reader interface {
	io.WriteCloser
	Summary() stream.Summary
}

type pageKey struct {
	block string
	off   uint64
}

type slotName struct {
	slot int
	name Name
}

// NewEncoder returns an Encoder writing the coded stream to dst; it writes
// the preamble at once. log may be nil.
func NewEncoder(dst io.Writer, cfg EncoderConfig, log *slog.Logger) (*Encoder, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := cfg.Gang
	if g == nil {
		var err error
		if g, err = NewGang(cfg.Key, cfg.Slots); err != nil {
			return nil, err
		}
	}
	link := &countWriter{w: dst}
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false), zstd.WithSingleSegment(true), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	e := &Encoder{link: link, zenc: zenc, chunk: make([]byte, chunkRoom, 64<<10), zbuf: make([]byte, chunkRoom, 64<<10), namer: newNamer(g.key), g: g, stream: g.join(), basebuf: make([]byte, PageSize),
		prev: make(map[pageKey]slotName), pol: policy{mode: cfg.Mode}, tamper: cfg.Tamper, log: log,
		raw: make([]byte, 0, maxRaw), frame: make([]byte, 0, frameHead+PageSize),
		dbuf: make([]byte, 0, maxDelta+64)}
	if cfg.Multifd {
		e.sw = stream.NewMultifdWriter(sink{e}, visitor{e}, log)
	} else {
		e.sw = stream.NewWriter(sink{e}, visitor{e}, log)
	}
	p := append([]byte(magic), version)
	p = append(p, g.key[:]...)
	p = append(p, g.id[:]...)
	p = binary.AppendUvarint(p, uint64(g.m.slots()))
	link.pre = binary.AppendUvarint(p, uint64(e.stream))
	return e, nil
}

// Write codes p, QEMU's next bytes, and sends them on.
func (e *Encoder) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return 0, e.err
	}
	e.stats.In += int64(len(p))
	e.sw.Write(p) // lenient: its only errors are sink's, kept in e.err
	e.flush()
	if e.err != nil {
		return 0, e.err
	}
	return len(p), nil
}

// Close ends the coded stream cleanly (QEMU's side ended) and leaves the
// gang. It does not close dst.
func (e *Encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sw.Close()
	e.flushRaw()
	e.put([]byte{kindEnd})
	e.flush()
	e.left.Do(func() { e.g.leave(e.stream, e.err != nil) })
	return e.err
}

// Abandon leaves the gang without ending the stream (it broke): what the
// destination did not acknowledge is forgotten. After Close it does
// nothing.
func (e *Encoder) Abandon() {
	e.left.Do(func() { e.g.leave(e.stream, true) })
}

// Stats is what the encoder did so far.
func (e *Encoder) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Out = e.link.n
	return s
}

// Ack records the destination's acknowledgement of this channel's page
// frames through seq (BackReader's), for the gang.
func (e *Encoder) Ack(seq uint64) { e.g.Ack(e.stream, seq) }

// Summary is what the stream reader saw (why it could not code, if so).
func (e *Encoder) Summary() stream.Summary { return e.sw.Summary() }

// flushRaw sends the pending QEMU bytes as a raw frame.
func (e *Encoder) flushRaw() {
	if len(e.raw) == 0 {
		return
	}
	e.put(binary.AppendUvarint(append(e.frame[:0], kindRaw), uint64(len(e.raw))))
	e.put(e.raw)
	e.raw = e.raw[:0]
}

// sink receives the stream reader's output: QEMU's bytes, less the page
// records the visitor has coded.
type sink struct{ e *Encoder }

func (s sink) Write(b []byte) (int, error) {
	e := s.e
	n := len(b)
	if e.swallow > 0 {
		k := min(e.swallow, len(b))
		e.swallow -= k
		b = b[k:]
	}
	for len(b) > 0 {
		k := min(maxRaw-len(e.raw), len(b))
		e.raw = append(e.raw, b[:k]...)
		b = b[k:]
		if len(e.raw) == maxRaw {
			e.flushRaw()
		}
	}
	return n, nil
}

// visitor codes the pages the stream reader finds.
type visitor struct{ e *Encoder }

func (v visitor) Event(stream.Event) {}

func (v visitor) Page(p stream.Page) {
	e := v.e
	if p.Zero || e.err != nil {
		return // a ZERO record is 9 bytes already
	}
	e.stats.Pages++
	if !e.pol.coding() {
		e.stats.Raw++
		return
	}
	// The record's bytes come next through sink: its header goes raw,
	// its payload as a page frame.
	e.raw = append(e.raw, p.Header...)
	e.swallow = len(p.Header) + len(p.Data)
	e.flushRaw()
	e.code(pageKey{p.Block, p.Offset}, p.Data)
}

package stream

import (
	"io"
	"log/slog"
	"slices"
	"sync"
)

// Option changes how a reader behaves.
type Option func(*options)

type options struct{ strict bool }

// Strict makes malformed input an error of Write (and truncation one of
// Close) instead of a switch to opaque pass-through. The bytes before the
// error are forwarded; nothing after it is.
func Strict() Option { return func(o *options) { o.strict = true } }

func collect(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Writer reads QEMU's main migration channel as it is written through to
// dst, byte for byte. It is safe to call Summary while another goroutine
// writes.
type Writer struct {
	mu sync.Mutex
	m  machine

	// RAM: blocks from MEM_SIZE, the block records without CONTINUE
	// named last (it carries across sections), the record being read.
	blocks   map[string]*ramBlock
	cur      *ramBlock
	word     uint64
	memLeft  uint64
	memName  string
	ramID    uint32
	ramSeen  bool
	ignShare bool // x-ignore-shared: MEM_SIZE lists each block's address

	// The element being read.
	secType  byte
	secID    uint32
	secName  string
	subName  string
	capsLeft uint32
	cmd      uint16
	elemAt   int64
}

type ramBlock struct {
	name string
	used uint64
}

// NewWriter returns a Writer forwarding to dst and reporting to v (nil:
// count only). log may be nil.
func NewWriter(dst io.Writer, v Visitor, log *slog.Logger, opts ...Option) *Writer {
	w := &Writer{blocks: map[string]*ramBlock{}}
	w.m = newMachine(dst, w, v, log, collect(opts).strict)
	w.m.sum.Channel = -1
	w.m.st, w.m.need = stHeader, 8
	return w
}

// Write parses p and forwards it to dst. It returns dst's error; in the
// Strict mode also the first parse error, wrapping ErrMalformed.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m.write(p)
}

// Close forwards a record still held (the stream ended inside it) and
// notes a truncated stream in Summary. It does not close dst.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m.close(stateName)
}

// Summary is what the Writer has seen so far.
func (w *Writer) Summary() Summary {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.m.sum
	s.Blocks = slices.Clone(s.Blocks)
	return s
}

// opaque stops following; refused says page coding cannot follow.
func (w *Writer) opaque(reason string, refused bool) error {
	w.m.goOpaque(reason, refused)
	return nil
}

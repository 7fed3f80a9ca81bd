package pagecode

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
)

// DecoderConfig configures a Decoder.
type DecoderConfig struct {
	// Stores holds the gangs' stores, shared by their channels' decoders;
	// nil: a store of this decoder's own, of at most MaxSlots.
	Stores *Stores
	// MaxSlots bounds a store of the decoder's own; 0: MaxStoreSlots.
	MaxSlots int
}

// Decoder rebuilds QEMU's migration stream from the coded stream, for the
// destination QEMU.
type Decoder struct {
	in     *bufio.Reader
	stores *Stores
	log    *slog.Logger
	gs     *gangStore
	leave  func()
	stream atomic.Uint32 // in the gang (0 until the preamble)
	seq    atomic.Uint64 // page frames processed
	nm     namer
	link   *countReader
	raw    *bufio.Reader // the link: the preamble, then zstd's input
	chunks *chunkReader
	page   []byte
	// scratch holds a delta (at most a page)
	scratch []byte

	mu    sync.Mutex
	stats Stats
}

// NewDecoder returns a Decoder reading the coded stream from r. log may be
// nil.
func NewDecoder(r io.Reader, cfg DecoderConfig, log *slog.Logger) *Decoder {
	if cfg.MaxSlots == 0 {
		cfg.MaxSlots = MaxStoreSlots
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stores := cfg.Stores
	if stores == nil {
		stores = NewStores(cfg.MaxSlots)
	}
	link := &countReader{r: r}
	raw := bufio.NewReaderSize(link, 64<<10)
	return &Decoder{in: raw, link: link, raw: raw, stores: stores, log: log, page: make([]byte, PageSize), scratch: make([]byte, PageSize)}
}

// Stats is what the decoder did so far.
func (d *Decoder) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.In = d.link.n.Load()
	return s
}

func (d *Decoder) count(f func(*Stats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
}

// WriteTo writes QEMU's stream to w until the coded stream's end frame. A
// stream that ends without one returns io.ErrUnexpectedEOF; one that
// breaks the format, ErrMalformed; a page that does not match its name,
// ErrMismatch. Nothing after such an error reaches w.
func (d *Decoder) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	out := bufio.NewWriterSize(cw, 256<<10)
	err := d.run(out)
	if d.leave != nil {
		d.leave()
	}
	if d.chunks != nil {
		d.chunks.close()
	}
	if err == nil {
		err = out.Flush()
	}
	return cw.n, err
}

func (d *Decoder) run(out *bufio.Writer) error {
	if err := d.preamble(); err != nil {
		return err
	}
	for {
		// Hand QEMU what it has before waiting for more.
		if d.in.Buffered() == 0 {
			if err := out.Flush(); err != nil {
				return err
			}
		}
		kind, err := d.in.ReadByte()
		if err != nil {
			return d.unexpected(err)
		}
		if kind == kindEnd {
			if err := out.Flush(); err != nil {
				return err
			}
			return d.trailer()
		}
		if err := d.frame(kind, out); err != nil {
			return err
		}
	}
}

// trailer reads the link to its end after the end frame: the compressor's
// epilogue, and nothing else.
func (d *Decoder) trailer() error {
	var b [1]byte
	n, err := io.ReadFull(d.in, b[:])
	switch {
	case n > 0:
		return fmt.Errorf("%w: bytes after the end frame", ErrMalformed)
	case errors.Is(err, io.EOF):
		return nil
	}
	return d.unexpected(err)
}

func (d *Decoder) preamble() error {
	var p [len(magic) + 1 + len(Key{}) + len(GangID{})]byte
	if _, err := io.ReadFull(d.in, p[:]); err != nil {
		return d.unexpected(err)
	}
	if string(p[:len(magic)]) != magic {
		return fmt.Errorf("%w: no %s magic (% x)", ErrMalformed, magic, p[:len(magic)])
	}
	if v := p[len(magic)]; v != version {
		return fmt.Errorf("%w: version %d, want %d", ErrMalformed, v, version)
	}
	slots, err := d.uvarint("store size", MaxStoreSlots)
	if err != nil {
		return err
	}
	if slots < minSlots {
		return fmt.Errorf("%w: store of %d slots", ErrMalformed, slots)
	}
	stream, err := d.uvarint("stream", 1<<32-1)
	if err != nil {
		return err
	}
	key := Key(p[len(magic)+1:])
	if d.gs, d.leave, err = d.stores.join(GangID(p[len(magic)+1+len(key):]), slots); err != nil {
		return err
	}
	d.stream.Store(uint32(stream))
	d.nm = newNamer(key)
	d.chunks = &chunkReader{d: d}
	d.in = bufio.NewReaderSize(d.chunks, 256<<10)
	return nil
}

// uvarint reads a uvarint no larger than most.
func (d *Decoder) uvarint(what string, most uint64) (int, error) {
	v, err := binary.ReadUvarint(d.in)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrMalformed, what, d.unexpected(err))
	}
	if v > most {
		return 0, fmt.Errorf("%w: %s %d (at most %d)", ErrMalformed, what, v, most)
	}
	return int(v), nil
}

func (d *Decoder) slot(what string) (int, error) {
	return d.uvarint(what, uint64(d.gs.st.slots()-1))
}

// Progress is the decoder's stream in its gang and the page frames
// processed so far: the source's Gang.Ack.
func (d *Decoder) Progress() (stream uint32, seq uint64) { return d.stream.Load(), d.seq.Load() }

func (d *Decoder) name() (Name, error) {
	var n Name
	_, err := io.ReadFull(d.in, n[:])
	return n, d.unexpected(err)
}

// unexpected turns the end of the link inside the stream into
// io.ErrUnexpectedEOF, and an error of the decompressor (not the link's)
// into ErrMalformed.
func (d *Decoder) unexpected(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrMalformed):
		return err
	case errors.Is(err, io.EOF):
		return io.ErrUnexpectedEOF
	case d.link.err == nil || !errors.Is(err, d.link.err):
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return err
}

// countReader counts the link's bytes and keeps its error (read on the
// decoding goroutine only).
type countReader struct {
	r   io.Reader
	n   atomic.Int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// countWriter counts what it writes; an encoder's writes pre (the
// preamble) before its first bytes.
type countWriter struct {
	w   io.Writer
	n   int64
	pre []byte
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.pre != nil {
		n, err := c.w.Write(c.pre)
		c.n += int64(n)
		if err != nil {
			return 0, err
		}
		c.pre = nil
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

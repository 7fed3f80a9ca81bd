package stream

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// Multifd wire format (multifd.c, QEMU 7.2).
const (
	multifdMagic      = 0x11223344
	multifdVersion    = 1
	multifdHelloLen   = 64   // MultiFDInit_t
	multifdHeaderLen  = 1344 // MultiFDPacket_t with 128 offsets (512 KiB of 4 KiB pages)
	multifdMaxPages   = 128
	multifdNameLen    = 256
	multifdFlagSync   = 1 << 0
	multifdFlagComp   = 0xe // bits 1-3: zlib, zstd
	multifdOffsetsPos = 320
)

// Multifd states.
const (
	mfHello state = iota
	mfHeader
	mfPageDone
)

// MultifdWriter reads one multifd channel as it is written through to
// dst, byte for byte: its handshake, then packets of a header and
// normal_pages pages. Zero pages travel on the main channel.
type MultifdWriter struct {
	mu      sync.Mutex
	m       machine
	block   string
	offsets [multifdMaxPages]uint64
	pages   int // pages of the current packet
	next    int // the next page's index
	channel uint8
}

// NewMultifdWriter returns a MultifdWriter forwarding to dst and reporting
// to v (nil: count only). log may be nil.
func NewMultifdWriter(dst io.Writer, v Visitor, log *slog.Logger, opts ...Option) *MultifdWriter {
	w := &MultifdWriter{}
	w.m = newMachine(dst, w, v, log, collect(opts).strict)
	w.m.sum.Channel = -1
	w.m.st, w.m.need = mfHello, multifdHelloLen
	return w
}

// Write parses p and forwards it to dst; see Writer.Write.
func (w *MultifdWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m.write(p)
}

// Close forwards a page still held and notes a truncated stream.
func (w *MultifdWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m.close(func(st state) string {
		return [...]string{"handshake", "packet header", "page"}[st]
	})
}

// Summary is what the MultifdWriter has seen so far.
func (w *MultifdWriter) Summary() Summary {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m.sum
}

func (w *MultifdWriter) step(st state, b []byte) error {
	m := &w.m
	switch st {
	case mfHello:
		if be32(b) != multifdMagic || be32(b[4:]) != multifdVersion {
			return malformedf("multifd handshake magic %#x version %d", be32(b), be32(b[4:]))
		}
		w.channel = b[24]
		m.sum.Channel = int(w.channel)
		return w.nextPacket()
	case mfHeader:
		return w.header(b)
	case mfPageDone:
		rec := m.record()
		m.v.Page(Page{Block: w.block, Offset: w.offsets[w.next], Data: rec, Multifd: true, Channel: w.channel})
		m.sum.Pages++
		m.release()
		w.next++
		return w.nextPage()
	}
	return fmt.Errorf("stream: no multifd step for state %d", st)
}

func (w *MultifdWriter) nextPacket() error {
	err := w.m.expect(multifdHeaderLen, mfHeader)
	w.m.clean = true // a channel may end between packets
	return err
}

// header checks a packet header: the destination would fail the migration
// on what is malformed here.
func (w *MultifdWriter) header(b []byte) error {
	m := &w.m
	magic, version, flags := be32(b), be32(b[4:]), be32(b[8:])
	alloc, normal := be32(b[12:]), be32(b[16:])
	if magic != multifdMagic || version != multifdVersion {
		return malformedf("multifd packet magic %#x version %d", magic, version)
	}
	if alloc > multifdMaxPages || normal > alloc {
		return malformedf("multifd packet of %d pages (%d allocated, at most %d)", normal, alloc, multifdMaxPages)
	}
	if flags&multifdFlagComp != 0 {
		w.m.goOpaque(fmt.Sprintf("multifd compression (packet flags %#x)", flags), true)
		return nil
	}
	if flags&^multifdFlagSync != 0 {
		w.m.goOpaque(fmt.Sprintf("unknown multifd packet flags %#x", flags), true)
		return nil
	}
	m.sum.Packets++
	m.v.Event(Event{Kind: EventPacket, Offset: m.offset() - multifdHeaderLen, Len: normal})
	w.pages, w.next = int(normal), 0
	if normal == 0 {
		// Only a sync: next_packet_size is stale here, nothing follows.
		return w.nextPacket()
	}
	name := b[multifdOffsetsPos-multifdNameLen : multifdOffsetsPos]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if len(name) == 0 {
		return malformedf("multifd packet of %d pages without a block name", normal)
	}
	if string(name) != w.block {
		w.block = string(name)
	}
	for i := range w.pages {
		off := be64(b[multifdOffsetsPos+8*i:])
		if off%PageSize != 0 {
			return malformedf("multifd page offset %#x not page-aligned", off)
		}
		w.offsets[i] = off
	}
	return w.nextPage()
}

// nextPage holds the next page so the visitor sees it before it leaves.
func (w *MultifdWriter) nextPage() error {
	if w.next == w.pages {
		return w.nextPacket()
	}
	w.m.holdFrom()
	return w.m.pass(PageSize, mfPageDone)
}

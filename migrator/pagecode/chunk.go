package pagecode

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// After the preamble the link carries chunks: a mode byte, a uvarint
// length and that many bytes of frames, stored or as one zstd frame.
// Each Write of QEMU's bytes ends a chunk, so nothing waits in the
// encoder; a chunk whose compression does not pay goes stored.
const (
	chunkStored byte = 's'
	chunkZstd   byte = 'z'
	// maxChunk bounds a chunk's frames (before compression).
	maxChunk = 1 << 20
	// zstdPays: a compressed chunk must be under this share (%) of its
	// frames, or it goes stored.
	zstdPays = 95
)

// flush hands everything coded so far to the link as a chunk: QEMU's rate
// and downtime estimates come from how fast its socket drains.
func (e *Encoder) flush() {
	e.flushRaw()
	e.emit()
}

// chunkRoom is the room kept before a chunk's frames (and before its
// compressed form) for its header: a mode byte and a uvarint below 2^28.
// The header and the chunk then go to the link in one write: each write
// is a TLS record and a system call on the lanes.
const chunkRoom = 5

// emit sends the chunk.
func (e *Encoder) emit() {
	frames := e.chunk[chunkRoom:]
	if len(frames) == 0 || e.err != nil {
		e.chunk = e.chunk[:chunkRoom]
		return
	}
	mode, buf := chunkStored, e.chunk
	if e.pol.compressing(len(frames)) {
		e.zbuf = e.zenc.EncodeAll(frames, e.zbuf[:chunkRoom])
		pays := (len(e.zbuf)-chunkRoom)*100 < len(frames)*zstdPays
		e.pol.compressed(pays)
		if pays {
			mode, buf = chunkZstd, e.zbuf
		}
	}
	var room [chunkRoom]byte // not e.frame: put's b may be it
	h := binary.AppendUvarint(append(room[:0], mode), uint64(len(buf)-chunkRoom))
	start := chunkRoom - len(h)
	copy(buf[start:], h)
	if _, err := e.link.Write(buf[start:]); err != nil {
		e.err = err
	}
	e.chunk = e.chunk[:chunkRoom]
}

// put adds frame bytes to the chunk, sending it when full; a chunk's
// frames never pass maxChunk (b is at most a raw frame, well below it).
func (e *Encoder) put(b []byte) {
	if e.err != nil {
		return
	}
	if len(e.chunk)-chunkRoom+len(b) > maxChunk {
		e.emit()
	}
	e.chunk = append(e.chunk, b...)
	if len(e.chunk)-chunkRoom >= maxChunk {
		e.emit()
	}
}

// chunkReader yields the frames of the link's chunks.
type chunkReader struct {
	d    *Decoder
	zdec *zstd.Decoder
	comp []byte // a chunk as it came
	dec  []byte // a zstd chunk's frames
	buf  []byte // the chunk's frames (comp or dec)
	off  int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for c.off == len(c.buf) {
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.buf[c.off:])
	c.off += n
	return n, nil
}

// next reads the next chunk. The link ending between chunks is io.EOF.
func (c *chunkReader) next() error {
	d := c.d
	mode, err := d.raw.ReadByte()
	if err != nil {
		return err
	}
	n, err := binary.ReadUvarint(d.raw)
	if err != nil {
		return d.unexpected(err)
	}
	if n == 0 || n > maxChunk+maxChunk/8 {
		return fmt.Errorf("%w: chunk of %d bytes", ErrMalformed, n)
	}
	c.comp = grow(c.comp, int(n))
	if _, err := io.ReadFull(d.raw, c.comp); err != nil {
		return d.unexpected(err)
	}
	c.off = 0
	switch mode {
	case chunkStored:
		c.buf = c.comp
		if n > maxChunk {
			return fmt.Errorf("%w: stored chunk of %d bytes", ErrMalformed, n)
		}
	case chunkZstd:
		if c.zdec == nil {
			if c.zdec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxChunk),
				zstd.WithDecoderLowmem(true)); err != nil {
				return fmt.Errorf("zstd decoder: %w", err)
			}
		}
		out, err := c.zdec.DecodeAll(c.comp, c.dec[:0])
		if err != nil {
			return fmt.Errorf("%w: zstd chunk: %w", ErrMalformed, err)
		}
		if len(out) > maxChunk {
			return fmt.Errorf("%w: zstd chunk of %d bytes", ErrMalformed, len(out))
		}
		c.dec, c.buf = out, out
	default:
		return fmt.Errorf("%w: chunk mode %#x", ErrMalformed, mode)
	}
	return nil
}

func (c *chunkReader) close() {
	if c.zdec != nil {
		c.zdec.Close()
	}
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

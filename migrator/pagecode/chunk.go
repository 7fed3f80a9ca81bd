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

// emit sends the chunk.
func (e *Encoder) emit() {
	if len(e.chunk) == 0 || e.err != nil {
		e.chunk = e.chunk[:0]
		return
	}
	mode, payload := chunkStored, e.chunk
	if e.pol.compressing(len(e.chunk)) {
		e.zbuf = e.zenc.EncodeAll(e.chunk, e.zbuf[:0])
		pays := len(e.zbuf)*100 < len(e.chunk)*zstdPays
		e.pol.compressed(pays)
		if pays {
			mode, payload = chunkZstd, e.zbuf
		}
	}
	h := binary.AppendUvarint(append(e.frame[:0], mode), uint64(len(payload)))
	if _, err := e.link.Write(h); err != nil {
		e.err = err
	} else if _, err := e.link.Write(payload); err != nil {
		e.err = err
	}
	e.chunk = e.chunk[:0]
}

// put adds frame bytes to the chunk, sending it when full.
func (e *Encoder) put(b []byte) {
	if e.err != nil {
		return
	}
	e.chunk = append(e.chunk, b...)
	if len(e.chunk) >= maxChunk {
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

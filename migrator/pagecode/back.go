package pagecode

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// The way back of a coded channel (destination to source) carries QEMU's
// return path (post-copy page requests, its answers) and the decoder's
// acknowledgements, which a gang needs to share content across streams:
//
//	raw  n, n bytes      QEMU's bytes
//	ack  seq             page frames processed through seq
const (
	backRaw byte = 1
	backAck byte = 2
	// maxBackRaw bounds a raw frame on the way back (QEMU's return
	// path messages are small; its reads are up to 32 KiB).
	maxBackRaw = 1 << 20
)

// BackWriter frames the way back at the destination. Write and Ack may be
// called from different goroutines.
type BackWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewBackWriter frames onto w.
func NewBackWriter(w io.Writer) *BackWriter { return &BackWriter{w: w} }

// Write sends QEMU's bytes p.
func (b *BackWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for done := 0; done < len(p); {
		n := min(len(p)-done, maxBackRaw)
		b.buf = append(binary.AppendUvarint(append(b.buf[:0], backRaw), uint64(n)), p[done:done+n]...)
		if _, err := b.w.Write(b.buf); err != nil {
			return done, err
		}
		done += n
	}
	return len(p), nil
}

// Ack sends the count of page frames processed.
func (b *BackWriter) Ack(seq uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = binary.AppendUvarint(append(b.buf[:0], backAck), seq)
	_, err := b.w.Write(b.buf)
	return err
}

// BackReader reads the way back at the source: Read yields QEMU's bytes,
// and each acknowledgement goes to ack.
type BackReader struct {
	r    *bufio.Reader
	ack  func(seq uint64)
	left int // bytes of the current raw frame not yet read
}

// NewBackReader reads frames from r.
func NewBackReader(r io.Reader, ack func(seq uint64)) *BackReader {
	return &BackReader{r: bufio.NewReaderSize(r, 64<<10), ack: ack}
}

// Read returns QEMU's next bytes; io.EOF when the way back ended between
// frames, ErrMalformed for bytes that are not frames.
func (b *BackReader) Read(p []byte) (int, error) {
	for b.left == 0 {
		kind, err := b.r.ReadByte()
		if err != nil {
			return 0, err
		}
		v, err := binary.ReadUvarint(b.r)
		if err != nil {
			return 0, fmt.Errorf("%w: way back: %w", ErrMalformed, eofUnexpected(err))
		}
		switch kind {
		case backRaw:
			if v == 0 || v > maxBackRaw {
				return 0, fmt.Errorf("%w: way back: raw frame of %d bytes", ErrMalformed, v)
			}
			b.left = int(v)
		case backAck:
			b.ack(v)
		default:
			return 0, fmt.Errorf("%w: way back: frame kind %d", ErrMalformed, kind)
		}
	}
	n, err := b.r.Read(p[:min(len(p), b.left)])
	b.left -= n
	if err == io.EOF && b.left > 0 {
		err = fmt.Errorf("%w: way back: %w", ErrMalformed, io.ErrUnexpectedEOF)
	}
	return n, err
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

package wsreport

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// maxSkip bounds the garbage Next skips before it says so.
const maxSkip = 64 << 10

// Scanner reads reports from a byte stream (a virtio-serial port), which
// may hold garbage and torn reports: a guest writes without knowing
// whether anyone listens, and may lie.
type Scanner struct {
	r   *bufio.Reader
	buf []byte
}

// NewScanner reads reports from r.
func NewScanner(r io.Reader) *Scanner {
	return &Scanner{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next report. An error wrapping ErrMalformed says what
// it skipped (garbage, a bad header, a report that did not decode); the
// stream is still usable and the caller calls Next again. Any other error
// is the reader's. A bad header loses its magic, a bad report all its
// length, so the work stays linear in the bytes read.
func (s *Scanner) Next() (Report, error) {
	skipped := 0
	for {
		h, err := s.r.Peek(HeaderLen)
		if err != nil {
			return Report{}, err
		}
		if [4]byte(h[:4]) != Magic {
			k := bytes.IndexByte(h[1:], Magic[0]) + 1 // 0 if none: skip all
			if k == 0 {
				k = len(h)
			}
			s.r.Discard(k)
			if skipped += k; skipped >= maxSkip {
				return Report{}, fmt.Errorf("%w: %d bytes of garbage", ErrMalformed, skipped)
			}
			continue
		}
		if skipped > 0 {
			return Report{}, fmt.Errorf("%w: %d bytes of garbage", ErrMalformed, skipped)
		}
		n, err := Length(h)
		if err != nil {
			s.r.Discard(len(Magic))
			return Report{}, err
		}
		if cap(s.buf) < n || cap(s.buf) > 4*n && cap(s.buf) > 64<<10 {
			s.buf = make([]byte, n) // n is bounded by Length
		}
		b := s.buf[:n]
		if _, err := io.ReadFull(s.r, b); err != nil {
			return Report{}, err
		}
		return Decode(b)
	}
}

package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Stream kinds.
const (
	KindControl = 1 // the control stream of a migration session (frames)
	KindQEMU    = 2 // one QEMU migration channel (raw bytes, both ways)
	KindFlush   = 3 // buffered packets handed to the destination (issue 4)
	// KindQEMUCoded is a QEMU channel whose source-to-destination bytes
	// are package pagecode's coded stream (the way back stays raw).
	KindQEMUCoded = 4
)

// Version is the stream header version this package writes and accepts.
const Version = 1

// MaxSession is the longest session ID a header may carry.
const MaxSession = 64

var magic = [4]byte{'N', 'F', 'H', 'S'}

// ErrMalformed is wrapped by every error about bytes that do not follow the
// format (as opposed to I/O errors of the underlying reader).
var ErrMalformed = errors.New("malformed")

// StreamHeader opens every stream: what the stream carries, for which
// session, and (for KindQEMU) which channel, 0 being QEMU's main channel.
type StreamHeader struct {
	Kind    uint8
	Session string
	Channel uint16
}

// Validate reports whether h can be written: a known kind and a session ID
// of 1 to MaxSession characters from [A-Za-z0-9_-].
func (h StreamHeader) Validate() error {
	if h.Kind < KindControl || h.Kind > KindQEMUCoded {
		return fmt.Errorf("%w: unknown stream kind %d", ErrMalformed, h.Kind)
	}
	return ValidSession(h.Session)
}

// ValidSession checks a session ID: 1 to MaxSession characters from
// [A-Za-z0-9_-].
func ValidSession(s string) error {
	if len(s) == 0 || len(s) > MaxSession {
		return fmt.Errorf("%w: session ID length %d, want 1..%d", ErrMalformed, len(s), MaxSession)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: session ID %q: byte %#x at %d not in [A-Za-z0-9_-]", ErrMalformed, s, c, i)
		}
	}
	return nil
}

// WriteHeader writes h in one Write call.
func WriteHeader(w io.Writer, h StreamHeader) error {
	if err := h.Validate(); err != nil {
		return fmt.Errorf("writing stream header: %w", err)
	}
	b := make([]byte, 0, 4+3+len(h.Session)+2)
	b = append(b, magic[:]...)
	b = append(b, Version, h.Kind, uint8(len(h.Session)))
	b = append(b, h.Session...)
	b = binary.BigEndian.AppendUint16(b, h.Channel)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing stream header: %w", err)
	}
	return nil
}

// ReadHeader reads exactly one header from r and nothing more, so the rest
// of the stream stays unread. A stream that ends before any byte gives
// io.EOF; one that ends inside the header gives io.ErrUnexpectedEOF.
func ReadHeader(r io.Reader) (StreamHeader, error) {
	var fixed [7]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return StreamHeader{}, headerErr(err)
	}
	if [4]byte(fixed[:4]) != magic {
		return StreamHeader{}, fmt.Errorf("reading stream header: %w: bad magic %q", ErrMalformed, fixed[:4])
	}
	if fixed[4] != Version {
		return StreamHeader{}, fmt.Errorf("reading stream header: %w: version %d, want %d", ErrMalformed, fixed[4], Version)
	}
	h := StreamHeader{Kind: fixed[5]}
	n := int(fixed[6])
	if n == 0 || n > MaxSession {
		return StreamHeader{}, fmt.Errorf("reading stream header: %w: session ID length %d, want 1..%d", ErrMalformed, n, MaxSession)
	}
	rest := make([]byte, n+2)
	if _, err := io.ReadFull(r, rest); err != nil {
		return StreamHeader{}, headerErr(noEOF(err))
	}
	h.Session = string(rest[:n])
	h.Channel = binary.BigEndian.Uint16(rest[n:])
	if err := h.Validate(); err != nil {
		return StreamHeader{}, fmt.Errorf("reading stream header: %w", err)
	}
	return h, nil
}

func headerErr(err error) error {
	if err == io.EOF {
		return err
	}
	return fmt.Errorf("reading stream header: %w", err)
}

// noEOF turns an EOF in the middle of a structure into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxFrame is the largest control frame body, in bytes.
const MaxFrame = 1 << 20

// ErrFrameTooLarge is wrapped by the errors for bodies over MaxFrame.
var ErrFrameTooLarge = errors.New("frame too large")

// WriteFrame writes one control frame: v encoded as JSON, preceded by its
// length and typ, in one Write call.
func WriteFrame(w io.Writer, typ uint8, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding frame type %d: %w", typ, err)
	}
	if len(body) > MaxFrame {
		return fmt.Errorf("writing frame type %d: %w: %d bytes, limit %d", typ, ErrFrameTooLarge, len(body), MaxFrame)
	}
	b := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	b[4] = typ
	b = append(b, body...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing frame type %d: %w", typ, err)
	}
	return nil
}

// ReadFrame reads one control frame and returns its type and JSON body. A
// stream that ends cleanly between frames gives io.EOF; one that ends inside
// a frame gives io.ErrUnexpectedEOF. Bodies must be 1..MaxFrame bytes of
// valid JSON.
func ReadFrame(r io.Reader) (typ uint8, body []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return 0, nil, err
		}
		return 0, nil, fmt.Errorf("reading frame: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	typ = hdr[4]
	switch {
	case n == 0:
		return 0, nil, fmt.Errorf("reading frame type %d: %w: empty body", typ, ErrMalformed)
	case n > MaxFrame:
		return 0, nil, fmt.Errorf("reading frame type %d: %w: %d bytes, limit %d", typ, ErrFrameTooLarge, n, MaxFrame)
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, fmt.Errorf("reading frame type %d (%d bytes): %w", typ, n, noEOF(err))
	}
	if !json.Valid(body) {
		return 0, nil, fmt.Errorf("reading frame type %d: %w: body is not valid JSON", typ, ErrMalformed)
	}
	return typ, body, nil
}

package stream

import (
	"fmt"
	"io"
	"log/slog"
)

// state names a step of a reader's grammar.
type state int

// stepper is a reader's grammar: step runs when the bytes asked for by
// expect (b holds them) or skip (b is nil) have gone by.
type stepper interface {
	step(st state, b []byte) error
}

// machine is the byte engine both readers share. It gathers the small
// fixed-size fields a step asks for, lets long runs go by without copying
// them, and forwards every byte to dst unchanged: at once, except while a
// page record is held (hold..release) so the visitor sees it complete
// before it leaves.
type machine struct {
	dst    io.Writer
	g      stepper
	v      Visitor
	log    *slog.Logger
	strict bool

	st    state
	need  int    // bytes the current field needs
	field []byte // the current field so far (at most maxField bytes)
	skip  int64  // bytes to let go by before stepping
	clean bool   // the stream may end here (before the current field)

	p    []byte // the Write being parsed
	pos  int    // parse position in p
	fwd  int    // p[:fwd] is forwarded or held
	base int64  // stream offset of p[0]
	hold bool
	held []byte // a held record's bytes from earlier Writes

	opaque bool
	werr   error // dst's error or, strict, the parse error: sticky
	sum    Summary
}

func newMachine(dst io.Writer, g stepper, v Visitor, log *slog.Logger, strict bool) machine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if v == nil {
		v = Funcs{}
	}
	return machine{dst: dst, g: g, v: v, log: log, strict: strict,
		field: make([]byte, 0, 64), held: make([]byte, 0, maxRecord)}
}

// expect asks for the next n bytes as one field for st.
func (m *machine) expect(n int, st state) error {
	if n == 0 {
		return m.g.step(st, nil)
	}
	m.st, m.need, m.skip, m.clean = st, n, 0, false
	return nil
}

// pass lets the next n bytes go by unread, then steps st.
func (m *machine) pass(n int64, st state) error {
	if n == 0 {
		return m.g.step(st, nil)
	}
	m.st, m.need, m.skip, m.clean = st, 0, n, false
	return nil
}

// offset is the stream offset of the parse position.
func (m *machine) offset() int64 { return m.base + int64(m.pos) }

// write parses p and forwards it.
func (m *machine) write(p []byte) (int, error) {
	if m.werr != nil {
		return 0, m.werr
	}
	m.p, m.pos, m.fwd = p, 0, 0
	defer func() { m.base += int64(len(p)); m.p = nil }()
	m.sum.Bytes += int64(len(p))
	for m.pos < len(p) && !m.opaque {
		if err := m.advance(); err != nil {
			if m.strict {
				m.sum.Err = err
				m.flush(m.pos)
				if m.werr == nil {
					m.werr = err
				}
				return m.pos, m.werr
			}
			m.malformed(err)
		}
	}
	if m.hold {
		m.held = append(m.held, p[m.fwd:]...)
	} else {
		m.emit(p[m.fwd:])
	}
	if m.werr != nil {
		return 0, m.werr
	}
	return len(p), nil
}

// advance consumes bytes for the current field or run, stepping when it
// is complete.
func (m *machine) advance() error {
	if m.skip > 0 {
		n := min(m.skip, int64(len(m.p)-m.pos))
		m.pos += int(n)
		m.skip -= n
		if m.skip > 0 {
			return nil
		}
		return m.g.step(m.st, nil)
	}
	n := min(m.need-len(m.field), len(m.p)-m.pos)
	m.field = append(m.field, m.p[m.pos:m.pos+n]...)
	m.pos += n
	if len(m.field) < m.need {
		return nil
	}
	f := m.field
	m.field = m.field[:0] // f stays intact until the next advance
	return m.g.step(m.st, f)
}

// emit forwards b to dst unless dst has failed.
func (m *machine) emit(b []byte) {
	if len(b) == 0 || m.werr != nil {
		return
	}
	if _, err := m.dst.Write(b); err != nil {
		m.werr = err
	}
}

// flush forwards everything read so far up to p[:to], held bytes first.
func (m *machine) flush(to int) {
	if m.hold {
		m.emit(m.held)
		m.held, m.hold = m.held[:0], false
	}
	m.emit(m.p[m.fwd:to])
	m.fwd = to
}

// holdFrom starts holding a record that begins at the parse position.
func (m *machine) holdFrom() {
	m.flush(m.pos)
	m.hold = true
}

// record is the held record through the parse position.
func (m *machine) record() []byte {
	if len(m.held) == 0 {
		return m.p[m.fwd:m.pos]
	}
	m.held = append(m.held, m.p[m.fwd:m.pos]...)
	m.fwd = m.pos
	return m.held
}

// release forwards the held record and stops holding.
func (m *machine) release() { m.flush(m.pos) }

// goOpaque stops reading: the rest passes through as bytes. refused says
// page coding cannot follow this stream.
func (m *machine) goOpaque(reason string, refused bool) {
	if m.opaque {
		return
	}
	m.flush(m.pos)
	m.opaque = true
	m.sum.Opaque, m.sum.OpaqueAt = reason, m.offset()
	if refused {
		m.sum.Refused = reason
	}
	m.log.Info("migration stream passes opaque", "reason", reason, "offset", m.sum.OpaqueAt, "refused", refused)
	m.v.Event(Event{Kind: EventOpaque, Offset: m.sum.OpaqueAt, Reason: reason, Refused: refused})
}

// malformed records err and turns opaque (the lenient mode).
func (m *machine) malformed(err error) {
	m.sum.Err = err
	m.goOpaque(err.Error(), true)
}

// close flushes what is held and checks the stream did not end inside an
// element.
func (m *machine) close(where func(state) string) error {
	if m.hold {
		m.emit(m.held)
		m.held, m.hold = m.held[:0], false
	}
	if !m.opaque && (!m.clean || len(m.field) > 0) && m.sum.Err == nil {
		err := fmt.Errorf("%w: truncated in %s at offset %d", ErrMalformed, where(m.st), m.base)
		m.sum.Err = err
		if m.sum.Refused == "" && !m.sum.RAMDone {
			m.sum.Refused = err.Error()
		}
		if m.strict && m.werr == nil {
			m.werr = err
		}
	}
	return m.werr
}

func malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

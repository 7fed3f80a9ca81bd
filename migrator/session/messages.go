package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// Control frame types.
const (
	MsgHello       uint8 = 1 // source -> destination: the session's spec and request
	MsgReady       uint8 = 2 // destination -> source: QEMU waits for the stream
	MsgCommit      uint8 = 3 // source -> destination: the source will not resume; start the guest
	MsgRunning     uint8 = 4 // destination -> source: the guest runs here
	MsgAbort       uint8 = 5 // either way: the session is over; the guest did not run at the destination
	MsgStatus      uint8 = 6 // source -> destination, on a new control stream: what became of a session?
	MsgStatusReply uint8 = 7 // destination -> source
)

// ErrBadMessage is wrapped by every error about a control message that does
// not follow the protocol.
var ErrBadMessage = errors.New("bad control message")

// Hello opens a session.
type Hello struct {
	ID      string             `json:"id"`     // migration ID, also the stream session ID
	Source  string             `json:"source"` // the source's host name (must match its certificate)
	Spec    api.VMSpec         `json:"spec"`
	Request api.MigrateRequest `json:"request"`
	// Capabilities are the migrate-set-capabilities the source sets; the
	// destination sets the same.
	Capabilities    map[string]bool `json:"capabilities"`
	MultifdChannels int             `json:"multifd_channels"`
}

// Ready says the destination QEMU listens for the migration stream.
type Ready struct {
	PID int `json:"pid"`
}

// Commit tells the destination that the source has sent everything and
// will never resume its guest unless the destination answers Abort.
type Commit struct{}

// Running tells the source that the guest runs at the destination.
type Running struct{}

// Abort ends a session; from the destination it means the guest did not
// and will not run there.
type Abort struct {
	Reason string `json:"reason"`
}

// StatusRequest asks the destination about a session.
type StatusRequest struct {
	ID string `json:"id"`
}

// Status reply states.
const (
	StatusPending = "pending" // still under way: ask again
	StatusRunning = "running" // the guest runs at the destination
	StatusFailed  = "failed"  // the guest never ran at the destination and never will
	StatusUnknown = "unknown" // no such session
)

// StatusReply answers a StatusRequest.
type StatusReply struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// knownCaps are the QEMU 7.2 capabilities a Hello may ask for.
var knownCaps = map[string]bool{
	"xbzrle": true, "auto-converge": true, "zero-blocks": true, "events": true,
	"postcopy-ram": true, "return-path": true, "pause-before-switchover": true,
	"multifd": true, "postcopy-preempt": true, "validate-uuid": true,
}

const maxReason = 4096

func (h *Hello) validate() error {
	if err := wire.ValidSession(h.ID); err != nil {
		return err
	}
	if !hostRE.MatchString(h.Source) {
		return fmt.Errorf("source %q: want a host name", h.Source)
	}
	if err := h.Spec.Validate(); err != nil {
		return err
	}
	if err := h.Request.Validate(); err != nil {
		return err
	}
	if h.Request.VM != h.Spec.Name {
		return fmt.Errorf("request names vm %q, spec %q", h.Request.VM, h.Spec.Name)
	}
	for c := range h.Capabilities {
		if !knownCaps[c] {
			return fmt.Errorf("unknown capability %q", c)
		}
	}
	if h.MultifdChannels < 0 || h.MultifdChannels > 16 {
		return fmt.Errorf("multifd channels %d: want 0..16", h.MultifdChannels)
	}
	if h.MultifdChannels > 0 != h.Capabilities["multifd"] {
		return fmt.Errorf("multifd channels %d with multifd capability %v", h.MultifdChannels, h.Capabilities["multifd"])
	}
	return nil
}

func (r *Ready) validate() error {
	if r.PID < 0 {
		return fmt.Errorf("pid %d", r.PID)
	}
	return nil
}

func (Commit) validate() error  { return nil }
func (Running) validate() error { return nil }

func (a *Abort) validate() error {
	if a.Reason == "" || len(a.Reason) > maxReason {
		return fmt.Errorf("abort reason of %d bytes: want 1..%d", len(a.Reason), maxReason)
	}
	return nil
}

func (s *StatusRequest) validate() error { return wire.ValidSession(s.ID) }

func (s *StatusReply) validate() error {
	if err := wire.ValidSession(s.ID); err != nil {
		return err
	}
	switch s.State {
	case StatusPending, StatusRunning, StatusFailed, StatusUnknown:
	default:
		return fmt.Errorf("status state %q", s.State)
	}
	if len(s.Reason) > maxReason {
		return fmt.Errorf("status reason of %d bytes: limit %d", len(s.Reason), maxReason)
	}
	return nil
}

type validator interface{ validate() error }

// decodeInto decodes one JSON value strictly (no unknown fields, nothing
// after it) and validates it.
func decodeInto(body []byte, v validator) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %T: %w", ErrBadMessage, v, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %T: data after the JSON value", ErrBadMessage, v)
	}
	if err := v.validate(); err != nil {
		return fmt.Errorf("%w: %T: %w", ErrBadMessage, v, err)
	}
	return nil
}

// DecodeHello decodes a MsgHello body.
func DecodeHello(body []byte) (Hello, error) {
	var h Hello
	err := decodeInto(body, &h)
	return h, err
}

// DecodeAbort decodes a MsgAbort body.
func DecodeAbort(body []byte) (Abort, error) {
	var a Abort
	err := decodeInto(body, &a)
	return a, err
}

// DecodeStatusRequest decodes a MsgStatus body.
func DecodeStatusRequest(body []byte) (StatusRequest, error) {
	var s StatusRequest
	err := decodeInto(body, &s)
	return s, err
}

// DecodeStatusReply decodes a MsgStatusReply body.
func DecodeStatusReply(body []byte) (StatusReply, error) {
	var s StatusReply
	err := decodeInto(body, &s)
	return s, err
}

// DecodeMessage decodes a frame of any type into its struct (a value:
// Hello, Ready, Commit, Running, Abort, StatusRequest, StatusReply or
// HandoffDone).
func DecodeMessage(typ uint8, body []byte) (any, error) {
	switch typ {
	case MsgHello:
		return DecodeHello(body)
	case MsgReady:
		var r Ready
		err := decodeInto(body, &r)
		return r, err
	case MsgCommit:
		var c Commit
		err := decodeInto(body, &c)
		return c, err
	case MsgRunning:
		var r Running
		err := decodeInto(body, &r)
		return r, err
	case MsgAbort:
		return DecodeAbort(body)
	case MsgStatus:
		return DecodeStatusRequest(body)
	case MsgStatusReply:
		return DecodeStatusReply(body)
	case MsgHandoffDone:
		return DecodeHandoffDone(body)
	}
	return nil, fmt.Errorf("%w: unknown frame type %d", ErrBadMessage, typ)
}

// readMessage reads and decodes the next control frame.
func readMessage(r io.Reader) (any, error) {
	typ, body, err := wire.ReadFrame(r)
	if err != nil {
		return nil, err
	}
	return DecodeMessage(typ, body)
}

// writeMessage writes m (one of the message structs) as a control frame.
func writeMessage(w io.Writer, m any) error {
	var typ uint8
	switch m.(type) {
	case Hello:
		typ = MsgHello
	case Ready:
		typ = MsgReady
	case Commit:
		typ = MsgCommit
	case Running:
		typ = MsgRunning
	case Abort:
		typ = MsgAbort
	case StatusRequest:
		typ = MsgStatus
	case StatusReply:
		typ = MsgStatusReply
	case HandoffDone:
		typ = MsgHandoffDone
	default:
		return fmt.Errorf("writing control message: unknown type %T", m)
	}
	return wire.WriteFrame(w, typ, m)
}

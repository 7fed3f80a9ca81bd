package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// message is a pointer to one of the message structs.
type message[T any] interface {
	*T
	validate() error
}

// decode decodes one JSON value strictly (no unknown fields, nothing after
// it) into a T and validates it.
func decode[T any, P message[T]](body []byte) (T, error) {
	var v T
	p := P(&v)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return v, fmt.Errorf("%w: %T: %w", ErrBadMessage, p, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, fmt.Errorf("%w: %T: data after the JSON value", ErrBadMessage, p)
	}
	if err := p.validate(); err != nil {
		return v, fmt.Errorf("%w: %T: %w", ErrBadMessage, p, err)
	}
	return v, nil
}

// DecodeHello decodes a MsgHello body.
func DecodeHello(body []byte) (Hello, error) { return decode[Hello](body) }

// DecodeAbort decodes a MsgAbort body.
func DecodeAbort(body []byte) (Abort, error) { return decode[Abort](body) }

// DecodeStatusRequest decodes a MsgStatus body.
func DecodeStatusRequest(body []byte) (StatusRequest, error) { return decode[StatusRequest](body) }

// DecodeStatusReply decodes a MsgStatusReply body.
func DecodeStatusReply(body []byte) (StatusReply, error) { return decode[StatusReply](body) }

// DecodeHandoffDone decodes a MsgHandoffDone body.
func DecodeHandoffDone(body []byte) (HandoffDone, error) { return decode[HandoffDone](body) }

// DecodeRecover decodes a MsgRecover body.
func DecodeRecover(body []byte) (Recover, error) { return decode[Recover](body) }

// DecodeMessage decodes a frame of any type into its struct (a value:
// Hello, Ready, Commit, Running, Abort, StatusRequest, StatusReply,
// HandoffDone, Recover or RecoverReady).
func DecodeMessage(typ uint8, body []byte) (any, error) {
	switch typ {
	case MsgHello:
		return DecodeHello(body)
	case MsgReady:
		return decode[Ready](body)
	case MsgCommit:
		return decode[Commit](body)
	case MsgRunning:
		return decode[Running](body)
	case MsgAbort:
		return DecodeAbort(body)
	case MsgStatus:
		return DecodeStatusRequest(body)
	case MsgStatusReply:
		return DecodeStatusReply(body)
	case MsgHandoffDone:
		return DecodeHandoffDone(body)
	case MsgRecover:
		return DecodeRecover(body)
	case MsgRecoverReady:
		return decode[RecoverReady](body)
	}
	return nil, fmt.Errorf("%w: unknown frame type %d", ErrBadMessage, typ)
}

// ReadMessage reads and decodes the next control frame.
func ReadMessage(r io.Reader) (any, error) {
	typ, body, err := ReadFrame(r)
	if err != nil {
		return nil, err
	}
	return DecodeMessage(typ, body)
}

// WriteMessage writes m (one of the message structs, a value) as a
// control frame.
func WriteMessage(w io.Writer, m any) error {
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
	case Recover:
		typ = MsgRecover
	case RecoverReady:
		typ = MsgRecoverReady
	default:
		return fmt.Errorf("writing control message: unknown type %T", m)
	}
	return WriteFrame(w, typ, m)
}

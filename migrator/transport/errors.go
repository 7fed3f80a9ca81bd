package transport

import (
	"errors"
	"fmt"
)

// Errors Dial wraps, for callers to branch on.
var (
	ErrUnknownPeer     = errors.New("unknown peer")           // not in the peers file
	ErrPeerAuth        = errors.New("peer not authenticated") // a certificate was refused, by us or by the peer
	ErrPeerUnreachable = errors.New("peer unreachable")       // no answer, or the connection failed
	ErrClosed          = errors.New("transport closed")       // the Node was closed
)

// PeerError is the error Dial returns: which peer, at which address, what
// kind of failure (one of the sentinels above) and why.
type PeerError struct {
	Host string
	Addr string // empty when the host is unknown
	Kind error
	Msg  string // what happened, e.g. "refused our certificate"
	Err  error  // the cause, e.g. the TLS error
}

func (e *PeerError) Error() string {
	s := "peer " + e.Host
	if e.Addr != "" {
		s += " (" + e.Addr + ")"
	}
	s += " " + e.Msg
	if e.Err != nil {
		s = fmt.Sprintf("%s: %v", s, e.Err)
	}
	return s
}

func (e *PeerError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

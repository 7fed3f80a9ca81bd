package handoff

import "io"

// Stream is the flush stream of a migration: the source writes, in order,
// the frames it kept through the blackout and half-closes it; the
// destination reads them until EOF. A session's streams satisfy it.
type Stream interface {
	io.ReadWriteCloser
	CloseWrite() error
}

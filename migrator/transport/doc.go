// Package transport connects migration agents to each other over QUIC with
// mutual TLS (package pki identities, ALPN "nfhandoff/1", TLS 1.3 only).
//
// A Node listens on the agent's QUIC address and dials peers named in a
// peers file. Every connection is authenticated both ways: the dialer checks
// that the server's certificate names the host it dialed, the listener
// requires a client certificate from the same CA, and each side knows the
// other's host name (Conn.Peer). Outgoing connections are pooled, one per
// peer host, and replaced when they die.
//
// Streams carry a wire.StreamHeader first; Stream counts the bytes it moves
// and supports half-close, which Pipe propagates between a local socket (a
// QEMU migration channel) and a stream.
package transport

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
//
// A lane (Conn.OpenLane) is a stream on its own TLS 1.3 connection over TCP
// to the peer's QUIC address and port, with the same certificates and
// checks, bound to its QUIC connection by keying material exported from
// that connection's TLS session: the peer's AcceptStream returns it like a
// QUIC stream, and it ends with the connection. Lanes carry bulk data (QEMU's
// channels): TCP's segmentation offloads cost the agents a third of the CPU
// per byte of QUIC's 1452-byte packets.
package transport

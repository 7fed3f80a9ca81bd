// Package wire holds the byte formats agents exchange over their QUIC
// connection: the header that opens every stream and the length-prefixed
// JSON frames of the control stream. Both ends import it; every reader here
// is strict and fuzzed, since its input comes from the network.
//
// Stream header (written once, at the start of every stream):
//
//	"NFHS" | version u8 (1) | kind u8 | session length u8 | session | channel be16
//
// Control frame:
//
//	body length be32 (1..MaxFrame) | type u8 | JSON body
package wire

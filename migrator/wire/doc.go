// Package wire holds the byte formats agents exchange over their QUIC
// connection: the header that opens every stream, the length-prefixed JSON
// frames of the control stream, and the control messages they carry (Hello,
// Ready, Commit, Running, Abort, StatusRequest, StatusReply, HandoffDone:
// what each end of a migration in migrator/session says to the other). Both
// ends import it; every reader here is strict (unknown fields, trailing
// data and out-of-range values are refused with ErrBadMessage or
// ErrMalformed) and fuzzed, since its input comes from the network.
//
// Stream header (written once, at the start of every stream):
//
//	"NFHS" | version u8 (1) | kind u8 | session length u8 | session | channel be16
//
// Control frame:
//
//	body length be32 (1..MaxFrame) | type u8 (Msg*) | JSON body
package wire

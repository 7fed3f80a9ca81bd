// Package stream reads QEMU 7.2's migration stream as it passes through an
// agent (the formats of QEMU's migration/savevm.c, ram.c and multifd.c): a Writer wraps the relay's destination,
// forwards every byte unchanged and, on the way, reports each RAM page
// record (block, offset, payload or zero fill) to a Visitor; a
// MultifdWriter does the same for a multifd channel's packets.
//
// The reader follows the main channel's header, configuration, the "ram"
// section (START with MEM_SIZE, PARTs, END), commands (a PACKAGED command's
// nested stream passes untouched) and EOF with the VM description. At the
// first section it does not know, normally the first FULL device section
// after RAM's END, it stops reading and passes the rest through as opaque
// bytes. Streams whose pages it cannot follow (xbzrle, compressed pages,
// block migration, dirty bitmaps, VFIO, unknown RAM flags) and malformed
// input also turn it opaque; Summary says why (Refused, Err), so the caller
// can write it in the migration record and carry the stream blind.
//
// Input may be cut anywhere: it is a push state machine over Write calls.
// Buffering stays shallow because QEMU's rate and downtime estimates come
// from how fast the socket drains: bytes are forwarded as soon as they are
// read, except a RAM page record (at most 8+1+255+4096 bytes), which is held
// until complete so that the visitor sees its header and payload before
// they are forwarded. That is where a later step substitutes payloads.
//
// A parse error never corrupts or stalls the migration by default: the
// reader records it and passes the rest through. Strict makes Write return
// it instead (tests, or a caller that prefers to abort).
package stream

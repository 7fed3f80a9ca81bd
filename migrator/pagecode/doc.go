// Package pagecode codes RAM pages on the agent link: the source agent
// reads QEMU's migration stream (package stream), and a page whose content
// the destination agent already holds goes as a reference, a page QEMU
// sends again goes as a delta against the destination's previous copy
// when that is smaller, and new content goes literal, zstd-compressed when
// that pays. The destination rebuilds QEMU's stream byte for byte.
//
// Content is named by keyed BLAKE3 (128 bits) under a secret key the
// source draws per migration (per gang), so a guest cannot craft two pages
// with one name; the destination hashes every page it rebuilds and fails
// the migration when a name does not match.
//
// # The coded stream
//
// A preamble ("NFPC", version, the 32-byte key, the 16-byte gang id, the
// store's slot count, the stream's number in the gang), then frames, each a kind byte and its fields (uvarints unless noted):
//
//	raw    n, n bytes          QEMU's bytes other than page payloads
//	lit    slot, name[16], 4096 bytes
//	zstd   slot, name[16], n, n bytes (a zstd frame of the page)
//	ref    slot, name[16]      the content in slot
//	delta  base, slot, name[16], n, n bytes (runs against base's content)
//	end                        the stream ended cleanly
//
// A named page is stored in slot, replacing what was there. The source
// chooses every slot and so knows the destination's store exactly: both
// ends are bounded by the preamble's slot count and evict the same entries
// (the source's choice, written in the stream), with no clocks or
// timeouts. A reference therefore never waits.
//
// # Gangs
//
// The channels of several VMs can share one store (a Gang at the source,
// Stores at the destination), so that content sent for one VM goes as a
// reference for the others. Their streams are processed at the
// destination at their own paces, so the source refers to content another
// stream stored only once the destination acknowledged that frame
// (Gang.Ack, from Decoder.Progress), and overwrites a slot only once every
// other stream's frame that stored or referred to it is acknowledged; a
// page with no such slot free goes raw. Nothing at the destination ever
// waits for another stream, so a stalled or dead VM cannot hold up the
// others (Gang.Forget drops a dead stream's unacknowledged content).
package pagecode

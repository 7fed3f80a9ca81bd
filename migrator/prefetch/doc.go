// Package prefetch makes a source QEMU send a guest's working set first
// after the switch to post-copy, by adding page requests of its own to the
// return path (destination QEMU -> source QEMU) that the source agent
// carries: be16 type, be16 length, payload of at most 512 bytes, in
// QEMU 7.2's format (migration/migration.c, source_return_path_thread).
//
// The source QEMU queues page requests FIFO and serves them one page at a
// time ahead of its background scan, skipping a queued page it has no
// reason to send again (migration/ram.c, ram_save_queue_pages,
// get_queued_page). An Injector therefore sends the working set in small
// chunks, and only while the injected pages not yet served stay under a
// window: a real fault queued behind them waits at most about
// window/link-rate. What is still to be sent it learns from the main
// channel's parse: QEMU's RAM_DISCARD commands at the switch list every
// page it will send again (its dirty bitmap after the last sync; nothing
// dirties the source's memory after it), and each page record takes one
// off (Discard, Sent). It asks only for those, so clean pages of the
// working set cost nothing and do not hold the window, and it counts its
// window exactly. Without discards (a stream it cannot parse) every page
// counts, and a chunk is served once the main channel has carried its
// pages' bytes since it was injected (Observe) or a later request's page
// went by. The destination's own requests in order (a guest writing or
// reading a buffer in order) make the pages after them go first
// (readahead.go).
// Once the destination asks for a page, nothing more is injected until the
// main channel has carried it too: the thread waiting for it may be QEMU's
// main thread, and should the stream break meanwhile, a main thread stuck
// on a page answers no QMP, so the stream can no longer be recovered.
//
// Safety first: every injected request names its block and is checked
// against QEMU's RAM blocks (a bad one would fail the migration and, in
// post-copy, lose the guest); a plain REQ_PAGES of the destination that
// QEMU would now read against an injected block is rewritten to name the
// destination's block; messages pass through whole, injected ones only
// between them. On input it cannot follow the Injector stops injecting and
// passes the rest through untouched.
package prefetch

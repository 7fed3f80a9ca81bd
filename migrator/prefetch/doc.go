// Package prefetch makes a source QEMU send a guest's working set first
// after the switch to post-copy, by adding page requests of its own to the
// return path (destination QEMU -> source QEMU) that the source agent
// carries: be16 type, be16 length, payload of at most 512 bytes, in
// QEMU 7.2's format (migration/migration.c, source_return_path_thread).
//
// The source QEMU queues page requests FIFO and serves them one page at a
// time ahead of its background scan (migration/ram.c,
// ram_save_queue_pages, get_queued_page). An Injector therefore sends the
// working set in small chunks, and only while the injected pages not yet
// served stay under a window: a real fault queued behind them waits at
// most about window/link-rate. A chunk counts as served once the main
// channel has carried its pages' bytes since it was injected (Observe).
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

package prefetch

import (
	"slices"
)

// queued is a request in the source QEMU's queue (injected, or the
// destination's own) that is not known to be served yet.
type queued struct {
	block      string
	start, end uint64 // the bytes of block not sent yet
	due        int64  // fwd by which it is served even if every page is sent
	fault      bool   // the destination's request: a thread waits for it
}

// maxQueued bounds the queue kept: past it the oldest are dropped as
// served (the byte model would have dropped them by then too).
const maxQueued = 4096

// enqueue notes a request written to QEMU; due is fwd by which it is
// served at the latest (the byte model: every page of it sent).
func (in *Injector) enqueue(block string, start uint64, n uint32, due int64, fault bool) {
	if len(in.queue) == maxQueued {
		in.queue = in.queue[1:]
	}
	in.queue = append(in.queue, queued{block: block, start: start, end: start + uint64(n), due: due, fault: fault})
}

// prune drops the requests the main channel has carried bytes enough for.
// Their dues are in queue order: nothing is injected behind a fault until
// it is served.
func (in *Injector) prune() {
	if in.dirty.known() {
		in.queue = slices.DeleteFunc(in.queue, func(q queued) bool { return in.dirty.count(q.block, q.start, q.end) == 0 })
		return
	}
	fwd := in.fwd.Load()
	k := 0
	for k < len(in.queue) && in.queue[k].due <= fwd {
		k++
	}
	in.queue = in.queue[k:]
}

// Sent notes a page record QEMU wrote on the main channel (block, offset
// in it), from the main channel's parse. With QEMU's discards known, the
// page is no longer to be sent: the requests holding it need it no more.
// Without them: QEMU 7.2 serves its request queue FIFO ahead of its
// background scan, one page at a time, and skips a queued page that is
// not dirty (already there), so a page of queued request k means every
// request before k is served, clean pages and all, and k up to that page.
// Either way the window frees up for pages that cost a request message
// and nothing on the wire.
func (in *Injector) Sent(block string, off uint64) {
	if !in.tracking.Load() {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dirty.known() {
		if in.dirty.has(block, off) {
			in.dirty.clear(block, off)
			if in.asked(block, off) {
				in.stats.Sent++
			}
			in.poke()
		}
		return
	}
	for k := range in.queue {
		q := &in.queue[k]
		if q.block != block || off < q.start || off >= q.end {
			continue
		}
		if !q.fault {
			in.stats.Sent++
		}
		if q.start = off + TargetPage; q.start >= q.end {
			k++
		}
		in.queue = in.queue[k:]
		in.poke()
		return
	}
}

// asked: the page is in an injected request not known served.
func (in *Injector) asked(block string, off uint64) bool {
	for _, q := range in.queue {
		if !q.fault && q.block == block && off >= q.start && off < q.end {
			return true
		}
	}
	return false
}

// outstanding is the injected page bytes not known served: the queue's
// injected pages, as many as the byte model allows at most (QEMU serves
// its queue ahead of its background scan, so the main channel's bytes
// since a request are an upper bound of what is still waiting before it).
func (in *Injector) outstanding() int64 {
	in.prune()
	var n int64
	for _, q := range in.queue {
		switch {
		case q.fault:
		case in.dirty.known():
			n += in.dirty.count(q.block, q.start, q.end) * pageWire
		default:
			n += pages(q.end-q.start) * pageWire
		}
	}
	if in.dirty.known() {
		return n // exact: the pages asked for and not sent yet
	}
	return min(n, max(0, in.due-in.fwd.Load()))
}

// Discard notes a RAM_DISCARD range of the main channel (block, bytes
// from start): pages QEMU will send again after the post-copy switch.
// With them the injector asks only for pages still to be sent, and counts
// its window exactly.
func (in *Injector) Discard(block string, start, n uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.dirty.add(block, start, n)
	in.tracking.Store(true)
}

// Lost notes that the main channel's parse stopped following the stream
// (why): pages sent from then on go unseen, so the pages still to be sent
// are no longer known, and the window falls back to the byte model.
func (in *Injector) Lost(why string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dirty.known() {
		in.log.Info("post-copy prefetch: stream no longer followed, window by bytes", "why", why)
	}
	in.dirty.broken = true
	in.poke()
}

// faultWaiting: a destination's request is not known served (nothing is
// injected behind it meanwhile).
func (in *Injector) faultWaiting() bool {
	in.prune()
	for _, q := range in.queue {
		if q.fault {
			return true
		}
	}
	return false
}

package prefetch

// plan keeps the valid ranges and counts the refused ones.
func (in *Injector) plan(blocks []Block, ranges []Range) {
	in.started, in.blocks = true, newBlockSet(blocks)
	for _, r := range ranges {
		if why := in.blocks.check(r); why != "" {
			in.stats.Refused[why] += pages(r.Len)
			in.log.Debug("prefetch range refused", "range", r, "why", why)
			continue
		}
		in.ranges = append(in.ranges, r)
		in.stats.Planned += pages(r.Len)
	}
	in.index()
	in.tracking.Store(len(in.ranges) > 0 || in.tracking.Load())
	in.log.Info("working-set prefetch starting", "ranges", len(in.ranges), "pages", in.stats.Planned,
		"refused", in.stats.Refused)
	in.poke()
}

// pump injects chunks while the window allows; false once injection is
// over (stopped, or done with no readahead to come).
func (in *Injector) pump() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []byte
	for in.open() {
		// Readahead goes even while a fault waits: QEMU serves it after
		// the fault, and it is what the guest's next fault would ask for.
		stream, block, start, n := in.readaheadChunk()
		ahead := n > 0
		if !ahead {
			if in.next == len(in.ranges) || in.faultWaiting() {
				break
			}
			var ok bool
			if block, start, n, ok = in.planChunk(); !ok {
				continue
			}
		}
		cost := pages(n) * pageWire
		if o := in.outstanding(); o > 0 && o+cost > in.cfg.Window {
			break
		}
		msg := reqPagesID(block, start, uint32(n))
		if in.trace != nil {
			in.trace(segInject, nil, msg)
		}
		out = append(out, msg...)
		in.due = max(in.due, in.fwd.Load()) + cost
		in.enqueue(block, start, uint32(n), in.due, false)
		in.stats.Requests++
		in.stats.Pages += pages(n)
		in.qemuBlock, in.injected = block, true
		if ahead {
			in.readAhead(stream, start, n)
			continue
		}
		r := in.ranges[in.next]
		if in.off = start - r.Start + n; in.off == r.Len {
			in.next, in.off = in.next+1, 0
		}
	}
	if len(out) > 0 {
		if _, err := in.w.Write(out); err != nil {
			in.stop("writing to qemu: " + err.Error())
		}
	}
	if in.open() && in.next == len(in.ranges) && !in.done {
		in.done = true
		in.log.Info("working-set prefetch injected", "requests", in.stats.Requests, "pages", in.stats.Pages,
			"sent_so_far", in.stats.Sent)
	}
	// After the plan, readahead may still come (with discards known).
	return in.stopped == "" && !in.raw && (!in.done || in.dirty.known())
}

// open: injection may go on (between messages: the mutex is held).
func (in *Injector) open() bool {
	return in.started && in.stopped == "" && !in.raw && in.w != nil
}

// skipsClean: the pages of block still to be sent are known (blocks of
// target pages only: QEMU discards and sends others in whole host pages).
func (in *Injector) skipsClean(block string) bool {
	return in.dirty.known() && in.blocks[block].PageSize == TargetPage
}

// planChunk is the plan's next chunk (block, start, n target-page bytes);
// ok false when the current range had nothing left to ask for (the next
// range is current then).
func (in *Injector) planChunk() (block string, start, n uint64, ok bool) {
	r := in.ranges[in.next]
	start, n = r.Start+in.off, min(in.blocks.chunkLen(r.Block, in.cfg.ChunkPages), r.Len-in.off)
	if in.skipsClean(r.Block) {
		// Ask only for pages still to be sent: the others cost QEMU
		// nothing but a look, and would hold the window.
		s, e, found := in.dirty.next(r.Block, start, r.Start+r.Len)
		if !found {
			s = r.Start + r.Len
		}
		in.stats.Clean += pages(s - start)
		if !found {
			in.next, in.off = in.next+1, 0
			return "", 0, 0, false
		}
		in.off, start, n = s-r.Start, s, min(e-s, n)
	}
	return r.Block, start, n, true
}

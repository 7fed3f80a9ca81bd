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
// over (done or stopped).
func (in *Injector) pump() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []byte
	for in.open() && in.next < len(in.ranges) && !in.faultWaiting() {
		r := in.ranges[in.next]
		start, n := r.Start+in.off, min(in.blocks.chunkLen(r.Block, in.cfg.ChunkPages), r.Len-in.off)
		if in.skipsClean(r.Block) {
			// Ask only for pages still to be sent: the others cost QEMU
			// nothing but a look, and would hold the window.
			s, e, ok := in.dirty.next(r.Block, start, r.Start+r.Len)
			if !ok {
				s = r.Start + r.Len
			}
			in.stats.Clean += pages(s - start)
			if !ok {
				in.next, in.off = in.next+1, 0
				continue
			}
			in.off, start, n = s-r.Start, s, min(e-s, n)
		}
		cost := pages(n) * pageWire
		if in.outstanding() > 0 && in.outstanding()+cost > in.cfg.Window {
			break
		}
		msg := reqPagesID(r.Block, start, uint32(n))
		if in.trace != nil {
			in.trace(segInject, nil, msg)
		}
		out = append(out, msg...)
		in.due = max(in.due, in.fwd.Load()) + cost
		in.enqueue(r.Block, start, uint32(n), in.due, false)
		in.stats.Requests++
		in.stats.Pages += pages(n)
		in.qemuBlock, in.injected = r.Block, true
		if in.off += n; in.off == r.Len {
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
	return in.stopped == "" && !in.raw && !in.done // else wait: for a stream, or the window
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

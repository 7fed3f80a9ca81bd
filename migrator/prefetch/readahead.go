package prefetch

// A guest that writes its memory in order (a log, a ring of buffers)
// faults page after page of what post-copy has still to send, a round
// trip each, and no report can name where it will be writing once it runs
// at the destination: the report is from before the migration. So two of
// the destination's requests in one block in a row, the second at most
// seqGap after the first, put the readaheadLen bytes after the second
// first, ahead of the plan. Only pages still to be sent are asked for
// (known from QEMU's discards; without them there is no readahead), at
// most readaheadPages per fault, so the plan waits at most that long.
// Unlike the plan, readahead is asked for while a fault waits: behind it,
// it is what the guest's next fault in the stream would ask for (the vCPU
// resumes and faults on the next page within microseconds).
const (
	seqGap         = 4 << 20
	readaheadLen   = 8 << 20
	readaheadPages = 256 // 1 MiB on the wire: 8 ms at 1 Gbit/s
)

// readahead is one sequential stream of the destination's requests: its
// last and what is left to ask for after it.
type readahead struct {
	block     string
	last      uint64 // offset of the stream's last request
	next, end uint64 // the bytes still to look through
	left      int64  // pages it may still ask for
	used      int64  // when last extended (a count of requests): the oldest goes
}

// readaheadStreams is how many streams are followed at once (a guest may
// write one buffer in order while it reads another).
const readaheadStreams = 4

// noteFault notes a destination's request at off of block: the stream it
// continues reads ahead; one it continues none of starts a new stream in
// place of the oldest.
func (in *Injector) noteFault(block string, off uint64) {
	in.faults++
	oldest := 0
	for i := range in.ra {
		ra := &in.ra[i]
		if ra.block == block && off > ra.last && off-ra.last <= seqGap {
			ra.last, ra.used = off, in.faults
			if in.started && in.skipsClean(block) {
				ra.next, ra.end, ra.left = off+TargetPage, min(off+readaheadLen, in.blocks[block].Used), readaheadPages
				in.poke()
			}
			return
		}
		if ra.used < in.ra[oldest].used {
			oldest = i
		}
	}
	r := readahead{block: block, last: off, used: in.faults}
	if len(in.ra) < readaheadStreams {
		in.ra = append(in.ra, r)
		return
	}
	in.ra[oldest] = r
}

// readaheadChunk is the next chunk to read ahead, of stream i (n 0: none);
// the streams take turns.
func (in *Injector) readaheadChunk() (i int, block string, start, n uint64) {
	for k := range in.ra {
		i := (in.raTurn + k) % len(in.ra)
		ra := &in.ra[i]
		if ra.left <= 0 || ra.next >= ra.end {
			continue
		}
		s, e, ok := in.dirty.next(ra.block, ra.next, ra.end)
		if !ok {
			ra.next = ra.end
			continue
		}
		return i, ra.block, s, min(e-s, uint64(in.cfg.ChunkPages)*TargetPage, uint64(ra.left)*TargetPage)
	}
	return 0, "", 0, 0
}

// readAhead notes a chunk of stream i asked for.
func (in *Injector) readAhead(i int, start, n uint64) {
	in.raTurn = i + 1
	in.ra[i].next = start + n
	in.ra[i].left -= pages(n)
	in.stats.Readahead += pages(n)
}

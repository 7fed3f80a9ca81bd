package vnf

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// tick is how often the workload loop wakes while it has work to do.
const tick = 10 * time.Millisecond

// maxBurst bounds the work a token bucket may catch up on after a stall
// (e.g. the VM paused for migration), in seconds' worth of its rate.
const maxBurst = 0.1

// workload drives a memory: one goroutine interleaves the dirtier (random
// pages, new generation) and the verifier (sequential walk), each paced by its
// own token bucket, so the memory needs no locks.
type workload struct {
	mem       *memory
	dirtyPPS  float64       // pages per second, 0 = none
	hot       int           // the dirtier's pages: the first hot of the dirtyable ones (0 = all)
	sweepPPS  float64       // pages per second written in order after the hot ones, 0 = none
	sweep     int           // the sweep's next page, counted from hot
	verifyPPS float64       // pages per second, 0 = none
	minPass   time.Duration // shortest time between starts of two verify passes
	log       *slog.Logger

	passes atomic.Uint64
	rng    uint64
}

func newWorkload(mem *memory, dirtyMBps, verifyMBps float64, minPass time.Duration, seed uint64, log *slog.Logger) *workload {
	const pagesPerMB = (1 << 20) / PageSize
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &workload{
		mem: mem, dirtyPPS: dirtyMBps * pagesPerMB, verifyPPS: verifyMBps * pagesPerMB,
		minPass: minPass, log: log, rng: seed,
	}
}

// fill writes every page once (generation 1).
func (w *workload) fill(ctx context.Context) error {
	for i := range w.mem.pages() {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		w.mem.write(i)
	}
	return nil
}

// shape confines the dirtier to the first hotMB MiB of the dirtyable pages
// (0: all of them) and sweeps the rest in order at sweepMBps.
func (w *workload) shape(hotMB int, sweepMBps float64) {
	const pagesPerMB = (1 << 20) / PageSize
	w.hot = min(hotMB*pagesPerMB, w.mem.dirtyable)
	if w.hot > 0 && w.hot < w.mem.dirtyable {
		w.sweepPPS = sweepMBps * pagesPerMB
	}
}

// dirty rewrites one random page (of the hot part, with one), never a zero
// page of a mix.
func (w *workload) dirty() {
	n := w.mem.dirtyable
	if w.hot > 0 {
		n = w.hot
	}
	if n > 0 {
		w.mem.write(int(wyrand(&w.rng) % uint64(n)))
	}
}

// sweepOne rewrites the sweep's next page after the hot part, wrapping.
func (w *workload) sweepOne() {
	w.mem.write(w.hot + w.sweep)
	w.sweep = (w.sweep + 1) % (w.mem.dirtyable - w.hot)
}

// run paces dirtier and verifier until ctx ends.
func (w *workload) run(ctx context.Context) {
	n := w.mem.pages()
	if n == 0 {
		return
	}
	var (
		dirtyTok, sweepTok, verifyTok float64
		cursor                        int
		passStart                     = time.Now()
		last                          = passStart
		reported                      uint64
	)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		dt := now.Sub(last).Seconds()
		last = now

		dirtyTok = min(dirtyTok+dt*w.dirtyPPS, max(1, w.dirtyPPS*maxBurst))
		for ; dirtyTok >= 1; dirtyTok-- {
			w.dirty()
		}
		if w.sweepPPS > 0 {
			sweepTok = min(sweepTok+dt*w.sweepPPS, max(1, w.sweepPPS*maxBurst))
			for ; sweepTok >= 1; sweepTok-- {
				w.sweepOne()
			}
		}

		waiting := cursor == 0 && now.Sub(passStart) < w.minPass && w.passes.Load() > 0
		if w.verifyPPS > 0 && !waiting {
			if cursor == 0 && w.passes.Load() > 0 {
				passStart = now
			}
			verifyTok = min(verifyTok+dt*w.verifyPPS, max(1, w.verifyPPS*maxBurst))
			for ; verifyTok >= 1 && cursor < n; verifyTok-- {
				if s := w.mem.verify(cursor); s == pageCorrupt || s == pageStale {
					reported = w.report(cursor, s, reported)
				}
				cursor++
			}
			if cursor == n {
				cursor = 0
				w.passes.Add(1)
				w.log.Debug("verify pass done", "passes", w.passes.Load(),
					"corrupt", w.mem.corrupt.Load(), "stale", w.mem.stale.Load())
			}
		} else {
			verifyTok = 0
		}

		next := tick
		if w.dirtyPPS == 0 && w.sweepPPS == 0 {
			switch {
			case w.verifyPPS == 0:
				return // nothing left to do
			case waiting:
				next = max(tick, w.minPass-now.Sub(passStart))
			}
		}
		timer.Reset(next)
	}
}

// report logs an integrity error, the first 10 and then every 1000th.
func (w *workload) report(i int, s pageState, n uint64) uint64 {
	n++
	if n <= 10 || n%1000 == 0 {
		kind := "corrupt"
		if s == pageStale {
			kind = "stale"
		}
		w.log.Warn("integrity error", "page", i, "kind", kind, "errors", n)
	}
	return n
}

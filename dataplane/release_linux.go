package dataplane

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/dataplane/tapio"
	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Release polling: while RELEASE waits for the next frame to flip it to
// PASS, the mode is re-read this often (backing off once drained).
const (
	releasePoll    = 2 * time.Millisecond
	releasePollMax = 100 * time.Millisecond
	minRateWindow  = 50 * time.Millisecond  // shortest capture a rate is estimated from
	rateWindow     = 200 * time.Millisecond // arrivals during a replay are measured over this
)

// startRelease sets RELEASE and re-injects v's queued frames into its tap
// with inj (which it closes), in order, finishing each, until the program
// has flipped the mode to PASS (captured == released): no new frame can
// overtake a re-injected one. drained is closed once every frame captured
// so far is injected. returned says whether this is the source giving
// frames back (rollback) or the destination releasing its HOLD.
func (h *Handoff) startRelease(v *vmEntry, inj *tapio.Injector, returned bool) (drained <-chan struct{}, err error) {
	v.mu.Lock()
	if v.release.done != nil {
		v.mu.Unlock()
		inj.Close()
		return v.release.drained, nil
	}
	rate := h.d.cfg.replayRate(v.captureRate(h.d.maps, returned))
	inj.Pace(rate, h.d.cfg.ReplayBurst)
	v.stats.update(func(s *api.HandoffStats) { s.ReplayRate = rate })
	v.log.Debug("replay paced", "rate", rate, "burst", h.d.cfg.ReplayBurst)
	if err := h.setMode(v, modeRelease, "release", nil); err != nil {
		v.mu.Unlock()
		inj.Close()
		return nil, err
	}
	done, dr := make(chan struct{}), make(chan struct{})
	v.release = releasing{done: done, drained: dr}
	v.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.releaseLoop(v, inj, returned, dr)
		v.mu.Lock()
		v.release = releasing{}
		v.mu.Unlock()
		close(done)
	}()
	return dr, nil
}

// replay gives v's captured frames to its tap (RELEASE, see startRelease)
// and returns once they are in, or ctx ends: a source's BUFFER going back
// (returned), or held frames going on. If no injector opens, the frames
// are dropped and counted ("inject") and the traffic passes.
func (h *Handoff) replay(ctx context.Context, v *vmEntry, tap string, returned bool) error {
	if tap == "" {
		return errors.New("no tap")
	}
	inj, err := tapio.NewInjector(tap, v.log)
	if err != nil {
		v.mu.Lock()
		h.setMode(v, modePass, "", nil)
		queued, inRing := v.dropUnsent(h.d.maps)
		v.mu.Unlock()
		n := queued + inRing
		v.stats.drop(dropInject, n)
		v.finish(queued)
		return fmt.Errorf("%w (%d captured frames dropped)", err, n)
	}
	drained, err := h.startRelease(v, inj, returned)
	if err != nil {
		return err
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("replaying captured frames: %w", ctx.Err())
	}
}

func (h *Handoff) releaseLoop(v *vmEntry, inj *tapio.Injector, returned bool, drained chan struct{}) {
	ctx := h.d.ctx
	isDrained := false
	markDrained := func() {
		if !isDrained {
			isDrained = true
			close(drained)
			v.stats.enter("", time.Now())
		}
	}
	defer markDrained()
	var injected, failed uint64
	poll := releasePoll
	// New traffic waits behind the replay (RELEASE captures it): the pace
	// must stay above its rate or the backlog never drains. It is measured
	// as the replay goes and the pace raised to ReplayFactor times it.
	capBase, _ := h.d.maps.capturedOf(v.key)
	capAt := time.Now()
	for ctx.Err() == nil {
		if now := time.Now(); now.Sub(capAt) >= rateWindow {
			if c, err := h.d.maps.capturedOf(v.key); err == nil {
				r := float64(c-capBase) / now.Sub(capAt).Seconds()
				if old := inj.Rate(); ReplayFactor*r > 1.25*old && old > 0 { // hysteresis: noise does not count
					inj.RaiseRate(ReplayFactor * r)
					v.stats.update(func(s *api.HandoffStats) { s.ReplayRate = ReplayFactor * r })
					v.log.Info("replay pace raised", "from", old, "to", ReplayFactor*r, "arriving", r)
				}
				capBase, capAt = c, now
			}
		}
		wake := v.queue.Wait()
		if f, ok := v.queue.Pop(); ok {
			if err := inj.Inject(ctx, f.Data); err != nil {
				failed++
				v.stats.drop(dropInject, 1)
				v.log.Warn("re-injecting a captured frame", "err", err)
			} else {
				injected++
				v.stats.update(func(s *api.HandoffStats) {
					if returned {
						s.Returned++
					} else {
						s.Released++
					}
				})
			}
			v.finish(1)
			continue
		}
		st, exists, err := h.d.maps.state(v.key)
		if err != nil || !exists || st.Mode != modeRelease {
			break // PASS (flipped by the program), or the entry changed under us
		}
		captured, err := h.d.maps.capturedOf(v.key)
		if err != nil {
			break
		}
		if v.released() >= captured {
			markDrained()
			if h.passReleased(v) {
				break
			}
			poll = min(poll*2, releasePollMax)
		}
		t := time.NewTimer(poll)
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	res, err := inj.Close()
	if err != nil {
		v.log.Warn("closing injector", "err", err)
	}
	v.stats.drop(dropTapFull, res.TxDropped)
	v.mu.Lock()
	if v.stall.on {
		v.stall.caused += res.TxDropped + res.Refused
	}
	v.mu.Unlock()
	v.log.Info("release over", "injected", injected, "failed", failed, "tx_dropped", res.TxDropped)
}

// passReleased sets PASS once every captured frame is in, as the program
// does at the next frame on the same condition (and, the condition once
// true, captures nothing more), so that the release of a guest without
// traffic ends too: until then a post-copy's end waited for a frame (an
// idle guest's move took 30 s longer, its flush reported unconfirmed).
// False if the mode is no longer RELEASE (the program flipped it, or user
// space set another) or the write failed.
func (h *Handoff) passReleased(v *vmEntry) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	st, exists, err := h.d.maps.state(v.key)
	if err != nil || !exists || st.Mode != modeRelease {
		return false
	}
	if err := h.setMode(v, modePass, "", nil); err != nil {
		v.log.Warn("passing after the release", "err", err)
		return false
	}
	return true
}

// captureRate is the rate (frames/s) at which v's queued frames were
// captured: in BUFFER for a source giving them back, in HOLD for a
// destination; 0 when that mode lasted too short a time to tell.
func (v *vmEntry) captureRate(m *bpfMaps, returned bool) float64 {
	ctr, err := m.countersOf(v.key)
	if err != nil {
		return 0
	}
	snap := v.stats.snapshot(ctr, 0, time.Now())
	n, d := snap.Held, time.Duration(snap.Modes["hold"])
	if returned {
		n, d = snap.Buffered, time.Duration(snap.Modes["buffer"])
	}
	if d < minRateWindow {
		return 0
	}
	return float64(n) / d.Seconds()
}

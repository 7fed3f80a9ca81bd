package dataplane

import (
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Release polling: while RELEASE waits for the next frame to flip it to
// PASS, the mode is re-read this often (backing off once drained).
const (
	releasePoll    = 2 * time.Millisecond
	releasePollMax = 100 * time.Millisecond
)

// startRelease sets RELEASE and re-injects v's queued frames into its tap
// with inj (which it closes), in order, finishing each, until the program
// has flipped the mode to PASS (captured == released): no new frame can
// overtake a re-injected one. drained is closed once every frame captured
// so far is injected. returned says whether this is the source giving
// frames back (rollback) or the destination releasing its HOLD.
func (h *Handoff) startRelease(v *vmEntry, inj *Injector, returned bool) (drained <-chan struct{}, err error) {
	v.mu.Lock()
	if v.releasing != nil {
		v.mu.Unlock()
		inj.Close()
		return v.releasingDrained, nil
	}
	if err := h.setMode(v, modeRelease, "release", nil); err != nil {
		v.mu.Unlock()
		inj.Close()
		return nil, err
	}
	done, dr := make(chan struct{}), make(chan struct{})
	v.releasing, v.releasingDrained = done, dr
	v.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.releaseLoop(v, inj, returned, dr)
		v.mu.Lock()
		v.releasing, v.releasingDrained = nil, nil
		v.mu.Unlock()
		close(done)
	}()
	return dr, nil
}

func (h *Handoff) releaseLoop(v *vmEntry, inj *Injector, returned bool, drained chan struct{}) {
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
	for ctx.Err() == nil {
		wake := v.queue.Wait()
		if f, ok := v.queue.Pop(); ok {
			if err := inj.Inject(ctx, f.data); err != nil {
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
		v.relMu.Lock()
		rel := v.released
		v.relMu.Unlock()
		if rel >= captured {
			markDrained()
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
	v.log.Info("release over", "injected", injected, "failed", failed, "tx_dropped", res.TxDropped)
}

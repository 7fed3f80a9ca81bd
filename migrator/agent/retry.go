package agent

import "time"

// The retry of the writes the store failed (storeLater): in the background
// while the agent runs, once more at its shutdown.

// Retrying kept writes: the first interval, doubled up to the last; a
// warning at most every retryWarnEvery while the store fails.
const (
	retryFirst     = 100 * time.Millisecond
	retryLast      = 5 * time.Second
	retryWarnEvery = time.Minute
)

// startRetrying starts the retry loop unless it runs or the agent is
// shutting down (shutdown tries the kept writes itself). Called with
// writes.mu held.
func (a *Agent) startRetrying() {
	if a.writes.retrying != nil {
		return
	}
	select {
	case <-a.quit:
		return
	default:
	}
	done := make(chan struct{})
	a.writes.retrying = done
	go a.retryKept(done)
}

// retryKept retries the kept writes, backing off, until none is left or
// the agent shuts down.
func (a *Agent) retryKept(done chan struct{}) {
	defer close(done)
	wait := retryFirst
	for {
		t := time.NewTimer(wait)
		select {
		case <-a.quit:
			t.Stop()
			return
		case <-t.C:
		}
		a.writes.mu.Lock()
		left := a.flushKept()
		if left == 0 {
			a.writes.retrying = nil
			a.writes.mu.Unlock()
			return
		}
		if time.Since(a.writes.warned) >= retryWarnEvery {
			a.writes.warned = time.Now()
			a.log.Warn("the store still fails writes: retrying", "kept", left, "err", a.writes.lastErr)
		}
		a.writes.mu.Unlock()
		wait = min(2*wait, retryLast)
	}
}

// flushKept tries every kept write again and returns how many the store
// still fails. Called with writes.mu held.
func (a *Agent) flushKept() int {
	for key, k := range a.writes.kept {
		k.tries++
		if err := k.apply(a.cfg.Store); err != nil {
			k.err, a.writes.lastErr = err, err
			continue
		}
		delete(a.writes.kept, key)
		a.log.Info("kept store write stored", "record", key, "after", time.Since(k.since).Round(time.Millisecond), "tries", k.tries)
	}
	return len(a.writes.kept)
}

// stopRetrying ends the retry loop (the agent is shutting down: quit is
// closed) and tries the kept writes once more. Those the store still
// fails are lost, and logged: the next start reconciles from the records
// the store holds, which say no more than the truth for a running guest.
func (a *Agent) stopRetrying() {
	a.writes.mu.Lock()
	done := a.writes.retrying
	a.writes.mu.Unlock()
	if done != nil {
		<-done
	}
	a.writes.mu.Lock()
	defer a.writes.mu.Unlock()
	a.writes.retrying = nil
	if a.flushKept() == 0 {
		return
	}
	for key, k := range a.writes.kept {
		a.log.Error("store write lost at shutdown: the next start goes by the stored record", "record", key,
			"since", k.since.UTC().Format(time.RFC3339), "err", k.err)
	}
}

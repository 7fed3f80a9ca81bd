package main

import (
	"sync"
	"time"
)

// procWatch reads a process's CPU times every procWatchEvery until it is
// stopped or the process is gone: the CPU of a process that another one
// ends and reaps (libvirt's source QEMU, which libvirt takes down at the
// end of its migration), up to its last reading.
type procWatch struct {
	mu   sync.Mutex
	last procTimes
	ok   bool
	done chan struct{}
	wg   sync.WaitGroup
}

// procWatchEvery is how often procWatch reads: what it can miss of a
// process's last moments.
const procWatchEvery = 10 * time.Millisecond

// watchProc starts reading pid's CPU times; the first reading is taken
// before it returns.
func watchProc(pid int) *procWatch {
	w := &procWatch{done: make(chan struct{})}
	w.read(pid)
	w.wg.Go(func() {
		t := time.NewTicker(procWatchEvery)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				if !w.read(pid) {
					return
				}
			}
		}
	})
	return w
}

// read takes one reading; false once the process is gone.
func (w *procWatch) read(pid int) bool {
	p, err := readProcTimes(pid)
	if err != nil {
		return false
	}
	w.mu.Lock()
	w.last, w.ok = p, true
	w.mu.Unlock()
	return true
}

// stop ends the readings and returns the last one (ok false: none).
func (w *procWatch) stop() (procTimes, bool) {
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.ok
}

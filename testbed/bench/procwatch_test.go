package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// A watched process's last reading is at least its first.
func TestProcWatch(t *testing.T) {
	p0, err := readProcTimes(os.Getpid())
	if err != nil {
		t.Skip(err)
	}
	w := watchProc(os.Getpid())
	for i := 0; i < 1e6; i++ { // some CPU time
		_ = strings.Repeat("x", i%64)
	}
	time.Sleep(3 * procWatchEvery)
	last, ok := w.stop()
	if !ok || last.Self < p0.Self {
		t.Errorf("last reading %+v (ok %v), first %+v", last, ok, p0)
	}
}

package main

import (
	"fmt"
	"syscall"
	"time"
)

// coldMemory measures what touching fresh memory costs on this machine:
// once with memory freed a moment before, once with memory left free for
// coldWait. A destination QEMU touches every guest page it loads, so a move
// pays this per page. On the test machines (themselves VMs that report
// free memory back to their host) the second is 15-35 times the first:
// 15-27 ms against 240-580 ms per 256 MiB, measured. The bench treats every
// method alike (each source QEMU quits as its guest runs at the
// destination), and prints both figures so a reader can tell how much of
// a move was the machine's.
type coldMemory struct {
	Warm time.Duration `json:"warm_ns"` // first touch of memory freed just before
	Cold time.Duration `json:"cold_ns"` // first touch after coldWait
}

const (
	touchBytes = 256 << 20
	coldWait   = 5 * time.Second
)

// measureColdMemory touches touchBytes three times: to start from a known
// state, after coldWait (cold), and at once again (warm).
func measureColdMemory() (coldMemory, error) {
	if _, err := touch(touchBytes); err != nil {
		return coldMemory{}, err
	}
	time.Sleep(coldWait)
	var m coldMemory
	var err error
	if m.Cold, err = touch(touchBytes); err != nil {
		return m, err
	}
	m.Warm, err = touch(touchBytes)
	return m, err
}

// touch maps n bytes as QEMU maps guest RAM (private, anonymous, huge
// pages advised), writes one byte per page, unmaps them and says how long
// the writes took.
func touch(n int) (time.Duration, error) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return 0, fmt.Errorf("mapping %d bytes: %w", n, err)
	}
	defer syscall.Munmap(b)
	syscall.Madvise(b, syscall.MADV_HUGEPAGE) // as QEMU does; without THP it is only advice
	t := time.Now()
	for i := 0; i < n; i += syscall.Getpagesize() {
		b[i] = 1
	}
	return time.Since(t), nil
}

func (m coldMemory) String() string {
	return fmt.Sprintf("first touch of %d MiB on this machine: %v freed just before, %v freed %v before",
		touchBytes>>20, m.Warm.Round(time.Millisecond), m.Cold.Round(time.Millisecond), coldWait)
}

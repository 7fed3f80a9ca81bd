package verify

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// pinSender keeps the calling goroutine on one OS thread bound to one CPU
// (the lowest it may run on) until the returned func is called. A UDP
// packet sent into a veth is processed on the sending CPU's backlog; a
// sender that hops CPUs while one CPU's softirq work is deferred (a busy
// machine: two TCG guests on two cores) has its later packets overtake
// its earlier ones in the kernel, before any hand-off sees them. One CPU
// keeps the test flow in the order it was sent, as one NIC queue would.
func pinSender() (unpin func()) {
	runtime.LockOSThread()
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return runtime.UnlockOSThread
	}
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if set.IsSet(cpu) {
			var one unix.CPUSet
			one.Set(cpu)
			if unix.SchedSetaffinity(0, &one) != nil {
				return runtime.UnlockOSThread
			}
			break
		}
	}
	// The thread is bound: Go must not reuse it for other goroutines.
	return func() {}
}

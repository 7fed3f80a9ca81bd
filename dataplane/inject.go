package dataplane

import "time"

// InjectResult is an Injector's account when it closes.
type InjectResult struct {
	Injected  uint64 // frames handed to the device
	TxDropped uint64 // the device's tx_dropped increase while the injector was open (must be 0 for a tap)
}

// Pacing of injection into a tap.
const (
	injectPoll     = 200 * time.Microsecond // re-read the tap's counters this often while over the limit
	injectMinLimit = 16
)

// injectLimit is how many injected frames may wait unread in a device with
// queue length qlen: half of it, at least injectMinLimit.
func injectLimit(qlen uint32) uint64 {
	return max(uint64(qlen)/2, injectMinLimit)
}

package tapio

import "time"

// InjectResult is an Injector's account when it closes.
type InjectResult struct {
	Injected  uint64 // frames handed to the device
	TxDropped uint64 // the device's tx_dropped increase while the injector was open, less Refused (must be 0 for a tap)
	// Refused counts writes the device refused with its queue full
	// (ENOBUFS; tun counts each in tx_dropped) and that were retried.
	Refused uint64
}

// Pacing of injection into a tap.
const (
	injectPoll = 200 * time.Microsecond // re-read the tap's counters this often while over the limit
	// refusedMax bounds the retries of a frame the device refuses (its
	// queue full: frames queued before the injector opened, which its
	// estimate cannot see, or a reader that stalls): then it fails.
	refusedMax     = 5 * time.Second
	injectRetry    = 2 * time.Millisecond // between two writes the device refused
	injectMinLimit = 16
)

// injectLimit is how many injected frames may wait unread in a device with
// queue length qlen: half of it, at least injectMinLimit.
func injectLimit(qlen uint32) uint64 {
	return max(uint64(qlen)/2, injectMinLimit)
}

// pacer is a token bucket: at most rate frames per second on average, with
// bursts of up to burst frames. A zero pacer does not pace.
type pacer struct {
	rate   float64 // frames per second (0: unpaced)
	burst  float64
	tokens float64
	last   time.Time
}

func newPacer(rate float64, burst int) pacer {
	b := float64(max(burst, 1))
	return pacer{rate: rate, burst: b, tokens: b}
}

// wait returns how long to wait before the next frame may go at now (0:
// now, and the frame's token is taken).
func (p *pacer) wait(now time.Time) time.Duration {
	if p.rate <= 0 {
		return 0
	}
	if !p.last.IsZero() {
		p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	p.last = now
	d := time.Duration((1 - p.tokens) / p.rate * float64(time.Second))
	if p.tokens >= 1 || d <= 0 {
		p.tokens = max(p.tokens-1, 0)
		return 0
	}
	return d
}

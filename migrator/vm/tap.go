package vm

import "github.com/nfhandoff/nfhandoff/migrator/handoff"

// StartOptions are the options of StartWith.
type StartOptions struct {
	// Incoming starts QEMU with "-incoming defer -S" (see StartIncoming).
	Incoming bool
	// BeforeQEMU, if set, runs once the guest's tap exists and before QEMU
	// starts (e.g. to attach the dataplane to the tap). Its error fails
	// the start, and the tap is removed.
	BeforeQEMU handoff.TapHook
}

// Tap is the guest's tap device (File is nil for an adopted guest whose tap
// was not recovered).
func (i *Instance) Tap() handoff.Tap {
	i.mu.Lock()
	defer i.mu.Unlock()
	return handoff.Tap{Name: i.rec.Tap, Ifindex: i.ifindex, File: i.tap}
}

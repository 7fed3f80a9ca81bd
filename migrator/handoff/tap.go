package handoff

import (
	"context"
	"os"
)

// Tap is one of a guest's tap devices on this host: a guest has one per
// NIC, NIC 0 first (api.VMSpec.AllNICs order).
type Tap struct {
	NIC     int // the NIC's index in spec.AllNICs()
	Name    string
	Ifindex int // 0 if unknown
	// File is the agent's own descriptor of the tap (the same open file as
	// QEMU's; nil for an adopted guest whose tap was not recovered). Never
	// call File.Fd(): it would switch the shared file to blocking mode; use
	// File.SyscallConn().
	File *os.File
}

// TapHook runs for each of a starting guest's taps once it exists, before
// its QEMU starts (e.g. to attach the dataplane to the tap); its error fails
// the start and the taps are removed.
type TapHook func(ctx context.Context, tap Tap) error

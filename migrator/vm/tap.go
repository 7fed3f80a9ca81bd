package vm

import (
	"context"
	"os"
)

// Tap is a guest's tap device, as the dataplane needs it.
type Tap struct {
	Name    string
	Ifindex int // 0 if unknown
	// File is the launcher's own descriptor of the tap (the same open file
	// as QEMU's; nil for an adopted guest whose tap was not recovered).
	// Never call File.Fd(): it would switch the shared file to blocking
	// mode; use File.SyscallConn().
	File *os.File
}

// StartOptions are the options of StartWith.
type StartOptions struct {
	// Incoming starts QEMU with "-incoming defer -S" (see StartIncoming).
	Incoming bool
	// BeforeQEMU, if set, runs once the guest's tap exists and before QEMU
	// starts (e.g. to attach the dataplane to the tap). Its error fails
	// the start, and the tap is removed.
	BeforeQEMU func(ctx context.Context, tap Tap) error
}

// Tap is the guest's tap device.
func (i *Instance) Tap() Tap {
	i.mu.Lock()
	defer i.mu.Unlock()
	return Tap{Name: i.rec.Tap, Ifindex: i.ifindex, File: i.tap}
}

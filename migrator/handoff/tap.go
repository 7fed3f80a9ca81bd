package handoff

import (
	"context"
	"os"
)

// Tap is a guest's tap device on this host.
type Tap struct {
	Name    string
	Ifindex int // 0 if unknown
	// File is the agent's own descriptor of the tap (the same open file as
	// QEMU's; nil for an adopted guest whose tap was not recovered). Never
	// call File.Fd(): it would switch the shared file to blocking mode; use
	// File.SyscallConn().
	File *os.File
}

// TapHook runs once a starting guest's tap exists, before its QEMU starts
// (e.g. to attach the dataplane to the tap); its error fails the start and
// the tap is removed.
type TapHook func(ctx context.Context, tap Tap) error

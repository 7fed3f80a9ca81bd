//go:build !linux

package tchook

import (
	"fmt"
	"log/slog"
	"runtime"

	"github.com/cilium/ebpf"
)

// Spec says where a program goes.
type Spec struct {
	PinDir, Dev, Name   string
	Ifindex             int
	Egress, ForceClsact bool
}

// Hook is a program attached to one device (Linux only).
type Hook struct{ Spec }

// Attach is not implemented on this GOOS.
func Attach(s Spec, prog *ebpf.Program, log *slog.Logger) (*Hook, error) {
	return nil, fmt.Errorf("attaching %s to %s: not implemented on %s", s.Name, s.Dev, runtime.GOOS)
}

func (h *Hook) On(dev string, ifindex int) bool { return h.Dev == dev && h.Ifindex == ifindex }
func (h *Hook) TCX() bool                       { return false }
func (h *Hook) Close() error                    { return nil }
func (h *Hook) Detach() error                   { return nil }

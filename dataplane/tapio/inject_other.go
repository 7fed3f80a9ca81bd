//go:build !linux

package tapio

import (
	"context"
	"fmt"
	"log/slog"
)

// Injector is not implemented on this GOOS.
type Injector struct{}

// NewInjector is not implemented on this GOOS.
func NewInjector(ifname string, logger *slog.Logger) (*Injector, error) {
	return nil, fmt.Errorf("injector on %s: %w", ifname, errNotLinux)
}

// Pace is not implemented on this GOOS.
func (in *Injector) Pace(rate float64, burst int) {}

// Rate is not implemented on this GOOS.
func (in *Injector) Rate() float64 { return 0 }

// RaiseRate is not implemented on this GOOS.
func (in *Injector) RaiseRate(rate float64) {}

// Limit is not implemented on this GOOS.
func (in *Injector) Limit() uint64 { return 0 }

// Inject is not implemented on this GOOS.
func (in *Injector) Inject(ctx context.Context, b []byte) error { return errNotLinux }

// Close is not implemented on this GOOS.
func (in *Injector) Close() (InjectResult, error) { return InjectResult{}, errNotLinux }

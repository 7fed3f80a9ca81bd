//go:build !linux

package dataplane

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

// Limit is not implemented on this GOOS.
func (in *Injector) Limit() uint64 { return 0 }

// Inject is not implemented on this GOOS.
func (in *Injector) Inject(ctx context.Context, frame []byte) error { return errNotLinux }

// Close is not implemented on this GOOS.
func (in *Injector) Close() (InjectResult, error) { return InjectResult{}, errNotLinux }

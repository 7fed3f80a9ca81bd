//go:build !linux

package dataplane

import (
	"context"
	"errors"
	"net/netip"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// ErrNotSupported is returned by New where there is no eBPF dataplane.
var ErrNotSupported = errors.New("dataplane: not implemented on " + runtime.GOOS)

// Dataplane is the eBPF hand-off dataplane (Linux only).
type Dataplane struct{}

// Handoff is the dataplane's handoff.Handoff (Linux only).
type Handoff = handoff.Nop

// New is not implemented on this GOOS.
func New(ctx context.Context, cfg Config) (*Dataplane, error) { return nil, ErrNotSupported }

func (d *Dataplane) Close() error                    { return nil }
func (d *Dataplane) Handoff() *Handoff               { return &Handoff{} }
func (d *Dataplane) Collector() prometheus.Collector { return prometheus.NewRegistry() }

// SetTunnelPeers is not implemented on this GOOS.
func (d *Dataplane) SetTunnelPeers([]netip.Addr) error { return ErrNotSupported }

package vnfproto

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Retry timing of Query: the first attempt waits firstTimeout for a reply,
// each retry doubles it up to maxTimeout.
const (
	firstTimeout = 200 * time.Millisecond
	maxTimeout   = time.Second
)

// Query asks the vnf at addr for its status. It sends a request, waits a short
// while for the matching reply, and resends until one arrives or ctx ends.
// Replies carrying another nonce (late answers to someone else) are ignored.
func Query(ctx context.Context, addr netip.AddrPort) (Status, error) {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return Status{}, fmt.Errorf("dialing %s: %w", addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	var nb [8]byte
	rand.Read(nb[:])
	nonce := binary.BigEndian.Uint64(nb[:])
	req := AppendRequest(nil, Request{Nonce: nonce})
	buf := make([]byte, 512)
	timeout := firstTimeout
	var lastErr error
	for {
		if ctx.Err() != nil {
			return Status{}, queryErr(ctx, addr, lastErr)
		}
		if _, err := conn.Write(req); err != nil {
			// ICMP errors (e.g. port unreachable while the guest boots) surface
			// here or on Read; keep trying until ctx ends.
			lastErr = err
		}
		deadline := time.Now().Add(timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if ctx.Err() == nil {
			conn.SetReadDeadline(deadline)
		}
		for {
			n, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					lastErr = err
					// Avoid a hot loop on repeated ICMP errors.
					sleepCtx(ctx, time.Until(deadline))
				}
				break
			}
			got, s, err := DecodeStatus(buf[:n])
			if err != nil {
				lastErr = err
				continue
			}
			if got == nonce {
				return s, nil
			}
		}
		timeout = min(2*timeout, maxTimeout)
	}
}

func queryErr(ctx context.Context, addr netip.AddrPort, last error) error {
	if last != nil {
		return fmt.Errorf("querying vnf status at %s: %w (last error: %v)", addr, ctx.Err(), last)
	}
	return fmt.Errorf("querying vnf status at %s: %w", addr, ctx.Err())
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

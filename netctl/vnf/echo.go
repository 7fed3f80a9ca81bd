package vnf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"
)

// echoServer is an RFC 862 UDP echo server: every datagram goes back to its
// sender unchanged.
type echoServer struct {
	log     *slog.Logger
	answers atomic.Uint64
}

// serve echoes datagrams on conn until ctx ends, then closes conn.
func (e *echoServer) serve(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	defer conn.Close()
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("reading echo request: %w", err)
			}
			e.log.Debug("echo read", "err", err)
			continue
		}
		e.answers.Add(1) // counted before it leaves, as the reflector's (twamp.Reflector.Serve)
		if _, err := conn.WriteToUDPAddrPort(buf[:n], from); err != nil {
			e.log.Debug("echo write", "to", from, "err", err)
			e.answers.Add(^uint64(0))
			continue
		}
	}
}

package vnfproto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Answer builds the reply to the request in req, appending it to dst.
// status is called only for a well-formed request.
func Answer(dst, req []byte, status func() Status) ([]byte, error) {
	r, err := DecodeRequest(req)
	if err != nil {
		return dst, err
	}
	return AppendStatus(dst, r.Nonce, status()), nil
}

// Serve answers status requests arriving on pc until ctx ends, then closes pc.
// Malformed packets are logged at debug level and dropped.
func Serve(ctx context.Context, pc net.PacketConn, status func() Status, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stop := context.AfterFunc(ctx, func() { pc.SetDeadline(time.Now()) })
	defer stop()
	defer pc.Close()
	buf := make([]byte, 2048)
	out := make([]byte, 0, StatusLen)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("reading status request: %w", err)
			}
			log.Debug("status read", "err", err)
			continue
		}
		out, err = Answer(out[:0], buf[:n], status)
		if err != nil {
			log.Debug("dropping status request", "from", from, "err", err)
			continue
		}
		if _, err := pc.WriteTo(out, from); err != nil {
			log.Debug("status reply", "to", from, "err", err)
		}
	}
}

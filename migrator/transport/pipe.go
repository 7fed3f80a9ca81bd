package transport

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// Pipe copies local to s and s to local at the same time, the way a QEMU
// migration channel needs: when one side ends its direction (EOF), the
// other side's write direction is half-closed (FIN on the stream,
// CloseWrite on a *net.UnixConn or *net.TCPConn), and Pipe returns once
// both directions are done. On an error in either direction, or when ctx
// ends, both are torn down at once (the stream canceled, local closed).
// Pipe closes local before it returns. sent counts bytes from local to s,
// received bytes from s to local.
func Pipe(ctx context.Context, local net.Conn, s *Stream) (sent, received int64, err error) {
	if _, ok := local.(interface{ CloseWrite() error }); !ok {
		s.Cancel()
		local.Close()
		return 0, 0, fmt.Errorf("piping %T: local connection cannot half-close", local)
	}
	var (
		once     sync.Once
		firstErr error
	)
	abort := func(e error) {
		once.Do(func() {
			firstErr = e
			s.Cancel()
			local.Close()
		})
	}
	stop := context.AfterFunc(ctx, func() { abort(ctx.Err()) })
	defer stop()

	var wg sync.WaitGroup
	wg.Go(func() {
		var err error
		sent, err = copyCount(s, local)
		if err == nil {
			err = s.CloseWrite()
		}
		if err != nil {
			abort(fmt.Errorf("local to stream: %w", err))
		}
	})
	wg.Go(func() {
		var err error
		received, err = s.WriteTo(local)
		if err == nil {
			err = closeWrite(local)
		}
		if err != nil {
			abort(fmt.Errorf("stream to local: %w", err))
		}
	})
	wg.Wait()
	once.Do(func() { local.Close() })
	if firstErr != nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return sent, received, firstErr
}

// closeWrite half-closes c (Pipe checked that it can).
func closeWrite(c net.Conn) error {
	return c.(interface{ CloseWrite() error }).CloseWrite()
}

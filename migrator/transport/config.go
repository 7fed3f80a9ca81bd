package transport

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/pki"
	"github.com/quic-go/quic-go"
)

// ALPN is the application protocol both ends must offer.
const ALPN = "nfhandoff/1"

// Config configures a Node.
type Config struct {
	Identity    *pki.Identity
	Listen      string        // UDP address to serve on, e.g. "198.18.0.11:7443"; empty: dial only
	Peers       string        // peers file: lines "hostB 198.18.0.12:7443", '#' comments; read on every dial
	IdleTimeout time.Duration // a silent peer is declared dead after this; default DefaultIdleTimeout
	KeepAlive   time.Duration // keep-alive period; default DefaultKeepAlive
	Logger      *slog.Logger  // nil: discard
	// Accept is called, in its own goroutine, for every accepted and
	// authenticated connection. Its ctx ends when Serve's ctx ends or the
	// connection dies.
	Accept func(ctx context.Context, c *Conn)
}

// Liveness defaults. A migration in flight must notice a dead peer or a
// cut path within about 2 s (before the commit it rolls back, and the
// guest's traffic sits in BUFFER meanwhile); four keep-alives a timeout
// keep a live but busy peer from being declared dead. A pooled connection
// that dies idle is simply dialed again.
const (
	DefaultIdleTimeout = 2 * time.Second
	DefaultKeepAlive   = 500 * time.Millisecond
)

// Flow-control windows: migration streams move gigabytes, so windows must
// not be what limits throughput. quic-go grows them from the initial to the
// max value as the reader keeps up; memory is only used for unread data.
const (
	streamWindowInitial = 16 << 20
	streamWindowMax     = 64 << 20
	connWindowInitial   = 64 << 20
	connWindowMax       = 256 << 20
	maxIncomingStreams  = 256
)

func (c *Config) setDefaults() {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	switch {
	case c.Identity == nil:
		return errors.New("no identity")
	case c.IdleTimeout < 0 || c.KeepAlive < 0:
		return errors.New("negative timeout")
	case c.KeepAlive >= c.IdleTimeout:
		return errors.New("keep-alive period must be shorter than the idle timeout")
	case c.Listen != "" && c.Accept == nil:
		return errors.New("listening without an Accept function")
	}
	return nil
}

func (c *Config) quicConfig() *quic.Config {
	hs := 5 * time.Second
	if c.IdleTimeout < hs {
		hs = c.IdleTimeout
	}
	return &quic.Config{
		HandshakeIdleTimeout:           hs,
		MaxIdleTimeout:                 c.IdleTimeout,
		KeepAlivePeriod:                c.KeepAlive,
		InitialStreamReceiveWindow:     streamWindowInitial,
		MaxStreamReceiveWindow:         streamWindowMax,
		InitialConnectionReceiveWindow: connWindowInitial,
		MaxConnectionReceiveWindow:     connWindowMax,
		MaxIncomingStreams:             maxIncomingStreams,
		MaxIncomingUniStreams:          4,
	}
}

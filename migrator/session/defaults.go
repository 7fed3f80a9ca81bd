package session

import (
	"log/slog"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// The default fillers both ends' configs share.

// orNop is h, or handoff.Nop (no dataplane) when h is nil.
func orNop(h handoff.Handoff) handoff.Handoff {
	if h == nil {
		return handoff.Nop{}
	}
	return h
}

// orDiscard is l, or a logger that discards everything when l is nil.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// orDuration sets *d to def unless *d is positive.
func orDuration(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

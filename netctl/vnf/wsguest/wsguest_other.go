//go:build !linux

package wsguest

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// DefaultPort is the name of the port migratord gives its guests.
const DefaultPort = wsreport.PortName

// Config configures Run.
type Config struct {
	Port         string
	Hot          []byte
	Bulk         []byte
	MinGap       time.Duration
	WriteTimeout time.Duration
	Retry        time.Duration
	Lies         []string
}

// Run logs that reports are not implemented on GOOS and returns.
func Run(ctx context.Context, cfg Config, log *slog.Logger) {
	if log != nil {
		log.Warn("working-set reports not implemented on " + runtime.GOOS)
	}
}

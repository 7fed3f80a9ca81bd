//go:build !linux

package router

import (
	"fmt"
	"log/slog"
	"runtime"
)

func loadModules(string, string, *slog.Logger) error {
	return fmt.Errorf("loading modules: not implemented on %s", runtime.GOOS)
}

func readCounter(string, string) (uint64, error) {
	return 0, fmt.Errorf("reading nftables counters: not implemented on %s", runtime.GOOS)
}

package router

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// loadModules loads every module listed in list (paths relative to dir,
// dependencies first), skipping those already loaded or built in.
func loadModules(list, dir string, log *slog.Logger) error {
	f, err := os.Open(list)
	if err != nil {
		return fmt.Errorf("module list: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(p), ".ko")
		if _, err := os.Stat(filepath.Join("/sys/module", name)); err == nil {
			continue
		}
		if err := insmod(filepath.Join(dir, p)); err != nil {
			return err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("module list %s: %w", list, err)
	}
	log.Debug("netfilter modules loaded", "count", n)
	return nil
}

// insmod loads one (uncompressed) module file.
func insmod(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("module: %w", err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("loading %s: %w", path, err)
	}
	return nil
}

package vm

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Launcher starts, adopts and cleans up the guests of one agent.
type Launcher struct {
	cfg Config
	log *slog.Logger
	ns  netnsHandle // network namespace for taps (captured at NewLauncher)

	accelMu  sync.Mutex
	accelMem map[string]string // cache key -> accel
	qemuVer  string            // first line of `qemu -version`, once known

	// Timeouts (tests shorten them).
	qmpTimeout   time.Duration // QEMU start until QMP answers
	stopGrace    time.Duration // quit until SIGKILL
	probeTimeout time.Duration // accel boot test
}

// NewLauncher validates cfg and fills its defaults. Taps are created in
// the network namespace of the calling thread.
func NewLauncher(cfg Config) (*Launcher, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("vm config: %w", err)
	}
	ns, err := currentNetns()
	if err != nil {
		return nil, err
	}
	return &Launcher{
		cfg:          cfg,
		log:          cfg.Logger.With("host", cfg.Host),
		ns:           ns,
		accelMem:     make(map[string]string),
		qmpTimeout:   30 * time.Second,
		stopGrace:    10 * time.Second,
		probeTimeout: 20 * time.Second,
	}, nil
}

// Config returns the launcher's configuration with defaults filled.
func (l *Launcher) Config() Config { return l.cfg }

// imageFiles returns the kernel and initrd of image, checking both exist.
func (l *Launcher) imageFiles(image string) (kernel, initrd string, err error) {
	dir := filepath.Join(l.cfg.ImageDir, image)
	kernel = filepath.Join(dir, "vmlinuz")
	initrd = filepath.Join(dir, "initrd.img")
	for _, f := range []string{kernel, initrd} {
		st, err := os.Stat(f)
		if err != nil {
			return "", "", fmt.Errorf("%w: image %q: %s: %v", api.ErrNoImage, image, f, err)
		}
		if !st.Mode().IsRegular() {
			return "", "", fmt.Errorf("%w: image %q: %s is not a regular file", api.ErrNoImage, image, f)
		}
	}
	return kernel, initrd, nil
}

// inNetns runs fn in the launcher's network namespace.
func (l *Launcher) inNetns(fn func() error) error { return inNetns(l.ns, fn) }

// bounded is ctx limited to d more (for waits that must end).
func bounded(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// Close releases the launcher's handle on its network namespace. Running
// guests are not affected.
func (l *Launcher) Close() error { return l.ns.Close() }

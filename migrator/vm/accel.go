package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Accel returns the accelerator guests of image boot with: the configured
// one, or for "auto" the result of a real boot test under KVM ("kvm" if
// the image's probe marker appears, else "tcg"). The answer is cached in
// memory and in the shared AccelCache file (flock'd, so agents on one
// machine probe once), keyed by QEMU version and kernel file.
func (l *Launcher) Accel(ctx context.Context, image string) (string, error) {
	if l.cfg.Accel != AccelAuto {
		return l.cfg.Accel, nil
	}
	kernel, initrd, err := l.imageFiles(image)
	if err != nil {
		return "", err
	}
	l.accelMu.Lock()
	defer l.accelMu.Unlock()
	key, err := l.accelKey(ctx, kernel)
	if err != nil {
		return "", err
	}
	if a, ok := l.accelMem[key]; ok {
		return a, nil
	}
	a, err := l.cachedProbe(ctx, key, kernel, initrd)
	if err != nil {
		return "", err
	}
	l.accelMem[key] = a
	return a, nil
}

// accelKey identifies a probe result: QEMU version and kernel identity.
func (l *Launcher) accelKey(ctx context.Context, kernel string) (string, error) {
	if l.qemuVer == "" {
		out, err := exec.CommandContext(ctx, l.cfg.QEMU, "-version").Output()
		if err != nil {
			return "", fmt.Errorf("%s -version: %w", l.cfg.QEMU, err)
		}
		l.qemuVer = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	abs, err := filepath.Abs(kernel)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s|%s|%d|%d", l.qemuVer, abs, st.Size(), st.ModTime().UnixNano()), nil
}

// accelEntry is one cached probe result.
type accelEntry struct {
	Accel  string    `json:"accel"`
	Reason string    `json:"reason"`
	Probed time.Time `json:"probed"`
}

// cachedProbe looks key up in the cache file under its lock, probing and
// storing the answer if missing. Without a usable cache file it probes.
func (l *Launcher) cachedProbe(ctx context.Context, key, kernel, initrd string) (string, error) {
	path := l.cfg.AccelCache
	unlock, err := lockFile(ctx, path+".lock")
	if err != nil && ctx.Err() != nil {
		return "", fmt.Errorf("waiting for accel cache lock: %w", ctx.Err())
	}
	if err != nil {
		l.log.Warn("accel cache unusable, probing without it", "path", path, "err", err)
		a, reason := l.probe(ctx, kernel, initrd)
		if ctx.Err() != nil {
			return "", fmt.Errorf("accel probe: %w", ctx.Err())
		}
		l.log.Info("accel probed", "accel", a, "reason", reason)
		return a, nil
	}
	defer unlock()
	cache := map[string]accelEntry{}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &cache); err != nil {
			l.log.Warn("accel cache corrupt, ignoring it", "path", path, "err", err)
			cache = map[string]accelEntry{}
		}
	}
	if e, ok := cache[key]; ok && (e.Accel == AccelKVM || e.Accel == AccelTCG) {
		l.log.Info("accel from cache", "accel", e.Accel, "reason", e.Reason, "probed", e.Probed)
		return e.Accel, nil
	}
	a, reason := l.probe(ctx, kernel, initrd)
	if ctx.Err() != nil {
		return "", fmt.Errorf("accel probe: %w", ctx.Err())
	}
	l.log.Info("accel probed", "accel", a, "reason", reason)
	cache[key] = accelEntry{Accel: a, Reason: reason, Probed: time.Now().UTC()}
	if err := writeJSONAtomic(path, cache); err != nil {
		l.log.Warn("writing accel cache", "path", path, "err", err)
	}
	return a, nil
}

// lockFile takes an exclusive flock on path (created if missing), waiting
// until ctx ends.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o644)
}

// writeFileAtomic writes path through a temporary file beside it and a
// rename: a reader sees the old content or the new, never part of it.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

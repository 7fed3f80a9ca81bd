package vm

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
)

// Config configures a Launcher.
type Config struct {
	Host       string // agent name, for logs
	StateDir   string // per-VM files in StateDir/vms/<name>/
	ImageDir   string // images: ImageDir/<image>/{vmlinuz,initrd.img}
	Bridge     string // host bridge the taps join (default "nfh-br")
	QEMU       string // binary (default "qemu-system-x86_64")
	Accel      string // "auto" (default), "kvm" or "tcg"
	AccelCache string // default /var/cache/nfhandoff/accel.json
	Logger     *slog.Logger
}

// Defaults used when Config fields are empty.
const (
	DefaultBridge     = "nfh-br"
	DefaultQEMU       = "qemu-system-x86_64"
	DefaultAccelCache = "/var/cache/nfhandoff/accel.json"
	// MachineType is pinned so guests migrate between hosts.
	MachineType = "pc-i440fx-7.2"
)

// Accelerators.
const (
	AccelAuto = "auto"
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

func (c *Config) defaults() {
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if c.QEMU == "" {
		c.QEMU = DefaultQEMU
	}
	if c.Accel == "" {
		c.Accel = AccelAuto
	}
	if c.AccelCache == "" {
		c.AccelCache = DefaultAccelCache
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	if c.StateDir == "" {
		return errors.New("state dir not set")
	}
	if c.ImageDir == "" {
		return errors.New("image dir not set")
	}
	switch c.Accel {
	case AccelAuto, AccelKVM, AccelTCG:
	default:
		return fmt.Errorf("accel %q: want auto, kvm or tcg", c.Accel)
	}
	if len(c.Bridge) > 15 {
		return fmt.Errorf("bridge name %q longer than 15 characters", c.Bridge)
	}
	// A unix socket path must fit in sun_path (108 bytes with the NUL):
	// <state>/vms/<32-char name>/qmp.sock.
	if n := len(filepath.Join(c.StateDir, "vms", "x")) + 31 + len("/qmp.sock"); n > 107 {
		return fmt.Errorf("state dir %q too long for QMP socket paths (%d > 107 bytes)", c.StateDir, n)
	}
	return nil
}

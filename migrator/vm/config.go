package vm

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Config configures a Launcher.
type Config struct {
	Host       string            // agent name, for logs
	StateDir   string            // per-VM files in StateDir/vms/<name>/
	ImageDir   string            // images: ImageDir/<image>/{vmlinuz,initrd.img}
	Bridge     string            // bridge of the default network "" (default "nfh-br")
	Networks   map[string]string // further networks (api.NIC.Network) -> the bridge their taps join
	QEMU       string            // binary (default "qemu-system-x86_64")
	Accel      string            // "auto" (default), "kvm" or "tcg"
	AccelCache string            // default /var/cache/nfhandoff/accel.json
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
	c.Networks = maps.Clone(c.Networks) // the launcher's own
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
	for _, name := range slices.Sorted(maps.Keys(c.Networks)) {
		if err := CheckNetwork(name, c.Networks[name]); err != nil {
			return err
		}
	}
	// A unix socket path must fit in sun_path (108 bytes with the NUL):
	// <state>/vms/<32-char name>/qmp.sock.
	if n := len(filepath.Join(c.StateDir, "vms", "x")) + 31 + len("/qmp.sock"); n > 107 {
		return fmt.Errorf("state dir %q too long for QMP socket paths (%d > 107 bytes)", c.StateDir, n)
	}
	return nil
}

// nameRE is api.VMSpec's name rule (and its networks'); it guards paths
// built from a record.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// CheckNetwork checks a further network's name (as api.NIC.Network
// spells it; "" is the default network, Config.Bridge) and its bridge.
func CheckNetwork(name, bridge string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("network %q: want 1-32 characters of [a-z0-9-] starting with a letter", name)
	}
	if bridge == "" || len(bridge) > 15 || strings.ContainsAny(bridge, "/ \t\n") {
		return fmt.Errorf("network %s: bridge name %q: want 1-15 characters, no slash or space", name, bridge)
	}
	return nil
}

// bridge is the bridge of network ("" is the default one).
func (c *Config) bridge(network string) (string, error) {
	if network == "" {
		return c.Bridge, nil
	}
	if br, ok := c.Networks[network]; ok {
		return br, nil
	}
	return "", fmt.Errorf("network %q is not on host %s (it has %s)", network, c.Host, c.networkList())
}

// networkList names the host's networks for errors: "the default network"
// and the further ones.
func (c *Config) networkList() string {
	names := slices.Sorted(maps.Keys(c.Networks))
	if len(names) == 0 {
		return "the default network only"
	}
	return "the default network and " + strings.Join(names, ", ")
}

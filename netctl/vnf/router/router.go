package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// SetupError is a router setup that failed at Step.
type SetupError struct {
	Step vnfproto.RouterStep
	Err  error
}

func (e *SetupError) Error() string { return fmt.Sprintf("router setup (%v): %v", e.Step, e.Err) }
func (e *SetupError) Unwrap() error { return e.Err }

// Router is a router set up (or not) by Setup.
type Router struct {
	cfg    Config
	up     bool
	failed vnfproto.RouterStep
}

// Setup makes the guest a router as cfg says: it checks the interfaces,
// loads the modules, applies the ruleset and turns on IPv4 forwarding, in
// that order, stopping at the first step that fails (a *SetupError). The
// Router it returns reports its state either way.
func Setup(ctx context.Context, cfg Config, log *slog.Logger) (*Router, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.setDefaults()
	r := &Router{cfg: cfg}
	if err := cfg.validate(); err != nil {
		r.failed = vnfproto.StepInterfaces
		return r, &SetupError{vnfproto.StepInterfaces, err}
	}
	steps := []struct {
		step vnfproto.RouterStep
		do   func() error
	}{
		{vnfproto.StepInterfaces, func() error { return interfacesExist(cfg.In, cfg.Out) }},
		{vnfproto.StepModules, func() error { return loadModules(cfg.ModuleList, cfg.ModuleDir, log) }},
		{vnfproto.StepRuleset, func() error { return applyRuleset(ctx, cfg.Nft, Ruleset(cfg.In, cfg.Out)) }},
		{vnfproto.StepForwarding, func() error {
			return os.WriteFile(filepath.Join(cfg.ProcSys, "net/ipv4/ip_forward"), []byte("1\n"), 0)
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			r.failed = s.step
			return r, &SetupError{s.step, err}
		}
	}
	r.up = true
	log.Info("router up", "access", cfg.In, "core", cfg.Out, "table", "ip "+Table)
	return r, nil
}

func interfacesExist(names ...string) error {
	var errs []error
	for _, n := range names {
		if _, err := net.InterfaceByName(n); err != nil {
			errs = append(errs, fmt.Errorf("interface %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// applyRuleset feeds ruleset to nft -f on its stdin.
func applyRuleset(ctx context.Context, nft, ruleset string) error {
	cmd := exec.CommandContext(ctx, nft, "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s -f -: %w: %s", nft, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Status reports the router's state and counters; a nil Router is no
// router (the zero vnfproto.Router).
func (r *Router) Status() vnfproto.Router {
	if r == nil {
		return vnfproto.Router{}
	}
	s := vnfproto.Router{Flags: vnfproto.RouterRole, Failed: r.failed}
	if r.up {
		s.Flags |= vnfproto.RouterUp
	}
	// The count exists once nf_conntrack is loaded, up or not.
	if n, err := readUint(filepath.Join(r.cfg.ProcSys, "net/netfilter/nf_conntrack_count")); err == nil {
		s.Flags |= vnfproto.HasConntrack
		s.ConntrackEntries = n
	}
	if r.up {
		if n, err := readCounter(Table, DropCounter); err == nil {
			s.Flags |= vnfproto.HasForwardDrops
			s.ForwardDrops = n
		}
	}
	return s
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

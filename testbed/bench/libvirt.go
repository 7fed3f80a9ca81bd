package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/libvirt"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
	"github.com/nfhandoff/nfhandoff/testbed"
)

// lvSet is the testbed's libvirt daemons, one connection to each, shared
// by the libvirt methods (--libvirt).
type lvSet struct {
	env     testbed.Env
	daemons map[string]*golibvirt.Libvirt // by host; nil until Setup
}

// setup connects to every host's daemon, unless another libvirt method did.
func (s *lvSet) setup(ctx context.Context, hosts []*Host) error {
	if s.daemons != nil {
		return nil
	}
	s.daemons = map[string]*golibvirt.Libvirt{}
	for _, h := range hosts {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		l, err := libvirt.Dial(dctx, s.env.LibvirtSocket(h.Name))
		cancel()
		if err != nil {
			return fmt.Errorf("%s's libvirtd: %w", h.Name, err)
		}
		s.daemons[h.Name] = l
	}
	return nil
}

// close disconnects; closing twice is harmless.
func (s *lvSet) close() {
	for _, l := range s.daemons {
		l.Disconnect()
	}
	s.daemons = nil
}

// boot creates spec as a transient domain on h's daemon: the vnf image as
// migrator/vm's TCG guest (libvirt.DomainXML, with its RAM pad), on h's
// bridge, its console in the testbed's run dir (the same path for every
// daemon's QEMU).
func (s *lvSet) boot(spec api.VMSpec, h *Host) (Running, error) {
	img := filepath.Join(s.env.ImageDir, spec.Image)
	def, err := libvirt.DomainXML(libvirt.Guest{Spec: spec, Accel: vm.AccelTCG,
		Kernel: filepath.Join(img, "vmlinuz"), Initrd: filepath.Join(img, "initrd.img"),
		Bridges: []string{vm.DefaultBridge}, Console: filepath.Join(s.env.RunDir, spec.Name+".console")})
	if err != nil {
		return nil, err
	}
	if _, err := s.daemons[h.Name].DomainCreateXML(string(def), golibvirt.DomainNone); err != nil {
		return nil, fmt.Errorf("creating domain %s on %s: %w", spec.Name, h.Name, err)
	}
	g := lvGuest{s: s, host: h.Name, name: spec.Name}
	pid, err := s.qemuPID(h.Name, spec.Name)
	if err == nil {
		err = h.owns(pid)
	}
	if err != nil {
		stopGuest(g)
		return nil, err
	}
	return g, nil
}

// lvGuest is a domain on one host's daemon.
type lvGuest struct {
	s          *lvSet
	host, name string
}

// Stop destroys the domain if it is still on its host (not if it left).
func (g lvGuest) Stop(ctx context.Context) error {
	l := g.s.daemons[g.host]
	if l == nil {
		return nil
	}
	d, err := l.DomainLookupByName(g.name)
	if err != nil {
		return nil // gone (migrated away or destroyed)
	}
	return l.DomainDestroy(d)
}

// qemuPID is the pid of the QEMU of domain on host's daemon, from the pid
// file libvirt keeps in its /run/libvirt/qemu.
func (s *lvSet) qemuPID(host, domain string) (int, error) {
	return readPIDFile(filepath.Join(s.env.LibvirtDir(host), "run", "qemu", domain+".pid"))
}

// daemonPID is the pid of host's libvirtd (testbed/libvirt.sh's pid file).
func (s *lvSet) daemonPID(host string) (int, error) {
	return readPIDFile(filepath.Join(s.env.LibvirtDir(host), "libvirtd.pid"))
}

// agentPID is the pid of host's migratord (testbed/up's pid file).
func (s *lvSet) agentPID(host string) (int, error) {
	return readPIDFile(filepath.Join(s.env.RunDir, host, "migratord.pid"))
}

func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parsePID(string(b))
}

// parsePID reads a pid file's contents: one positive number, with or
// without a newline.
func parsePID(s string) (int, error) {
	pid, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid file %q: want a process number", s)
	}
	return pid, nil
}

// setDowntime gives the domain's QEMU on host the downtime limit d
// (virDomainMigrateSetMaxDowntime, which libvirt applies at once and
// leaves alone when a migration starts) and reads it back.
func (s *lvSet) setDowntime(host, domain string, d time.Duration) error {
	l := s.daemons[host]
	dom, err := l.DomainLookupByName(domain)
	if err != nil {
		return fmt.Errorf("domain %s on %s: %w", domain, host, err)
	}
	ms := uint64(d.Milliseconds())
	if err := l.DomainMigrateSetMaxDowntime(dom, ms, 0); err != nil {
		return fmt.Errorf("setting %s's downtime limit on %s: %w", domain, host, err)
	}
	got, err := l.DomainMigrateGetMaxDowntime(dom, 0)
	if err != nil || got != ms {
		return fmt.Errorf("%s's downtime limit on %s reads %d ms (%v), set %d", domain, host, got, err, ms)
	}
	return nil
}

// arrived waits until domain runs on to's daemon and is gone from from's,
// and returns its QEMU's pid there.
func (s *lvSet) arrived(ctx context.Context, domain, from, to string) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.runsOnlyOn(domain, from, to)
		if err == nil {
			return s.qemuPID(to, domain)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("after the move: %w", err)
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

func (s *lvSet) runsOnlyOn(domain, from, to string) error {
	if _, err := s.daemons[from].DomainLookupByName(domain); err == nil {
		return fmt.Errorf("%s's daemon still has %s", from, domain)
	}
	d, err := s.daemons[to].DomainLookupByName(domain)
	if err != nil {
		return fmt.Errorf("%s's daemon does not have %s: %w", to, domain, err)
	}
	st, _, err := s.daemons[to].DomainGetState(d, 0)
	if err != nil {
		return err
	}
	if golibvirt.DomainState(st) != golibvirt.DomainRunning {
		return fmt.Errorf("%s on %s: state %d, not running", domain, to, st)
	}
	return nil
}

// completedJob is libvirt's account of domain's last migration, from the
// destination's daemon (to), which keeps the completed job's statistics.
func (s *lvSet) completedJob(domain, to string) (LibvirtJob, error) {
	l := s.daemons[to]
	d, err := l.DomainLookupByName(domain)
	if err != nil {
		return LibvirtJob{}, err
	}
	_, params, err := l.DomainGetJobStats(d, golibvirt.DomainJobStatsCompleted)
	if err != nil {
		return LibvirtJob{}, fmt.Errorf("%s's completed job on %s: %w", domain, to, err)
	}
	j, err := parseJobStats(params)
	if err != nil {
		return j, fmt.Errorf("%s on %s: %w", domain, to, err)
	}
	return j, nil
}

// errNotLibvirt: a libvirt method was given a guest libvirt does not run.
var errNotLibvirt = errors.New("not a libvirt domain")

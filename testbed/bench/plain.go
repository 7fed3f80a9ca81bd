package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// plain is QEMU migrating by itself over TCP, optionally with its own TLS
// (tls-creds-x509 objects on both ends, verify-peer on) or through
// post-copy (plainpostcopy.go).
type plain struct {
	tls      bool
	postcopy bool
	creds    map[string]qemuCreds // per host
}

func (p *plain) Name() string {
	switch {
	case p.tls:
		return "qemu-tls"
	case p.postcopy:
		return "qemu-postcopy"
	}
	return "qemu-tcp"
}

// Family: both plain methods move the guest the bench's launchers boot.
func (p *plain) Family() string { return "qemu" }

func (p *plain) Close() error { return nil }

// Boot starts spec on h with the host's launcher.
func (p *plain) Boot(ctx context.Context, spec api.VMSpec, h *Host) (Running, error) {
	return h.Start(ctx, spec, false)
}

func (p *plain) Setup(ctx context.Context, runDir string, hosts []*Host) error {
	if !p.tls {
		return nil
	}
	var err error
	p.creds, err = makeQEMUCreds(runDir, hosts)
	return err
}

// Migrate starts the destination with -incoming defer, lets the source
// QEMU send straight to it, waits for completion and resumes the guest.
func (p *plain) Migrate(ctx context.Context, mv Move) (Outcome, error) {
	src, ok := mv.Src.(*vm.Instance)
	if !ok {
		return Outcome{}, fmt.Errorf("%s cannot move a guest it did not boot (%T)", p.Name(), mv.Src)
	}
	srcPID := src.Record().PID
	s0, err := readProcTimes(srcPID)
	if err != nil {
		return Outcome{}, fmt.Errorf("source qemu's cpu time: %w", err)
	}
	dst, err := mv.To.Start(ctx, mv.Spec, true)
	if err != nil {
		return Outcome{}, fmt.Errorf("starting destination: %w", err)
	}
	out, err := p.migrate(ctx, mv, src, dst)
	if err == nil {
		out.CPU, err = plainCPU(srcPID, dst.Record().PID, s0)
	}
	if err == nil {
		// The source quits as soon as its guest runs at the destination,
		// as libvirt's and nfhandoff's do: every method's next destination
		// then finds memory freed as long before. On these machines that
		// decides a move (see coldMemory).
		if serr := src.Stop(ctx); serr != nil {
			return Outcome{}, fmt.Errorf("quitting the source qemu: %w", serr)
		}
	}
	if err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		src.Execute(sctx, qmpcmd.MigrateCancel, nil, nil)
		dst.Stop(sctx)
		return Outcome{}, err
	}
	return out, nil
}

// plainCPU is a plain move's CPU time: both QEMUs are alive (the
// destination started within the move), the source read at s0 before.
func plainCPU(srcPID, dstPID int, s0 procTimes) (CPU, error) {
	s1, err := readProcTimes(srcPID)
	if err != nil {
		return CPU{}, fmt.Errorf("source qemu's cpu time: %w", err)
	}
	d1, err := readProcTimes(dstPID)
	if err != nil {
		return CPU{}, fmt.Errorf("destination qemu's cpu time: %w", err)
	}
	return CPU{SrcQEMU: s1.Self - s0.Self, DstQEMU: d1.Self}, nil
}

func (p *plain) migrate(ctx context.Context, mv Move, src, dst *vm.Instance) (Outcome, error) {
	caps := map[string]bool{"events": true, "pause-before-switchover": false, qmpcmd.CapPostcopyRAM: p.postcopy}
	params := map[string]any{
		"max-bandwidth":  mv.Settings.MaxBandwidth,
		"downtime-limit": mv.Settings.Downtime.Milliseconds(),
		// A guest that arrived over TLS keeps its QEMU's tls-creds.
		"tls-creds": "", "tls-hostname": "",
	}
	for _, inst := range []*vm.Instance{src, dst} {
		if err := capabilities(ctx, inst, caps); err != nil {
			return Outcome{}, err
		}
		if err := parameters(ctx, inst, params); err != nil {
			return Outcome{}, err
		}
	}
	if p.tls {
		id := fmt.Sprintf("tls%d", mv.Port) // a guest that arrived over TLS has its own object already
		if err := p.addCreds(ctx, mv.To, dst, id, "server", ""); err != nil {
			return Outcome{}, err
		}
		if err := p.addCreds(ctx, mv.From, src, id, "client", mv.To.Name); err != nil {
			return Outcome{}, err
		}
	}
	uri := "tcp:" + net.JoinHostPort(mv.To.Addr.String(), strconv.Itoa(mv.Port))
	if err := dst.Execute(ctx, qmpcmd.MigrateIncoming, qmpcmd.URI{URI: uri}, nil); err != nil {
		return Outcome{}, fmt.Errorf("%s %s: %w", qmpcmd.MigrateIncoming, uri, err)
	}
	if p.postcopy {
		return p.migratePostcopy(ctx, src, dst, uri)
	}
	if err := src.Execute(ctx, qmpcmd.Migrate, qmpcmd.URI{URI: uri}, nil); err != nil {
		return Outcome{}, fmt.Errorf("%s %s: %w", qmpcmd.Migrate, uri, err)
	}
	sum, err := waitMigration(ctx, src, 10*time.Minute, true)
	if err != nil {
		return Outcome{}, fmt.Errorf("source: %w", err)
	}
	if _, err := waitMigration(ctx, dst, time.Minute, false); err != nil {
		return Outcome{}, fmt.Errorf("destination: %w", err)
	}
	if err := dst.Execute(ctx, qmpcmd.Cont, nil, nil); err != nil {
		return Outcome{}, fmt.Errorf("cont on destination: %w", err)
	}
	return Outcome{Summary: sum, Dst: dst}, nil
}

// addCreds creates the tls-creds-x509 object id on inst and points the
// migration at it (hostname: the server name the client checks).
func (p *plain) addCreds(ctx context.Context, h *Host, inst *vm.Instance, id, endpoint, hostname string) error {
	dir := p.creds[h.Name].Dir(endpoint)
	err := inst.Execute(ctx, qmpcmd.ObjectAdd, map[string]any{
		"qom-type": "tls-creds-x509", "id": id, "dir": dir,
		"endpoint": endpoint, "verify-peer": true,
	}, nil)
	if err != nil {
		return fmt.Errorf("object-add tls-creds-x509 (%s, %s): %w", endpoint, dir, err)
	}
	params := map[string]any{"tls-creds": id}
	if hostname != "" {
		params["tls-hostname"] = hostname
	}
	return parameters(ctx, inst, params)
}

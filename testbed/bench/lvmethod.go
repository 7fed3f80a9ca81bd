package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/libvirt"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
)

// lvMethod moves a libvirt domain on the testbed (--libvirt), the three
// ways issue 14 compares:
//
//   - libvirt-tcp: an operator's plain `virsh migrate --live --p2p DOMAIN
//     qemu+tls://<dest>/system --migrateuri tcp://<dest addr>:<port>`:
//     libvirt's control connection on libvirt's TLS (the testbed's),
//     QEMU's stream over plain TCP between the hosts;
//   - libvirt-tls: the same with --tls: QEMU's own TLS for the stream
//     (qemu.conf's migrate_tls_x509_cert_dir, the testbed CA's
//     certificates, testbed/libvirt.sh);
//   - nfhandoff-libvirt: the agents' migrate request for the domain, as
//     `netctl migrate DOMAIN --to HOST` sends it: libvirt's peer-to-peer
//     migration with its stream through the agents' pipe, and the
//     traffic's hand-off.
//
// All three get the same bandwidth cap (libvirt's, in whole MiB/s:
// --max-bandwidth rounded up) and the same downtime limit: set on the
// source domain before each move, for all three alike (libvirt's
// migration keeps it), and the agents' request's downtime target (their
// switchover under libvirt holds QEMU's own limit at 1 ms and suspends
// the guest itself once the rest fits the target; QEMU's limit, as set,
// is restored if it gives the switchover back). A move's total time is from the request (virsh
// started; the request sent to the agent) until the domain ran at the
// destination and the move was done (virsh returned: libvirt's confirm
// step has taken the source QEMU down; the agent's record completed).
type lvMethod struct {
	tls    bool // libvirt-tls
	agents bool // nfhandoff-libvirt
	*lvSet
}

func (m *lvMethod) Name() string {
	switch {
	case m.agents:
		return "nfhandoff-libvirt"
	case m.tls:
		return "libvirt-tls"
	}
	return "libvirt-tcp"
}

// Family: every libvirt method moves the same domain on.
func (m *lvMethod) Family() string { return "libvirt" }

func (m *lvMethod) Setup(ctx context.Context, runDir string, hosts []*Host) error {
	return m.setup(ctx, hosts)
}

func (m *lvMethod) Close() error { m.close(); return nil }

func (m *lvMethod) Boot(ctx context.Context, spec api.VMSpec, h *Host) (Running, error) {
	return m.boot(spec, h)
}

// lvMiB is libvirt's bandwidth for bytes/s: whole MiB/s, rounded up (as
// libvirt.Engine rounds the agents' request).
func lvMiB(bytes uint64) uint64 { return (bytes + 1<<20 - 1) >> 20 }

func (m *lvMethod) Migrate(ctx context.Context, mv Move) (Outcome, error) {
	src, ok := mv.Src.(lvGuest)
	if !ok {
		return Outcome{}, fmt.Errorf("%s: %w (%T)", m.Name(), errNotLibvirt, mv.Src)
	}
	from, to, name := mv.From.Name, mv.To.Name, src.name
	if err := m.setDowntime(from, name, mv.Settings.Downtime); err != nil {
		return Outcome{}, err
	}
	if m.agents {
		if err := m.listed(ctx, from, name); err != nil {
			return Outcome{}, err
		}
	}
	c0, err := m.cpuStart(from, to, name)
	if err != nil {
		return Outcome{}, err
	}
	asked := time.Now()
	var rec *api.Migration
	var total time.Duration
	if m.agents {
		rec, err = m.viaAgents(ctx, mv, name)
		if err == nil {
			total = rec.Ended.Sub(asked)
		}
	} else {
		err = m.virsh(ctx, mv, name)
		total = time.Since(asked)
	}
	dstPID := 0
	if err == nil {
		dstPID, err = m.arrived(ctx, name, from, to)
	}
	cpu, cerr := c0.end(dstPID)
	if err != nil {
		return Outcome{}, err
	}
	if cerr != nil {
		return Outcome{}, cerr
	}
	job, err := m.completedJob(name, to)
	if err != nil {
		return Outcome{}, err
	}
	// The guest's pause: libvirt's downtime (the source's stop to the
	// destination's resume) for libvirt's own moves; the agent's record
	// for the agents' (the destination is left paused until the agent
	// resumes it, which libvirt's figure does not see).
	down := job.Downtime
	if rec != nil {
		down = time.Duration(rec.Paused)
	}
	sum := policy.Summary{Status: api.MigrationCompleted, TotalTime: total, Downtime: down, SetupTime: job.Setup,
		RAM: api.RAMStats{Transferred: job.MemoryBytes}}
	return Outcome{Summary: sum, Dst: lvGuest{s: m.lvSet, host: to, name: name}, Record: rec, CPU: cpu, Asked: asked, Libvirt: &job}, nil
}

// virsh runs an operator's plain libvirt migration of domain to mv.To.
func (m *lvMethod) virsh(ctx context.Context, mv Move, domain string) error {
	uri := "tcp://" + net.JoinHostPort(mv.To.Addr.String(), strconv.Itoa(mv.Port))
	args := []string{"-c", libvirt.URI(m.env.LibvirtSocket(mv.From.Name)), "migrate", "--live", "--p2p",
		domain, m.env.LibvirtTLSURI(mv.To.Name), "--migrateuri", uri,
		"--bandwidth", strconv.FormatUint(lvMiB(mv.Settings.MaxBandwidth), 10)}
	if m.tls {
		args = append(args, "--tls")
	}
	mctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(mctx, "virsh", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("virsh %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// request is the agents' migrate request for mv: netctl migrate's
// defaults with the bench's cap and downtime target.
func (m *lvMethod) request(mv Move, domain string) api.MigrateRequest {
	req := api.MigrateRequest{VM: domain, To: mv.To.Name, Bandwidth: int64(mv.Settings.MaxBandwidth),
		DowntimeTarget: api.Duration(mv.Settings.Downtime)}
	req.Defaults()
	return req
}

// viaAgents asks mv.From's agent to move domain and waits for its record
// to end; it must complete.
func (m *lvMethod) viaAgents(ctx context.Context, mv Move, domain string) (*api.Migration, error) {
	c := api.NewClient(m.env.Socket(mv.From.Name))
	mig, err := c.Migrate(ctx, m.request(mv, domain))
	if err != nil {
		return nil, fmt.Errorf("migrate request for %s to %s: %w", domain, mv.To.Name, err)
	}
	mctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for !api.Ended(mig.State) {
		sleep(mctx, 20*time.Millisecond)
		if mctx.Err() != nil {
			c.CancelMigration(context.Background(), mig.ID)
			return nil, fmt.Errorf("migration %s: %w", mig.ID, mctx.Err())
		}
		if mig, err = c.GetMigration(mctx, mig.ID); err != nil {
			return nil, fmt.Errorf("migration %s: %w", mig.ID, err)
		}
	}
	if mig.State != api.MigrationCompleted {
		return &mig, fmt.Errorf("migration %s of %s: %s: %s", mig.ID, domain, mig.State, mig.Reason)
	}
	return &mig, nil
}

// listed waits until host's agent lists domain (its libvirt watcher has
// seen it and hooked the dataplane to its tap) so that it can move it.
func (m *lvMethod) listed(ctx context.Context, host, domain string) error {
	c := api.NewClient(m.env.Socket(host))
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := c.GetVM(ctx, domain)
		if err == nil && v.Source == api.SourceLibvirt {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s's agent does not list %s after 30s: %+v %v", host, domain, v, err)
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

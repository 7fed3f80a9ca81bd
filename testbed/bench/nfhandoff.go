package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
)

// nfhandoff migrates through the project's own agents: one migratord per
// bench host, guests started through the agent API (same spec as the plain
// methods' guests), QEMU's stream carried agent to agent on a TLS lane
// (mutual TLS over TCP, bound to the agents' QUIC connection).
//
// Fair settings: the same bandwidth cap as the plain methods from the first
// byte (InitialBandwidth = Bandwidth; the default rate-adaptive start at
// 64 MiB/s is a policy choice, measured by nfhandoff-adaptive), the same
// downtime target, and one QEMU channel (postcopy auto with 0 multifd
// channels) like the plain methods: multifd (which the agents use only with
// postcopy never) would change QEMU's migration stream, not the transport.
// The bench guests dirty little or no memory (mix-512M: 1 MiB/s), so
// pre-copy converges and post-copy is never entered (a run that entered it
// is marked in the record table). With codec, nfhandoff-codec, the agents
// code RAM pages on their link (--codec auto), everything else as
// nfhandoff (the request's default codec, none).
type nfhandoff struct {
	adaptive  bool   // InitialBandwidth left at the agent's default
	pipe      string // the request's pipe; "": the default
	multifd   int    // multifd channels (post-copy never); 0: the request's default
	codec     bool   // codec auto; false: the request's default (none)
	*agentSet        // shared by the nfhandoff methods
}

// agentSet is the bench's agents, one per host, started once for every
// nfhandoff method.
type agentSet struct {
	bin      string            // migratord; built into runDir when empty
	root     string            // repository root, to build migratord
	imageDir string            // guest images
	agents   map[string]*agent // by host; nil until started
	// dataplane: the agents run the eBPF hand-off (migratord has it).
	dataplane bool
	runDir    string // set by Setup
	profile   profiling
}

func (n *nfhandoff) Name() string {
	switch {
	case n.adaptive:
		return "nfhandoff-adaptive"
	case n.multifd > 0:
		return fmt.Sprintf("nfhandoff-multifd%d", n.multifd)
	case n.pipe != "":
		return "nfhandoff-" + n.pipe
	case n.codec:
		return "nfhandoff-codec"
	}
	return "nfhandoff"
}

// Family: the agents' guests are their own.
func (n *nfhandoff) Family() string { return n.Name() }

// Setup builds migratord if needed, makes the agents' CA, certificates
// and peers file, and starts one agent per host, unless another nfhandoff
// method did.
func (n *nfhandoff) Setup(ctx context.Context, runDir string, hosts []*Host) error {
	if n.agents != nil {
		return nil
	}
	if n.bin == "" {
		n.bin = filepath.Join(runDir, "migratord")
		if _, err := os.Stat(n.bin); err != nil {
			cmd := exec.CommandContext(ctx, "go", "build", "-o", n.bin, "./cmd/migratord")
			cmd.Dir = n.root
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("building migratord: %w: %s", err, out)
			}
		}
	}
	pkiDir, err := agentPKI(runDir, hosts)
	if err != nil {
		return err
	}
	n.dataplane, n.runDir = hasDataplane(n.bin), runDir
	if n.dataplane {
		if err := mountBPFFS(runDir); err != nil {
			return err
		}
	}
	n.agents = make(map[string]*agent)
	for _, h := range hosts {
		var extra []string
		if n.dataplane {
			extra = dataplaneArgs(runDir, h)
		}
		a, err := startAgent(ctx, n.bin, runDir, n.imageDir, pkiDir, h, extra)
		if err != nil {
			return err
		}
		n.agents[h.Name] = a
	}
	return nil
}

// dataplaneMethod is a method whose guests have the agents' eBPF
// dataplane on their path.
type dataplaneMethod interface {
	// PinDir is where h's agent pins its links ("": no dataplane).
	PinDir(h *Host) string
}

func (n *nfhandoff) PinDir(h *Host) string {
	if !n.dataplane {
		return ""
	}
	return pinDir(n.runDir, h)
}

// Close stops the agents (and their guests); stopping twice is harmless.
func (n *nfhandoff) Close() error {
	for _, a := range n.agents {
		a.stop()
	}
	return nil
}

// agentGuest is a guest one of the agents runs.
type agentGuest struct {
	a    *agent
	name string
}

func (g agentGuest) Stop(ctx context.Context) error {
	_, err := g.a.client.StopVM(ctx, g.name)
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	return err
}

// Boot starts spec through h's agent.
func (n *nfhandoff) Boot(ctx context.Context, spec api.VMSpec, h *Host) (Running, error) {
	a := n.agents[h.Name]
	v, err := a.client.StartVM(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("starting %s through the agent on %s: %w", spec.Name, h.Name, err)
	}
	if err := h.owns(v.PID); err != nil {
		a.client.StopVM(ctx, spec.Name)
		return nil, err
	}
	return agentGuest{a: a, name: spec.Name}, nil
}

// Migrate asks the source agent to move the guest and follows the record
// until it ends; the numbers are the record's (the agent quits the source
// QEMU once the guest runs at the destination).
func (n *nfhandoff) Migrate(ctx context.Context, mv Move) (Outcome, error) {
	src, dst := n.agents[mv.From.Name], n.agents[mv.To.Name]
	req := api.MigrateRequest{
		VM: mv.Spec.Name, To: mv.To.Name,
		Bandwidth:         int64(mv.Settings.MaxBandwidth),
		InitialBandwidth:  int64(mv.Settings.MaxBandwidth),
		DowntimeTarget:    api.Duration(mv.Settings.Downtime),
		Postcopy:          api.PostcopyAuto,
		CompletionTimeout: api.Duration(10 * time.Minute),
		TimeoutAction:     api.TimeoutAbort,
		Pipe:              n.pipe,
	}
	if n.adaptive {
		req.InitialBandwidth = 0
	}
	if n.multifd > 0 {
		req.Postcopy, req.MultifdChannels = api.PostcopyNever, n.multifd
	}
	if n.codec {
		req.Codec = api.CodecAuto
	}
	c0, err := n.cpuStart(ctx, src, dst, mv.Spec.Name)
	if err != nil {
		return Outcome{}, err
	}
	if n.profile.dir != "" {
		wait := n.profile.take(ctx, fmt.Sprintf("%s-%s-%d", mv.Spec.Name, n.Name(), mv.Port), src, dst)
		defer wait()
	}
	m, err := src.client.Migrate(ctx, req)
	if err != nil {
		return Outcome{}, n.failed(fmt.Errorf("migrate request to %s: %w", mv.From.Name, err))
	}
	m, err = n.wait(ctx, src, m.ID)
	if err != nil {
		return Outcome{}, n.failed(err)
	}
	if m.State != api.MigrationCompleted {
		return Outcome{}, n.failed(fmt.Errorf("migration %s %s: %s", m.ID, m.State, m.Reason))
	}
	if _, err := src.client.GetVM(ctx, mv.Spec.Name); !errors.Is(err, api.ErrNotFound) {
		return Outcome{}, n.failed(fmt.Errorf("migration %s completed but %s still has %s (%v)", m.ID, mv.From.Name, mv.Spec.Name, err))
	}
	v, err := dst.client.GetVM(ctx, mv.Spec.Name)
	if err != nil || v.State != api.StateRunning {
		return Outcome{}, n.failed(fmt.Errorf("migration %s completed but %s does not run %s: %s %v", m.ID, mv.To.Name, mv.Spec.Name, v.State, err))
	}
	cpu, err := c0.end(v.PID)
	if err != nil {
		return Outcome{}, n.failed(err)
	}
	if m.TotalTime == 0 {
		// QEMU 7.2 says completed a moment before it computes its times;
		// a record read in that moment would skew the medians silently.
		return Outcome{}, n.failed(fmt.Errorf("migration %s completed but its record has no QEMU total time (read before QEMU computed it)", m.ID))
	}
	// The agent stops the guest before QEMU's final phase, which is all
	// QEMU's downtime counts: the guest's real blackout is the record's
	// paused (stop on the source to running at the destination, so also
	// the commit's trip, which plain QEMU's figure leaves out).
	down := max(time.Duration(m.QEMUDowntime), time.Duration(m.Paused))
	sum := policy.Summary{Status: m.State, TotalTime: time.Duration(m.TotalTime),
		Downtime: down, SetupTime: time.Duration(m.SetupTime), RAM: m.RAM}
	return Outcome{Summary: sum, Dst: agentGuest{a: dst, name: mv.Spec.Name}, Record: &m, CPU: cpu}, nil
}

// wait polls the migration until it ends; if ctx ends first it cancels
// the migration (the guest stays on the source).
func (n *nfhandoff) wait(ctx context.Context, a *agent, id string) (api.Migration, error) {
	for {
		m, err := a.client.GetMigration(ctx, id)
		if err == nil && api.Ended(m.State) {
			return m, nil
		}
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a.client.CancelMigration(cctx, id)
			for cctx.Err() == nil {
				if m, err := a.client.GetMigration(cctx, id); err == nil && api.Ended(m.State) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			return m, fmt.Errorf("migration %s: %w", id, ctx.Err())
		case <-a.done:
			return m, fmt.Errorf("migration %s: the agent on %s exited", id, a.host.Name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// failed adds the agents' last log lines to err: their files go with the
// bench's run dir.
func (n *nfhandoff) failed(err error) error {
	for _, name := range slices.Sorted(maps.Keys(n.agents)) {
		err = fmt.Errorf("%w\nmigratord %s, last lines:\n%s", err, name, tail(n.agents[name].log, 15))
	}
	return err
}

// agentCPU is what the processes of an agent move had used at its start.
type agentCPU struct {
	src, dst   *agent
	srcPID     int // the source QEMU
	a, b, qemu procTimes
}

// cpuStart reads the agents' and the source QEMU's CPU times before a move.
func (n *nfhandoff) cpuStart(ctx context.Context, src, dst *agent, name string) (agentCPU, error) {
	v, err := src.client.GetVM(ctx, name)
	if err != nil {
		return agentCPU{}, fmt.Errorf("%s on %s: %w", name, src.host.Name, err)
	}
	c := agentCPU{src: src, dst: dst, srcPID: v.PID}
	if c.a, err = readProcTimes(src.cmd.Process.Pid); err == nil {
		if c.b, err = readProcTimes(dst.cmd.Process.Pid); err == nil {
			c.qemu, err = readProcTimes(v.PID)
		}
	}
	if err != nil {
		return agentCPU{}, fmt.Errorf("cpu times before the move: %w", err)
	}
	return c, nil
}

// end is the move's CPU time, with the destination QEMU (started by its
// agent within the move) at dstPID. The source agent has quit and reaped
// its QEMU: the QEMU's whole life is in that agent's reaped time.
func (c agentCPU) end(dstPID int) (CPU, error) {
	// The source QEMU first: reaped after this read, it is counted here;
	// gone before it, it is in the agent's reaped time read next.
	q, qerr := readProcTimes(c.srcPID)
	a, err := readProcTimes(c.src.cmd.Process.Pid)
	if err != nil {
		return CPU{}, fmt.Errorf("source agent's cpu time: %w", err)
	}
	b, err := readProcTimes(c.dst.cmd.Process.Pid)
	if err != nil {
		return CPU{}, fmt.Errorf("destination agent's cpu time: %w", err)
	}
	d, err := readProcTimes(dstPID)
	if err != nil {
		return CPU{}, fmt.Errorf("destination qemu's cpu time: %w", err)
	}
	cpu := CPU{SrcAgent: a.Self - c.a.Self, DstAgent: b.Self - c.b.Self, DstQEMU: d.Self,
		SrcQEMU: a.Reaped - c.a.Reaped - c.qemu.Self}
	if qerr == nil {
		cpu.SrcQEMU = q.Self - c.qemu.Self
	}
	return cpu, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
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
// nfhandoff (the request's default codec, none). With prefetch (issue
// 11's row, nfhandoff-postcopy and nfhandoff-postcopy-ws) the request says
// postcopy always, so both switch to post-copy at the end of the first
// pass, as qemu-postcopy does, and differ in the prefetch only.
type nfhandoff struct {
	adaptive  bool   // InitialBandwidth left at the agent's default
	pipe      string // the request's pipe; "": the default
	multifd   int    // multifd channels (post-copy never); 0: the request's default
	codec     bool   // codec auto; false: the request's default (none)
	prefetch  string // postcopy always with this PostcopyPrefetch; "": neither
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
	case n.prefetch == api.PrefetchNone:
		return "nfhandoff-postcopy"
	case n.prefetch == api.PrefetchWorkingSet:
		return "nfhandoff-postcopy-ws"
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
	g, err := n.migrate(ctx, []Move{mv}, "")
	if err != nil {
		return Outcome{}, err
	}
	return g.Outcomes[0], nil
}

// GangName is the label of the method's gang row: codec auto is the
// gang's case (a shared store), codec none the same gang uncoded.
func (n *nfhandoff) GangName() string {
	if n.codec {
		return strings.TrimSuffix(n.Name(), "-codec") + "-gang"
	}
	return n.Name() + "-none"
}

// MigrateGang moves the guests of mvs (from one host to another) as one
// gang, as netctl migrate VM1 VM2 … --parallel len(mvs) does: every
// request at once, with the gang's name (with codec auto the migrations
// share one store). Its time is from the first request until the last
// record completed.
func (n *nfhandoff) MigrateGang(ctx context.Context, mvs []Move) (GangOutcome, error) {
	return n.migrate(ctx, mvs, fmt.Sprintf("bench-gang-%d", mvs[0].Port))
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/dataplane"
	"github.com/nfhandoff/nfhandoff/dataplane/tchook"
	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
	"github.com/nfhandoff/nfhandoff/netctl/iperf"
)

// What the dataplane costs a guest it is not moving (issue 13): iperf3
// throughput through the firewall guest, unbounded, with the agent's
// programs on the guest's path (its taps' egress and the uplink's ingress,
// in PASS) and with them detached, in turn on the same guest, so that the
// guest's and the machine's drift fall on both sides alike.
//
// A first flow, attached and not counted, warms the path up (the freshly
// booted guest's first flow runs well below the rest).
const (
	idleFor   = 4 * time.Second // one flow
	idlePairs = 6               // flows each way, ABBA-ordered
)

// IdleAB is the idle cost measured on one guest: Attached[i] and
// Detached[i] are neighbours in time.
type IdleAB struct {
	Guest    string    `json:"guest"`
	Attached []float64 `json:"attached_mbps"`
	Detached []float64 `json:"detached_mbps"`
	// ProgRuns and ProgTime are what the kernel's BPF run-time statistics
	// counted for the path's programs over the attached flows: their cost
	// in CPU, which the throughputs' spread cannot resolve.
	ProgRuns uint64        `json:"prog_runs"`
	ProgTime time.Duration `json:"prog_time_ns"`
}

// CoreShare is the programs' run time over the attached flows' time: the
// share of one core they took.
func (a IdleAB) CoreShare() float64 {
	if len(a.Attached) == 0 {
		return 0
	}
	return float64(a.ProgTime) / float64(time.Duration(len(a.Attached))*idleFor)
}

// Ratios are each pair's attached over detached throughput.
func (a IdleAB) Ratios() []float64 {
	out := make([]float64, min(len(a.Attached), len(a.Detached)))
	for i := range out {
		out[i] = a.Attached[i] / a.Detached[i]
	}
	return out
}

// pathHook is one of the agent's tcx links on the guest's path, by its pin.
type pathHook struct {
	dev  string
	pin  string
	typ  ebpf.AttachType
	prog *ebpf.Program // the program, kept while the link is detached
}

// pathHooks are the pinned links the agent at pinDir put on spec's path in
// host h: a tap per NIC, and the host's uplink.
func pathHooks(pinDir string, spec api.VMSpec) []*pathHook {
	var hs []*pathHook
	for i := range spec.AllNICs() {
		tap := vm.NICTapName(spec.Name, i)
		hs = append(hs, &pathHook{dev: tap, typ: ebpf.AttachTCXEgress, pin: tchook.LinkPin(pinDir, tap, dataplane.HookTapEgress)})
	}
	return append(hs, &pathHook{dev: uplink, typ: ebpf.AttachTCXIngress, pin: tchook.LinkPin(pinDir, uplink, dataplane.HookUplinkIngress)})
}

// detach detaches the pinned link (it stays pinned, defunct, until attach
// pins its successor) and keeps its program.
func (p *pathHook) detach() error {
	if p.prog != nil {
		return nil // detached already
	}
	l, id, err := p.load()
	if err != nil {
		return err
	}
	defer l.Close()
	if p.prog, err = ebpf.NewProgramFromID(id); err != nil {
		return fmt.Errorf("%s's program: %w", p.dev, err)
	}
	if err := l.Detach(); err != nil {
		p.prog.Close()
		p.prog = nil
		return fmt.Errorf("detaching %s's link: %w", p.dev, err)
	}
	return nil
}

// load opens the pinned link and says which program it runs.
func (p *pathHook) load() (link.Link, ebpf.ProgramID, error) {
	l, err := link.LoadPinnedLink(p.pin, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%s's link (the agent's dataplane on tcx?): %w", p.dev, err)
	}
	info, err := l.Info()
	if err != nil {
		l.Close()
		return nil, 0, fmt.Errorf("%s's link: %w", p.dev, err)
	}
	return l, info.Program, nil
}

// attach attaches the kept program again (in h's namespace, where the
// device is) and pins the new link where the old one was: the agent, which
// unpins it by path when it detaches, finds it as it left it.
func (p *pathHook) attach(h *Host) error {
	if p.prog == nil {
		return nil
	}
	var l link.Link
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(p.dev)
		if err != nil {
			return err
		}
		l, err = link.AttachTCX(link.TCXOptions{Interface: ifi.Index, Program: p.prog, Attach: p.typ})
		return err
	})
	if err != nil {
		return fmt.Errorf("attaching %s again: %w", p.dev, err)
	}
	defer l.Close()
	if err := os.Remove(p.pin); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := l.Pin(p.pin); err != nil {
		return fmt.Errorf("pinning %s's link: %w", p.dev, err)
	}
	p.prog.Close()
	p.prog = nil
	return nil
}

// idleCost measures the idle cost on the guest spec that the agent at
// pinDir runs on h; it leaves the programs attached, as it found them.
func idleCost(ctx context.Context, h *Host, pinDir string, spec api.VMSpec, label string) (out IdleAB, err error) {
	out.Guest = label
	hs := pathHooks(pinDir, spec)
	defer func() {
		for _, p := range hs { // those still detached
			err = errors.Join(err, p.attach(h))
		}
	}()
	progs, err := pathPrograms(hs)
	if err != nil {
		return out, err
	}
	defer func() {
		for _, p := range progs {
			p.Close()
		}
	}()
	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		return out, fmt.Errorf("enabling BPF run-time statistics: %w", err)
	}
	defer stats.Close()
	if _, err := idleFlow(ctx); err != nil {
		return out, err
	}
	runs0, time0, err := runStats(progs)
	if err != nil {
		return out, err
	}
	for i := range 2 * idlePairs {
		on := i%4 == 0 || i%4 == 3 // A B B A A B B A
		for _, p := range hs {
			f := p.detach
			if on {
				f = func() error { return p.attach(h) }
			}
			if err := f(); err != nil {
				return out, err
			}
		}
		mbps, err := idleFlow(ctx)
		if err != nil {
			return out, err
		}
		if on {
			out.Attached = append(out.Attached, mbps)
		} else {
			out.Detached = append(out.Detached, mbps)
		}
	}
	runs1, time1, err := runStats(progs)
	out.ProgRuns, out.ProgTime = runs1-runs0, time1-time0
	return out, err
}

// pathPrograms are the distinct programs of the path's links (the taps
// share one).
func pathPrograms(hs []*pathHook) (map[ebpf.ProgramID]*ebpf.Program, error) {
	progs := map[ebpf.ProgramID]*ebpf.Program{}
	for _, p := range hs {
		l, id, err := p.load()
		if err != nil {
			return progs, err
		}
		l.Close()
		if progs[id] == nil {
			if progs[id], err = ebpf.NewProgramFromID(id); err != nil {
				return progs, fmt.Errorf("%s's program: %w", p.dev, err)
			}
		}
	}
	return progs, nil
}

// runStats sums the programs' run counts and run times so far.
func runStats(progs map[ebpf.ProgramID]*ebpf.Program) (runs uint64, t time.Duration, err error) {
	for _, p := range progs {
		st, err := p.Stats()
		if err != nil {
			return 0, 0, fmt.Errorf("BPF run-time statistics: %w", err)
		}
		runs, t = runs+st.RunCount, t+st.Runtime
	}
	return runs, t, nil
}

// idleFlow is one unbounded flow of idleFor through the firewall, to a
// one-off server: its throughput in Mbit/s.
func idleFlow(ctx context.Context) (float64, error) {
	srv, err := iperf.StartServer(ctx, serverNS, serverIP, tcpPort)
	if err != nil {
		return 0, err
	}
	defer srv.Stop()
	r, err := iperf.Client{Netns: clientNS, Server: serverIP, Port: tcpPort, Duration: idleFor}.Run(ctx)
	if err == nil && (!r.Survived() || r.Seconds <= 0) {
		err = fmt.Errorf("%+v", r)
	}
	if err != nil {
		return 0, fmt.Errorf("iperf3 through the firewall, not moving: %w", err)
	}
	return float64(r.Bytes) * 8 / r.Seconds / 1e6, nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/testbed"
)

// methods are every method the bench knows, in table order; the first two
// are the baselines the ratios are taken against (report.go).
func methods(o options) []Method {
	agents := &agentSet{bin: o.migratord, root: o.root, imageDir: o.imageDir, profile: o.profile}
	return []Method{&plain{}, &plain{tls: true}, &nfhandoff{agentSet: agents}, &nfhandoff{adaptive: true, agentSet: agents},
		&nfhandoff{pipe: api.PipeQUIC, agentSet: agents}, &nfhandoff{multifd: 2, agentSet: agents}, &nfhandoff{codec: true, agentSet: agents},
		&plain{postcopy: true}, &nfhandoff{prefetch: api.PrefetchNone, agentSet: agents}, &nfhandoff{prefetch: api.PrefetchWorkingSet, agentSet: agents}}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	runs      int
	warmup    int // moves per method before the counted runs
	jsonOut   string
	runDir    string
	imageDir  string
	migratord string // empty: build it
	root      string // repository root
	guests    []string
	methods   []string
	bandwidth uint64
	downtime  time.Duration
	traffic   int // test packets/s during each migration, 0: none
	verbose   bool
	profile   profiling
	linkRate  string // tc rate of the hosts' link to each other; "": unshaped
}

func parse(args []string) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	env, _ := testbed.FindEnv()
	fs.IntVar(&o.runs, "runs", 3, "migrations per guest and method")
	fs.IntVar(&o.warmup, "warmup", 1, "migrations per guest and method before the counted runs, not counted (a freshly booted guest's first move pays cold memory and new connections)")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&o.runDir, "run-dir", "/run/nfb", "state of the bench's guests (removed at exit)")
	fs.StringVar(&o.imageDir, "image-dir", env.ImageDir, "guest images (make image)")
	fs.StringVar(&o.migratord, "migratord", "", "migratord binary for the nfhandoff methods (default: go build ./cmd/migratord into --run-dir)")
	g := fs.String("guests", "idle-256M,full-1G,firewall-256M", "guests to migrate: idle-256M, full-1G, firewall-256M (two NICs, forwarding and NATing a TCP flow from the client to a server behind it across every move), mix-512M (a VNF-like working set: vnf --mix shared=200:unique=50:text=50, 1 MiB/s dirtied), gang4-mix-512M (four mix-512M guests with one --shared-seed moved at once: every plain method together and one after another, every nfhandoff method as one gang; issue 10's row (a)), ws-256M (512 MiB, a 256 MiB working set rewritten at 48 MiB/s, its own max-bandwidth of 32 MiB/s: post-copy is forced; issue 11's row, with the post-copy methods)")
	m := fs.String("methods", "qemu-tcp,qemu-tls,nfhandoff", "methods: qemu-tcp, qemu-tls, nfhandoff, nfhandoff-adaptive (the agents' default rate-adaptive start), nfhandoff-quic (QEMU's channel on a QUIC stream instead of a TLS lane over TCP), nfhandoff-multifd2 (two multifd channels, post-copy never), nfhandoff-codec (RAM pages coded on the agents' link: --codec auto), qemu-postcopy (plain QEMU over TCP, migrate-start-postcopy after the first pass), nfhandoff-postcopy (postcopy always: post-copy after the first pass, prefetch none), nfhandoff-postcopy-ws (the same with the working-set prefetch)")
	fs.IntVar(&o.traffic, "traffic-rate", 1000, "TWAMP-light test packets/s from the client namespace during every migration (0: none)")
	bw := fs.Uint64("max-bandwidth", 10<<30, "QEMU max-bandwidth for every method, bytes/s (a guest with its own, ws-256M, keeps it)")
	fs.DurationVar(&o.downtime, "downtime", 300*time.Millisecond, "QEMU downtime-limit for every method")
	fs.StringVar(&o.linkRate, "link-rate", "", "shape what the hosts send each other (every method's migration, not the guests' traffic) to this rate each way, e.g. 1gbit: an operator's migration network (default: unshaped, loopback speed)")
	fs.BoolVar(&o.verbose, "v", false, "log each step")
	fs.StringVar(&o.profile.dir, "cpu-profile", "", "write a Go CPU profile of both agents during every nfhandoff move into this `dir`")
	fs.DurationVar(&o.profile.length, "cpu-profile-length", 10*time.Second, "length of each agent profile, from the migrate request (the move waits for it)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.bandwidth, o.root = *bw, env.Root
	if o.migratord != "" {
		abs, err := filepath.Abs(o.migratord)
		if err != nil {
			return o, err
		}
		o.migratord = abs
	}
	o.guests, o.methods = strings.Split(*g, ","), strings.Split(*m, ",")
	if o.warmup < 0 {
		return o, fmt.Errorf("--warmup %d: want 0 or more", o.warmup)
	}
	if o.runs < 1 {
		return o, errors.New("--runs must be at least 1")
	}
	if o.linkRate != "" && !linkRateRE.MatchString(o.linkRate) {
		return o, fmt.Errorf("--link-rate %q: want a rate like 1gbit or 500mbit", o.linkRate)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	o, err := parse(args)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces, taps)")
	}
	var ms []Method
	all := methods(o)
	for _, name := range o.methods {
		i := slices.IndexFunc(all, func(m Method) bool { return m.Name() == name })
		if i < 0 {
			return fmt.Errorf("unknown method %q", name)
		}
		ms = append(ms, all[i])
	}
	var gs []Guest
	for _, name := range o.guests {
		i := slices.IndexFunc(guests, func(g Guest) bool { return g.Label == name })
		if i < 0 {
			return fmt.Errorf("unknown guest %q", name)
		}
		gs = append(gs, guests[i])
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	unlock, err := lock(o.runDir + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	killLeftoverAgents(o.runDir)
	killLeftovers(o.runDir)
	unmountBPFFS(o.runDir)
	os.RemoveAll(o.runDir)
	hosts, err := topoUp(o.runDir, o.imageDir)
	defer func() {
		for _, h := range hosts {
			if h.L != nil {
				h.L.Close()
			}
		}
		killLeftoverAgents(o.runDir)
		killLeftovers(o.runDir)
		topoDown()
		unmountBPFFS(o.runDir)
		os.RemoveAll(o.runDir)
	}()
	if err == nil {
		err = shapeLinks(hosts, o.linkRate)
	}
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	for _, m := range ms {
		defer m.Close()
		if err := m.Setup(ctx, o.runDir, hosts); err != nil {
			return fmt.Errorf("setting up %s: %w", m.Name(), err)
		}
	}
	set := Settings{MaxBandwidth: o.bandwidth, Downtime: o.downtime, TrafficRate: o.traffic}
	mem, err := measureColdMemory()
	if err != nil {
		return fmt.Errorf("measuring memory: %w", err)
	}
	res := results{mem: mem}
	for _, g := range gs {
		if g.Gang > 0 {
			if err := res.gangs.bench(ctx, log, g, hosts, ms, o.warmup, o.runs, set); err != nil {
				return fmt.Errorf("%s: %w", g.Label, err)
			}
			continue
		}
		gset := set
		if g.MaxBandwidth > 0 {
			gset.MaxBandwidth = g.MaxBandwidth
		}
		gset.TrafficTail = g.TrafficTail
		if g.ProbeRate {
			gset.Probe = &RateProbe{Guest: g.Label}
			res.probes = append(res.probes, gset.Probe)
		}
		rs, is, err := benchGuest(ctx, log, g, hosts, ms, o.warmup, o.runs, gset)
		res.runs, res.idle = append(res.runs, rs...), append(res.idle, is...)
		if err != nil {
			return fmt.Errorf("%s: %w", g.Label, err)
		}
	}
	rep := newReport(o, gs, res)
	rep.print(stdout)
	if o.jsonOut == "" {
		return nil
	}
	return os.WriteFile(o.jsonOut, rep.jsonFile(), 0o644)
}

// benchGuest migrates g with every method: per family of methods it
// boots the guest on the first host with the family's first method and
// moves it back and forth, each method of the family in turn, warmup
// times uncounted then runs times, then stops it (one guest runs at a time: the machine is small).
func benchGuest(ctx context.Context, log *slog.Logger, g Guest, hosts []*Host, ms []Method, warmup, runs int, set Settings) ([]Run, []IdleAB, error) {
	var out []Run
	var idle []IdleAB
	port := 49000
	for _, fam := range families(ms) {
		rs, is, err := benchFamily(ctx, log, g, hosts, fam, warmup, runs, set, &port)
		out = append(out, rs...)
		idle = append(idle, is...)
		if err != nil {
			return out, idle, err
		}
	}
	return out, idle, nil
}

// families groups methods by Family, in first-seen order.
func families(ms []Method) [][]Method {
	var out [][]Method
	idx := map[string]int{}
	for _, m := range ms {
		i, ok := idx[m.Family()]
		if !ok {
			i = len(out)
			idx[m.Family()] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], m)
	}
	return out
}

func benchFamily(ctx context.Context, log *slog.Logger, g Guest, hosts []*Host, ms []Method, warmup, runs int, set Settings, port *int) ([]Run, []IdleAB, error) {
	spec := g.Spec()
	from := hosts[0]
	guest, err := ms[0].Boot(ctx, spec, from)
	if err != nil {
		return nil, nil, fmt.Errorf("booting for %s: %w", ms[0].Name(), err)
	}
	defer func() { stopGuest(guest) }()
	before, err := waitReady(ctx, from, specIP(spec))
	if err != nil {
		return nil, nil, err
	}
	var idle []IdleAB
	if dm, ok := ms[0].(dataplaneMethod); ok && g.Firewall && dm.PinDir(from) != "" {
		is, err := idleCost(ctx, from, dm.PinDir(from), spec, g.Label)
		if err != nil {
			return nil, nil, fmt.Errorf("the dataplane's idle cost: %w", err)
		}
		log.Info("idle throughput", "guest", g.Label, "attached_mbps", is.Attached, "detached_mbps", is.Detached)
		idle = append(idle, is)
	}
	if p := set.Probe; p != nil {
		if err := p.choose(ctx, log, specIP(spec), set.TrafficRate); err != nil {
			return nil, idle, fmt.Errorf("the test traffic's rate: %w", err)
		}
		set.TrafficRate = p.Rate
	}
	log.Info("guest ready", "guest", g.Label, "host", from.Name, "family", ms[0].Family(), "wss_pages", before.WSSPages)
	var out []Run
	for n := 1 - warmup; n <= runs; n++ { // n < 1: warm-up moves
		for _, m := range ms {
			to := hosts[0]
			if from == hosts[0] {
				to = hosts[1]
			}
			*port++
			r, dst, st, err := move(ctx, m, Move{Spec: spec, From: from, To: to, Src: guest, Port: *port, Settings: set}, before)
			if dst != nil {
				stopGuest(guest)
				guest, from, before = dst, to, st
			}
			if err != nil {
				return out, idle, fmt.Errorf("%s run %d: %w", m.Name(), n, err)
			}
			if n < 1 {
				log.Info("warm-up move (not counted)", "guest", g.Label, "method", m.Name(), "total", r.TotalTime)
				continue
			}
			r.Guest, r.N = g.Label, n
			log.Info("migrated", "guest", g.Label, "method", m.Name(), "run", n, "from", r.From, "to", r.To,
				"total", r.TotalTime, "setup", r.SetupTime, "downtime", r.Downtime, "ram_mib", r.RAMBytes>>20, "wire_mib", r.WireBytes>>20)
			out = append(out, r)
		}
	}
	return out, idle, nil
}

// move runs one migration and checks the guest afterwards.
func move(ctx context.Context, m Method, mv Move, before vnfproto.Status) (Run, Running, vnfproto.Status, error) {
	var tr *traffic
	// A firewall guest's traffic is the TCP flow through it (below): its
	// own reflector is not what it serves.
	if rate := mv.Settings.TrafficRate; rate > 0 && len(mv.Spec.NICs) == 0 {
		var err error
		if tr, err = startTraffic(ctx, specIP(mv.Spec), rate); err != nil {
			return Run{}, nil, before, err
		}
		defer tr.s.Stop()
		sleep(ctx, trafficLead)
	}
	var tcp *tcpFlow
	if len(mv.Spec.NICs) > 0 { // a firewall guest: a TCP flow through it too
		var err error
		if tcp, err = startTCP(ctx, tcpRate); err != nil {
			return Run{}, nil, before, err
		}
		defer tcp.stop()
		if tr == nil {
			sleep(ctx, trafficLead)
		}
	}
	w0, err := mv.From.WireBytes()
	if err != nil {
		return Run{}, nil, before, err
	}
	asked := time.Now()
	o, err := m.Migrate(ctx, mv)
	if err != nil {
		return Run{}, nil, before, err
	}
	w1, err := mv.From.WireBytes()
	if err != nil {
		return Run{}, o.Dst, before, err
	}
	var tx *TrafficRun
	if tr != nil {
		sleep(ctx, mv.Settings.tail())
		t := tr.stop(migrationOf(o), o.Summary.Downtime, asked)
		if o.Record != nil {
			t.Handoff = o.Record.Handoff
		}
		tx = &t
	}
	var tcpRun *TCPRun
	if tcp != nil {
		if tr == nil {
			sleep(ctx, trafficTail)
		}
		t, _ := tcp.stop()
		tcpRun = &t
	}
	st, err := verify(ctx, mv.To, specIP(mv.Spec), before)
	r := runOf(m.Name(), mv, o)
	r.WireBytes, r.Traffic, r.TCP = w1-w0, tx, tcpRun
	if err != nil && ctx.Err() == nil {
		err = fmt.Errorf("INTEGRITY CHECK FAILED after %s move %s→%s: %w", m.Name(), mv.From.Name, mv.To.Name, err)
	}
	return r, o.Dst, st, err
}

func stopGuest(g Running) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g.Stop(ctx)
}

// lock takes an exclusive lock so two benches never share the topology.
func lock(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another bench holds %s", path)
	}
	return func() { f.Close(); os.Remove(path) }, nil
}

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
	"github.com/nfhandoff/nfhandoff/testbed"
)

// methods are every method the bench knows, in table order; the first two
// are the baselines the ratios are taken against (report.go), and the
// libvirt methods' first two those of the libvirt rows.
func methods(o options) []Method {
	agents := &agentSet{bin: o.migratord, root: o.root, imageDir: o.imageDir, profile: o.profile}
	lv := &lvSet{env: testbedEnv(o)}
	return []Method{&plain{}, &plain{tls: true}, &nfhandoff{agentSet: agents}, &nfhandoff{adaptive: true, agentSet: agents},
		&nfhandoff{pipe: api.PipeQUIC, agentSet: agents}, &nfhandoff{multifd: 2, agentSet: agents}, &nfhandoff{codec: true, agentSet: agents},
		&plain{postcopy: true}, &nfhandoff{prefetch: api.PrefetchNone, agentSet: agents}, &nfhandoff{prefetch: api.PrefetchWorkingSet, agentSet: agents},
		&lvMethod{lvSet: lv}, &lvMethod{tls: true, lvSet: lv}, &lvMethod{agents: true, lvSet: lv}}
}

// The guests and methods a run moves unless told: the bench's own
// topology's, or with --libvirt the testbed's libvirt domain by the
// libvirt methods.
var (
	defaultGuests  = map[bool]string{false: "idle-256M,full-1G,firewall-256M", true: "lvvnf-256M"}
	defaultMethods = map[bool]string{false: "qemu-tcp,qemu-tls,nfhandoff", true: "libvirt-tcp,libvirt-tls,nfhandoff-libvirt"}
)

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
	// trafficReports: each move's verify report goes in a directory here
	trafficReports string
	// libvirt: on the testbed (testbed/up --libvirt --agents) instead of
	// the bench's own topology, with the libvirt methods
	libvirt bool
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
	fs.BoolVar(&o.libvirt, "libvirt", false, "issue 14's rows: on the testbed (testbed/up --libvirt --agents: a libvirtd and an agent in libvirt mode per host; testbed/down at the end) instead of the bench's own topology, the guest lvvnf-256M by the methods libvirt-tcp, libvirt-tls and nfhandoff-libvirt (default guests and methods: "+defaultGuests[true]+" and "+defaultMethods[true]+")")
	g := fs.String("guests", "", "guests to migrate (default "+defaultGuests[false]+"; with --libvirt "+defaultGuests[true]+"): lvvnf-256M (--libvirt: the vnf image as a libvirt domain, 256 MiB, 32 MiB rewritten at 1 MiB/s and verified), idle-256M, full-1G, firewall-256M (two NICs, forwarding and NATing a TCP flow from the client to a server behind it across every move), mix-512M (a VNF-like working set: vnf --mix shared=200:unique=50:text=50, 1 MiB/s dirtied), gang4-mix-512M (four mix-512M guests with one --shared-seed moved at once: every plain method together and one after another, every nfhandoff method as one gang; issue 10's row (a)), ws-256M (512 MiB, a 256 MiB working set rewritten at 48 MiB/s, its own max-bandwidth of 32 MiB/s: post-copy is forced; issue 11's row, with the post-copy methods), ws-hot-256M (the same memory and cap; a 32 MiB hot part rewritten at random at 16 MiB/s and the rest written in order at 24 MiB/s, a ring the guest moves on from: the dirty pages at the switch are mostly not what it touches next), ws-flow-256M (ws-hot-256M whose reflector looks up 8 entries of the hot part for each test packet, as in a flow table: its reflection waits for the working set after a post-copy switch), ws-flow8-256M (the same with a table of 8 MiB, the hot part's first quarter)")
	m := fs.String("methods", "", "methods (default "+defaultMethods[false]+"; with --libvirt "+defaultMethods[true]+"): libvirt-tcp, libvirt-tls, nfhandoff-libvirt (--libvirt: plain virsh migrate --live --p2p with QEMU's stream over TCP, the same with --tls, the agents' move with the hand-off), qemu-tcp, qemu-tls, nfhandoff, nfhandoff-adaptive (the agents' default rate-adaptive start), nfhandoff-quic (QEMU's channel on a QUIC stream instead of a TLS lane over TCP), nfhandoff-multifd2 (two multifd channels, post-copy never), nfhandoff-codec (RAM pages coded on the agents' link: --codec auto), qemu-postcopy (plain QEMU over TCP, migrate-start-postcopy after the first pass), nfhandoff-postcopy (postcopy always: post-copy after the first pass, prefetch none), nfhandoff-postcopy-ws (the same with the working-set prefetch)")
	fs.IntVar(&o.traffic, "traffic-rate", 1000, "TWAMP-light test packets/s from the client namespace during every migration (0: none)")
	bw := fs.Uint64("max-bandwidth", 10<<30, "QEMU max-bandwidth for every method, bytes/s (a guest with its own, ws-256M, keeps it)")
	fs.DurationVar(&o.downtime, "downtime", 300*time.Millisecond, "QEMU downtime-limit for every method")
	fs.StringVar(&o.linkRate, "link-rate", "", "shape what the hosts send each other (every method's migration, not the guests' traffic) to this rate each way, e.g. 1gbit: an operator's migration network (default: unshaped, loopback speed)")
	fs.StringVar(&o.trafficReports, "traffic-reports", "", "write each move's test traffic as netctl migrate --verify --report does (report.json with every packet, timeline.png/.svg) into `dir`/GUEST-METHOD-HHMMSS")
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
	if *g == "" {
		*g = defaultGuests[o.libvirt]
	}
	if *m == "" {
		*m = defaultMethods[o.libvirt]
	}
	o.guests, o.methods = strings.Split(*g, ","), strings.Split(*m, ",")
	if o.libvirt && (o.linkRate != "" || o.profile.dir != "") {
		return o, errors.New("--link-rate and --cpu-profile are for the bench's own topology, not --libvirt")
	}
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
		if _, lv := all[i].(*lvMethod); lv != o.libvirt {
			return fmt.Errorf("method %q %s", name, onTestbed(lv))
		}
		ms = append(ms, all[i])
	}
	var gs []Guest
	for _, name := range o.guests {
		i := slices.IndexFunc(guests, func(g Guest) bool { return g.Label == name })
		if i < 0 {
			return fmt.Errorf("unknown guest %q", name)
		}
		if guests[i].Libvirt != o.libvirt {
			return fmt.Errorf("guest %q %s", name, onTestbed(guests[i].Libvirt))
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
	hosts, client, down, err := topology(ctx, o, log)
	defer down()
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	for _, m := range ms {
		defer m.Close()
		if err := m.Setup(ctx, o.runDir, hosts); err != nil {
			return fmt.Errorf("setting up %s: %w", m.Name(), err)
		}
	}
	set := Settings{MaxBandwidth: o.bandwidth, Downtime: o.downtime, TrafficRate: o.traffic, TrafficReports: o.trafficReports, Client: client}
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

// onTestbed says where a method or guest runs, for an error.
func onTestbed(libvirt bool) string {
	if libvirt {
		return "runs on the testbed: only with --libvirt"
	}
	return "runs on the bench's own topology: not with --libvirt"
}

// topology brings up where the guests run: the bench's own namespaces
// (removing what a killed run left first), or with --libvirt the
// testbed. It returns the hosts, the namespace the test traffic comes
// from, and what takes it all down again (also after an error).
func topology(ctx context.Context, o options, log *slog.Logger) (hosts []*Host, client string, down func(), err error) {
	if o.libvirt {
		hosts, down, err = testbedUp(ctx, testbedEnv(o), log)
		if down == nil {
			down = func() {}
		}
		return hosts, tbClient, down, err
	}
	killLeftoverAgents(o.runDir)
	killLeftovers(o.runDir)
	unmountBPFFS(o.runDir)
	os.RemoveAll(o.runDir)
	hosts, err = topoUp(o.runDir, o.imageDir)
	down = func() {
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
	}
	if err == nil {
		err = shapeLinks(hosts, o.linkRate)
	}
	return hosts, clientNS, down, err
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

// Command migratord is nfhandoff's per-host agent: it owns the host's QEMU
// guests and serves the API of migrator/api on a unix socket. It runs in the
// foreground; SIGINT/SIGTERM stop the agent and leave the guests running
// for the next migratord to re-adopt. Flags and wiring only: the agent is
// migrator/agent, the QEMU runtime migrator/vm.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nfhandoff/nfhandoff/dataplane"
	"github.com/nfhandoff/nfhandoff/migrator/agent"
	"github.com/nfhandoff/nfhandoff/migrator/libvirt"
	"github.com/nfhandoff/nfhandoff/migrator/pki"
	"github.com/nfhandoff/nfhandoff/migrator/prefetch"
	"github.com/nfhandoff/nfhandoff/migrator/session"
	"github.com/nfhandoff/nfhandoff/migrator/store"
	"github.com/nfhandoff/nfhandoff/migrator/transport"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type options struct {
	name, api, stateDir, imageDir, bridge, qemu, accel, accelCache string
	networks                                                       map[string]string // --network NAME=BRIDGE[,UPLINK]: the bridges
	metricsAddr, pprofSocket, logLevel, logFormat                  string
	quicListen, peers, ca, cert, key                               string
	libvirtSocket, libvirtURI, libvirtRunDir                       string
	version                                                        bool
	handoff                                                        handoffOptions
	debug                                                          session.Debug // hidden test knobs
	debugStoreFailAfterArrival                                     bool          // hidden test knob
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("migratord", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.name, "name", "", "host `name` of this agent, e.g. hostA (required)")
	fs.StringVar(&o.api, "api", "", "API unix socket `path` (default $NFH_RUN_DIR/<name>/api.sock)")
	fs.StringVar(&o.stateDir, "state-dir", "", "state `dir` (default /var/lib/nfhandoff/<name>)")
	fs.StringVar(&o.imageDir, "image-dir", "/var/lib/nfhandoff/images", "guest images `dir`")
	fs.StringVar(&o.bridge, "bridge", vm.DefaultBridge, "host `bridge` of the default network: the taps of NICs with no network join it")
	fs.Var(networksValue{&o.networks, &o.handoff.networkUplinks}, "network", "a further host network as `NAME=BRIDGE[,UPLINK]`: the taps of NICs whose spec names network NAME join BRIDGE, and a NIC arriving on it is announced (gratuitous ARP) on UPLINK; repeat for more networks")
	fs.StringVar(&o.qemu, "qemu", vm.DefaultQEMU, "QEMU `binary`")
	fs.StringVar(&o.accel, "accel", vm.AccelAuto, "accelerator: auto, kvm or tcg")
	fs.StringVar(&o.accelCache, "accel-cache", vm.DefaultAccelCache, "accelerator probe cache `file`, shared by the agents of a machine")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "extra TCP `address` serving /metrics (it is always on the unix socket)")
	fs.StringVar(&o.pprofSocket, "pprof-socket", "", "unix socket `path` serving Go's profiles (/debug/pprof/); empty: none")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `format`: text or json")
	fs.StringVar(&o.quicListen, "quic-listen", "", "UDP `address` for migrations from and to other agents, e.g. 198.18.0.11:7443 (empty: migrations disabled)")
	fs.StringVar(&o.peers, "peers", "", "peers `file`: lines \"hostB 198.18.0.12:7443\", read on every dial; its hosts are the only ones the dataplane takes forwarded frames from (read at start and before each incoming migration)")
	fs.StringVar(&o.ca, "ca", "", "CA certificate `file` (PEM) peers must chain to")
	fs.StringVar(&o.cert, "cert", "", "this host's certificate `file` (PEM, SAN DNS = --name)")
	fs.StringVar(&o.key, "key", "", "this host's private key `file` (PEM)")
	fs.StringVar(&o.libvirtSocket, "libvirt-socket", "", "UNIX socket `path` of this host's libvirt daemon (its qemu:///system): the agent also shows the daemon's running domains as guests (source libvirt) and attaches the dataplane to their taps, found by MAC in each domain's live XML; read-only: it never changes a domain, and the daemon's read-only socket (libvirt-sock-ro) suffices (empty: no libvirt mode)")
	fs.StringVar(&o.libvirtURI, "libvirt-uri", "", "with --libvirt-socket (its read-write socket), how peers' libvirt daemons reach this host's, e.g. qemu+tls://198.18.0.12/system (libvirt's own TLS): `netctl migrate` then moves the daemon's domains with libvirt's peer-to-peer migration, its stream through the agents' pipe, and the agent resumes the domains that arrive here once their traffic's hand-off is ready (empty: libvirt guests are only watched)")
	fs.StringVar(&o.libvirtRunDir, "libvirt-run-dir", "/run/libvirt", "where this process sees the libvirt daemon's /run/libvirt (differs when the daemon runs in its own mount namespace): the migrations' sockets are made in its nfhandoff/ directory")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	h := &o.handoff
	fs.BoolVar(&h.noDataplane, "no-dataplane", false, "run without the eBPF dataplane: no packet buffering, forwarding or GARP during migrations")
	fs.StringVar(&h.uplink, "uplink", "", "host uplink `interface` where stragglers for a moved VM are caught and forwarded (empty: none)")
	fs.StringVar(&h.pinDir, "bpf-pin-dir", "", "bpffs `dir` for the dataplane's pinned maps and links (default "+defaultPinRoot+"/<name>)")
	fs.StringVar(&h.tunnelDev, "tunnel-dev", dataplane.DefaultTunnelDev, "VXLAN `device` forwarded frames leave through (created if missing)")
	h.ringBytes, h.bufferBytes = dataplane.DefaultRingBytes, dataplane.DefaultQueueBytes
	fs.Var(sizeValue{&h.ringBytes}, "ring-bytes", "BPF ring buffer `size` (a power of two)")
	fs.Var(sizeValue{&h.bufferBytes}, "buffer-bytes", "user-space packet queue bound per VM, `size`; beyond it packets are dropped and counted")
	fs.IntVar(&h.garpCount, "garp-count", dataplane.DefaultGARPCount, "gratuitous ARPs sent for a VM when it resumes on this host")
	fs.DurationVar(&h.garpInterval, "garp-interval", dataplane.DefaultGARPInterval, "first interval between gratuitous ARPs, doubled each time")
	fs.DurationVar(&h.forwardGrace, "forward-grace", dataplane.DefaultForwardGrace, "how long a moved VM's stragglers are forwarded from this host")
	fs.Float64Var(&h.replayRate, "replay-rate", 0, "pace, in frames/s, of queued frames injected into a tap (a destination's release, a source's rollback); 0: automatic, twice the rate they arrived at, at least 1000/s; raised while new traffic arrives faster")
	fs.IntVar(&h.replayBurst, "replay-burst", dataplane.DefaultReplayBurst, "frames injected at once before --replay-rate applies")
	fs.DurationVar(&o.debug.SwitchoverDelay, "debug-switchover-delay", 0, "test knob: as a source, wait this long in BUFFER before migrate-continue")
	fs.DurationVar(&o.debug.RunningDelay, "debug-running-delay", 0, "test knob: as a destination, wait this long with the guest running here before telling the source")
	fs.Uint64Var(&o.debug.PostcopyRate, "debug-postcopy-rate", 0, "test knob: as a source, pace post-copy at this many `bytes/s` (0: unpaced)")
	fs.Func("debug-prefetch", "test knob: as a source, the working set a request for post-copy prefetch sends first: `BLOCK:START:LEN[,...]`", func(v string) error {
		_, err := prefetch.ParseRanges(v)
		o.debug.PrefetchRanges = v
		return err
	})
	fs.Int64Var(&o.debug.CorruptPage, "debug-corrupt-page", 0, "test knob: as a source, alter the `N`th coded page after naming it (the destination must refuse it)")
	fs.BoolVar(&o.debugStoreFailAfterArrival, "debug-store-fail-writes-after-arrival", false, "test knob: once an incoming guest runs here, the store fails every write")
	setUsage(fs, stderr)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.version {
		return o, nil
	}
	if o.name == "" {
		return o, errors.New("--name is required")
	}
	if strings.ContainsAny(o.name, "/ ") {
		return o, fmt.Errorf("--name %q: no slashes or spaces", o.name)
	}
	if o.libvirtURI != "" && o.libvirtSocket == "" {
		return o, errors.New("--libvirt-uri needs --libvirt-socket (the daemon's read-write socket)")
	}
	if o.api == "" {
		runDir := os.Getenv("NFH_RUN_DIR")
		if runDir == "" {
			runDir = "/run/nfhandoff"
		}
		o.api = filepath.Join(runDir, o.name, "api.sock")
	}
	if o.stateDir == "" {
		o.stateDir = filepath.Join("/var/lib/nfhandoff", o.name)
	}
	if h.pinDir == "" {
		h.pinDir = defaultPinDir(o.name)
	}
	if err := h.check(); err != nil {
		return o, err
	}
	if o.debug.SwitchoverDelay < 0 || o.debug.RunningDelay < 0 {
		return o, fmt.Errorf("--debug-switchover-delay and --debug-running-delay cannot be negative")
	}
	if err := o.checkQUIC(); err != nil {
		return o, err
	}
	return o, nil
}

// checkQUIC: --quic-listen, --peers, --ca, --cert and --key go together.
func (o options) checkQUIC() error {
	set := map[string]string{"--quic-listen": o.quicListen, "--peers": o.peers, "--ca": o.ca, "--cert": o.cert, "--key": o.key}
	var have, miss []string
	for _, f := range []string{"--quic-listen", "--peers", "--ca", "--cert", "--key"} {
		if set[f] != "" {
			have = append(have, f)
		} else {
			miss = append(miss, f)
		}
	}
	if len(have) > 0 && len(miss) > 0 {
		return fmt.Errorf("migrations need all of --quic-listen, --peers, --ca, --cert and --key: %s given without %s",
			strings.Join(have, ", "), strings.Join(miss, ", "))
	}
	return nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "migratord:", err)
		os.Exit(2)
	}
	if o.version {
		fmt.Println("migratord", version)
		return
	}
	log, err := newLogger(os.Stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "migratord:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		log.Error("migratord failed", "err", err)
		fmt.Fprintln(os.Stderr, "migratord:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	st, err := store.Open(o.stateDir, store.Options{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := vm.NewLauncher(vm.Config{
		Host: o.name, StateDir: o.stateDir, ImageDir: o.imageDir, Bridge: o.bridge, Networks: o.networks,
		QEMU: o.qemu, Accel: o.accel, AccelCache: o.accelCache, Logger: log,
	})
	if err != nil {
		return err
	}
	defer l.Close()
	// A bridge may come later (a guest's start checks again): warn only.
	if err := l.CheckBridges(); err != nil {
		log.Warn("guests whose NICs need a missing bridge cannot start", "err", err)
	}
	handoff, collectors, dp, err := startDataplane(ctx, o.handoff, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := dp.Close(); err != nil {
			log.Warn("closing the dataplane", "err", err)
		}
	}()
	acfg := agent.Config{Host: o.name, Store: st, Runtime: agent.VMRuntime(l), Logger: log, Version: version,
		Handoff: handoff, Collectors: collectors, Debug: o.debug, Peers: o.peers,
		DebugStoreFailAfterArrival: o.debugStoreFailAfterArrival}
	if o.libvirtSocket != "" {
		acfg.Foreign = libvirt.NewWatcher(o.libvirtSocket, log)
		if o.libvirtURI != "" {
			acfg.Engine = libvirt.NewEngine(o.libvirtSocket, o.libvirtURI, o.libvirtRunDir, log)
		}
	}
	var node *transport.Node
	var a *agent.Agent
	if o.quicListen != "" {
		id, err := pki.LoadIdentity(o.ca, o.cert, o.key)
		if err != nil {
			return fmt.Errorf("loading identity: %w", err)
		}
		if id.Name != o.name {
			return fmt.Errorf("certificate %s names host %q, not --name %q", o.cert, id.Name, o.name)
		}
		node, err = transport.New(transport.Config{
			Identity: id, Listen: o.quicListen, Peers: o.peers, Logger: log,
			Accept: func(ctx context.Context, c *transport.Conn) { a.AcceptConn(ctx, c) },
		})
		if err != nil {
			return err
		}
		defer node.Close()
		acfg.Dial = func(ctx context.Context, host string) (session.Conn, error) {
			c, err := node.Dial(ctx, host)
			if err != nil {
				return nil, err
			}
			return session.FromTransport(c), nil
		}
	}
	a, err = agent.New(acfg)
	if err != nil {
		return err
	}
	ln, err := agent.ListenUnix(ctx, o.api)
	if err != nil {
		return err
	}
	if o.metricsAddr != "" {
		mln, err := net.Listen("tcp", o.metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.MetricsHandler())
		go serveExtra(ctx, mln, mux, "metrics", log)
	}
	if o.pprofSocket != "" {
		pln, err := agent.ListenUnix(ctx, o.pprofSocket)
		if err != nil {
			ln.Close()
			return fmt.Errorf("pprof listener: %w", err)
		}
		go serveExtra(ctx, pln, pprofMux(), "pprof", log)
	}
	log.Info("migratord starting", "host", o.name, "version", version, "api", o.api, "state_dir", o.stateDir,
		"image_dir", o.imageDir, "bridge", o.bridge, "networks", networksValue{&o.networks, &o.handoff.networkUplinks}.String(),
		"quic", o.quicListen, "pid", os.Getpid())
	if node != nil {
		go func() {
			if err := node.Serve(ctx); err != nil {
				log.Error("quic listener", "err", err)
			}
		}()
	}
	return a.Serve(ctx, ln)
}

// serveExtra serves mux on ln (metrics, profiles) until ctx ends.
func serveExtra(ctx context.Context, ln net.Listener, mux *http.ServeMux, what string, log *slog.Logger) {
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("serving "+what, "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error(what+" listener", "err", err)
	}
}

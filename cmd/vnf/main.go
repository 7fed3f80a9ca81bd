// Command vnf is the network function that runs inside test guests: a
// TWAMP-light reflector, a UDP echo server, a status server and a memory
// workload with integrity checks (see package netctl/vnf). It is built
// static and started by the guest initramfs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/netctl/vnf"
	"github.com/nfhandoff/nfhandoff/netctl/vnf/router"
	"github.com/nfhandoff/nfhandoff/netctl/vnf/wsguest"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vnf:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	cfg, log, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	switch limit, avail, err := vnf.LimitMemory(); {
	case err != nil:
		log.Warn("no memory limit", "err", err)
	case limit > 0:
		log.Info("memory limit", "limit_mib", limit>>20, "available_mib", avail>>20)
		if ws := int64(cfg.WSSMB) << 20; ws > limit {
			log.Warn("the working set is larger than the memory limit: the guest cannot hold it", "wss_mib", cfg.WSSMB, "limit_mib", limit>>20)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return vnf.Run(ctx, cfg, log)
}

// parseFlags turns the command line into a vnf.Config and a logger on stderr.
func parseFlags(args []string, stderr io.Writer) (vnf.Config, *slog.Logger, error) {
	fs := flag.NewFlagSet("vnf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg        vnf.Config
		fill       = fs.String("fill", "random", "page payload without --mix: random, zero or pattern")
		listen     = fs.String("listen", "0.0.0.0", "IP address to listen on")
		twampPort  = fs.Int("twamp-port", twamp.Port, "TWAMP-light reflector UDP port")
		echoPort   = fs.Int("echo-port", vnf.EchoPort, "UDP echo port")
		statusPort = fs.Int("status-port", vnfproto.Port, "status UDP port")
		logLevel   = fs.String("log-level", "info", "debug, info, warn or error")
		kern       = fs.String("kernel-reflector", string(vnf.KernelReflectorAuto), "answer TWAMP-light test packets in the kernel (a tc program): auto (if it attaches), on or off")
		routerArg  = fs.String("router", "", "be a stateful firewall/NAT from access interface IN to core interface OUT: IN:OUT (or IN,OUT), e.g. eth0:eth1")
	)
	mix := fs.String("mix", "", "lay the working set out like a VNF's memory, MiB per kind: shared=N:unique=N:text=N:zero=N (',' separates too, but only ':' passes the guest kernel command line; a kind left out has none). "+
		"shared: code-like (compresses ~2-2.5x), byte-identical in VMs with the same --shared-seed until dirtied; unique: random, incompressible; text: words (compresses ~3x); unique and text differ in every VM. "+
		"zero: all-zero pages without a header, never dirtied, verified to be all zero. Sets --wss (if also given, they must agree); not with --fill")
	fs.StringVar(&cfg.WSReportPort, "ws-report-port", wsguest.DefaultPort, "virtio-serial port (by name) on which the host asks for the working-set report, for its post-copy prefetch; the vnf answers each request and writes nothing unasked; no such port: runs without; \"\": off")
	lies := fs.String("ws-report-lie", "", "for tests: answer the host's working-set requests with these lies in turn, separated by ':' (or ','): "+
		"garbage, wrong-id, out-of-range, huge, stale, or all (see package wsguest)")
	fs.IntVar(&cfg.WSSMB, "wss", 0, "working set size in MiB (with --mix, its total)")
	fs.Float64Var(&cfg.DirtyRate, "dirty-rate", 0, "MiB/s of the working set rewritten (0 = none)")
	fs.IntVar(&cfg.HotMB, "hot-mib", 0, "the dirtier rewrites only the first MiB of the working set, its hot part, reported first after the kernel's packet path (0 = all of it)")
	fs.Float64Var(&cfg.SweepRate, "sweep-rate", 0, "MiB/s written in order, wrapping, over the working set after --hot-mib (0 = none)")
	fs.IntVar(&cfg.FlowLookups, "flow-lookups", 0, "look up this many entries of a flow table, the working set's hot part (all of it without --hot-mib), for each TWAMP-light test packet before answering it, the entries chosen from its sequence number: a VNF whose packets depend on its working set. The in-kernel reflector does them in its program, whose flow table the working set then lives in; the socket reflector in Go (0 = none)")
	fs.IntVar(&cfg.FlowMB, "flow-mib", 0, "with --flow-lookups, the flow table is the first MiB of the working set (at most --hot-mib; 0 = the hot part, or all of the working set)")
	fs.IntVar(&cfg.FreedMB, "freed-mib", 0, "MiB written and given back to the guest's kernel at the start, before the working set: free memory with stale content (with free page reporting the host discards it, and a migration sends it as zero pages)")
	fs.Float64Var(&cfg.VerifyRate, "verify-rate", vnf.DefaultVerifyRate, "MiB/s of the working set verified (negative = no verifier)")
	fs.DurationVar(&cfg.VerifyPass, "verify-pass", vnf.DefaultVerifyPass, "shortest time between two full verify passes")
	fs.Uint64Var(&cfg.SharedSeed, "shared-seed", 0, "seed of --mix's shared pages: VMs with the same seed hold the same shared pages (0 = a fixed seed, the same in every VM)")
	fs.Uint64Var(&cfg.UniqueSeed, "unique-seed", 0, "seed of --mix's unique and text pages (0 = a random one, different in every VM)")
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	if fs.NArg() > 0 {
		return cfg, nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.Fill, err = vnf.ParseFill(*fill); err != nil {
		return cfg, nil, err
	}
	if *mix != "" {
		if err := parseMix(fs, *mix, &cfg); err != nil {
			return cfg, nil, err
		}
	}
	if cfg.WSReportLies, err = wsguest.ParseLies(*lies); err != nil {
		return cfg, nil, err
	}
	if cfg.KernelReflector, err = vnf.ParseKernelReflector(*kern); err != nil {
		return cfg, nil, err
	}

	if *routerArg != "" {
		if cfg.Router, err = router.Parse(*routerArg); err != nil {
			return cfg, nil, err
		}
	}
	if cfg.VerifyRate == 0 {
		cfg.VerifyRate = -1 // an explicit 0 turns the verifier off
	}
	if cfg.VerifyPass == 0 {
		cfg.VerifyPass = time.Nanosecond
	}
	addr := func(port int) string { return net.JoinHostPort(*listen, strconv.Itoa(port)) }
	cfg.TWAMPAddr, cfg.EchoAddr, cfg.StatusAddr = addr(*twampPort), addr(*echoPort), addr(*statusPort)
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return cfg, nil, fmt.Errorf("parsing --log-level: %w", err)
	}
	return cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), nil
}

// parseMix sets cfg.Mix from --mix, which excludes --fill and sets --wss.
func parseMix(fs *flag.FlagSet, s string, cfg *vnf.Config) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["fill"] {
		return errors.New("--mix and --fill exclude each other: --mix says what every page holds")
	}
	m, err := vnf.ParseMix(s)
	if err != nil {
		return fmt.Errorf("parsing --mix: %w", err)
	}
	if set["wss"] && cfg.WSSMB != m.Total() {
		return fmt.Errorf("--wss %d but --mix %s adds up to %d MiB", cfg.WSSMB, s, m.Total())
	}
	cfg.Mix, cfg.WSSMB = m, m.Total()
	return nil
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/iperf"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
	"github.com/spf13/pflag"
)

// verifyOpts are the --verify flags of "netctl migrate".
type verifyOpts struct {
	on            bool
	rate, size    int
	before, after time.Duration
	netns         string
	netnsSet      bool // --verify-netns was given
	maxLost       int
	maxGap        time.Duration
	report        string
	target        string // --verify-target: a reflector behind the VNF
	port          int    // hidden --verify-port, for tests against a local reflector
	tcp           bool   // --verify-tcp: an iperf3 flow to the target too
	tcpMbps       int
	tcpPort       int
}

func (v *verifyOpts) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&v.on, "verify", false, "measure the VNF's traffic across the migration (TWAMP-light) and judge it")
	f.IntVar(&v.rate, "verify-rate", verify.DefaultRate, "verify: test packets per second")
	f.IntVar(&v.size, "verify-size", verify.DefaultSize, "verify: UDP payload bytes of a test packet (at least 14)")
	f.DurationVar(&v.before, "verify-before", 2*time.Second, "verify: send this long before the migration starts")
	f.DurationVar(&v.after, "verify-after", 3*time.Second, "verify: keep sending this long after it ends")
	f.StringVar(&v.netns, "verify-netns", "", `verify: send from this network namespace ("-": from here; default: nfh-client if it exists and netctl runs outside the testbed's namespaces)`)
	f.IntVar(&v.maxLost, "max-lost", 0, "verify: the verdict fails when more test packets are lost or the hand-off dropped more frames (default 0, the project's target; -1: no limit)")
	f.DurationVar(&v.maxGap, "max-gap", 0, "verify: the verdict fails when the largest gap (outage of lost packets) is longer (default: no limit)")
	f.StringVar(&v.report, "report", "", "verify: write report.json and a timeline picture into this directory")
	f.StringVar(&v.target, "verify-target", "", "verify: probe the TWAMP-light reflector at this IPv4 address instead of the VM's own, e.g. a server behind a firewall VNF: the verdict is then about the traffic through the VNF")
	f.IntVar(&v.port, "verify-port", twamp.Port, "verify: the reflector's UDP port")
	_ = f.MarkHidden("verify-port")
	f.BoolVar(&v.tcp, "verify-tcp", false, "verify: also run a TCP flow (Debian's iperf3) to an iperf3 server at the target across the migration; the verdict fails if it does not survive")
	f.IntVar(&v.tcpMbps, "verify-tcp-mbps", 10, "verify: the TCP flow's rate in Mbit/s (a load the VNF forwards)")
	f.IntVar(&v.tcpPort, "verify-tcp-port", iperf.DefaultPort, "verify: the iperf3 server's TCP port")
}

// needed fails when a verify flag is given without --verify.
func (v *verifyOpts) needed(changed func(string) bool) error {
	if v.on {
		return nil
	}
	for _, f := range []string{"report", "max-lost", "max-gap", "verify-rate", "verify-size", "verify-before",
		"verify-after", "verify-netns", "verify-port", "verify-target", "verify-tcp", "verify-tcp-mbps", "verify-tcp-port"} {
		if changed(f) {
			return usageErrorf("--%s needs --verify", f)
		}
	}
	return nil
}

// validate checks the flags before anything is started.
func (v *verifyOpts) validate(detach bool) error {
	switch {
	case !v.on:
		return nil
	case detach:
		return usageErrorf("--verify measures until the migration ends: it cannot be combined with --detach")
	case v.rate < 1 || v.rate > 100000:
		return usageErrorf("--verify-rate %d: want 1..100000 packets/s", v.rate)
	case v.size < twamp.SenderHeaderLen || v.size > 65507:
		return usageErrorf("--verify-size %d: want %d..65507 bytes", v.size, twamp.SenderHeaderLen)
	case v.before < 0 || v.after < 0:
		return usageErrorf("--verify-before and --verify-after: want durations >= 0")
	case v.port < 1 || v.port > 65535:
		return usageErrorf("--verify-port %d: want 1..65535", v.port)
	case v.tcpPort < 1 || v.tcpPort > 65535:
		return usageErrorf("--verify-tcp-port %d: want 1..65535", v.tcpPort)
	case v.tcpMbps < 1 || v.tcpMbps > 100000:
		return usageErrorf("--verify-tcp-mbps %d: want 1..100000", v.tcpMbps)
	}
	if v.target != "" {
		if a, err := netip.ParseAddr(v.target); err != nil || !a.Is4() {
			return usageErrorf("--verify-target %q: want an IPv4 address", v.target)
		}
	}
	if v.report != "" {
		if err := os.MkdirAll(v.report, 0o755); err != nil {
			return usageErrorf("--report: %v", err)
		}
	}
	return nil
}

// verifySession is a TWAMP-light sender (and with --verify-tcp an iperf3
// flow) running across one migration.
type verifySession struct {
	opts   verifyOpts
	s      *verify.Sender
	flow   *iperf.Flow // nil without --verify-tcp
	target netip.AddrPort
	netns  string
}

// startVerify finds vm's address on the source agent, starts sending to its
// reflector and sends for --verify-before. It fails, before any migration
// is started, when the reflector does not answer at all.
func startVerify(ctx context.Context, g *globals, t *target, vm string, o verifyOpts) (*verifySession, error) {
	rec, err := call(ctx, g, t, func(ctx context.Context) (api.VM, error) { return t.client.GetVM(ctx, vm) })
	if err != nil {
		return nil, fmt.Errorf("finding %s's address on %s: %w", vm, t.name, err)
	}
	addr, whose := netip.Addr{}, vm+"'s reflector"
	if o.target != "" {
		addr, whose = netip.MustParseAddr(o.target), "the reflector through "+vm // validate parsed it
	} else {
		p, err := netip.ParsePrefix(rec.Spec.Address)
		if err != nil {
			return nil, fmt.Errorf("%s has no usable address (%q): %w", vm, rec.Spec.Address, err)
		}
		addr = p.Addr()
	}
	vs := &verifySession{opts: o, target: netip.AddrPortFrom(addr, uint16(o.port)), netns: o.netns}
	from := "netctl's own network namespace"
	switch {
	case o.netnsSet && (o.netns == "-" || o.netns == ""):
		vs.netns = ""
	case o.netnsSet:
		from = "network namespace " + o.netns
	default:
		if vs.netns = defaultVerifyNetns(); vs.netns != "" {
			from = "network namespace " + vs.netns + ` (the testbed's client; "--verify-netns -" sends from here)`
		}
	}
	cfg := verify.Config{Target: vs.target, Rate: o.rate, Size: o.size, Netns: vs.netns}
	vs.s, err = verify.Start(context.WithoutCancel(ctx), cfg, nil)
	if err != nil {
		err = fmt.Errorf("starting the verification sender towards %s: %w", vs.target, err)
		if vs.netns != "" {
			err = withHint(err, "sending from a network namespace needs root; \"--verify-netns -\" sends from where netctl runs")
		}
		return nil, err
	}
	fmt.Fprintf(g.logw(), "verify: %d packets/s of %d bytes to %s (%s) from %s\n", o.rate, o.size, vs.target, whose, from)
	if o.tcp {
		vs.flow, err = iperf.Client{Netns: vs.netns, Server: addr, Port: o.tcpPort, Bitrate: int64(o.tcpMbps) * 1e6}.Start(ctx)
		if err != nil {
			vs.s.Stop()
			return nil, withHint(err, "--verify-tcp runs Debian's iperf3 (make deps installs it)")
		}
		fmt.Fprintf(g.logw(), "verify: a TCP flow (iperf3, %d Mbit/s) to %s:%d\n", o.tcpMbps, addr, o.tcpPort)
	}
	select {
	case <-ctx.Done():
		vs.stop()
		return nil, ctx.Err()
	case <-time.After(o.before):
	}
	if vs.flow != nil && vs.flow.Exited() {
		r, err := vs.flow.Stop()
		vs.s.Stop()
		if err == nil {
			err = errors.New(r.Error)
		}
		return nil, withHint(fmt.Errorf("verify: the TCP flow to %s:%d ended before the migration (%v); the migration was not started", addr, o.tcpPort, err),
			"does an iperf3 server (iperf3 -s) listen at %s:%d, reachable from %s?", addr, o.tcpPort, from)
	}
	if sent, got := vs.s.Counts(); o.before > 0 && sent > 0 && got == 0 {
		vs.stop()
		hint := fmt.Sprintf("is the vnf running (netctl vm status %s), and is %s reachable from %s?", vm, vs.target.Addr(), from)
		if o.target != "" {
			hint = fmt.Sprintf("does a reflector answer at %s, and does %s route to it through %s (and %s forward)?", vs.target, from, vm, vm)
		}
		return nil, withHint(fmt.Errorf("verify: no reply from %s during --verify-before %v (%d sent); the migration was not started", vs.target, o.before, sent), "%s", hint)
	}
	return vs, nil
}

// counters is the live "verify received/sent" shown with the progress.
func (vs *verifySession) counters() string {
	sent, got := vs.s.Counts()
	return fmt.Sprintf("  verify %d/%d", got, sent)
}

// stop stops the sender and the TCP flow; it is safe to call more than
// once.
func (vs *verifySession) stop() {
	vs.s.Stop()
	if vs.flow != nil {
		vs.flow.Stop()
	}
}

package vnf

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/netctl/vnf/kreflect"
	"github.com/nfhandoff/nfhandoff/netctl/vnf/router"
	"github.com/nfhandoff/nfhandoff/netctl/vnf/wsguest"
)

// VNF is a running network function: its sockets, counters and memory.
type VNF struct {
	cfg   Config
	log   *slog.Logger
	boot  [16]byte
	start time.Time

	twampConn, echoConn, statusConn *net.UDPConn

	reflector *twamp.Reflector
	kern      *kreflect.Reflector // nil: the socket reflector answers every test packet
	echo      *echoServer
	mem       *memory
	work      *workload
	drops     dropReader
	router    *router.Router // nil: not a router (Config.Router)
}

// New validates cfg, opens the three sockets and allocates the working set.
// Call Run to serve; a VNF that is never Run must be Closed.
func New(cfg Config, log *slog.Logger) (*VNF, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	v := &VNF{cfg: cfg, log: log, start: time.Now(), reflector: twamp.NewReflector(log.With("server", "twamp")),
		echo: &echoServer{log: log.With("server", "echo")}}
	rand.Read(v.boot[:])
	var err error
	for _, l := range []struct {
		addr string
		conn **net.UDPConn
	}{{cfg.TWAMPAddr, &v.twampConn}, {cfg.EchoAddr, &v.echoConn}, {cfg.StatusAddr, &v.statusConn}} {
		if *l.conn, err = listenUDP(l.addr); err != nil {
			v.Close()
			return nil, err
		}
	}
	// The interface the vnf serves on is the one carrying the TWAMP
	// address, if it is bound to one.
	v.drops = newDropReader(v.twampConn.LocalAddr().(*net.UDPAddr).IP)
	if err := v.attachKernelReflector(); err != nil {
		v.Close()
		return nil, err
	}
	var buf []byte // nil: from the heap
	if v.kern != nil {
		buf = v.kern.FlowTable() // the working set is the program's flow table
	}
	if cfg.Mix.IsZero() {
		v.mem = newMemory(cfg.WSSMB*(1<<20)/PageSize, cfg.Fill, buf)
	} else {
		v.mem = newMixedMemory(cfg.Mix, cfg.SharedSeed, cfg.UniqueSeed, buf)
	}
	v.work = newWorkload(v.mem, cfg.DirtyRate, cfg.VerifyRate, cfg.VerifyPass,
		binary.LittleEndian.Uint64(v.boot[:]), log.With("part", "memory"))
	v.work.shape(cfg.HotMB, cfg.SweepRate)
	if cfg.FlowLookups > 0 {
		// The socket reflector's test packets (all of them without the
		// in-kernel one) look up the same entries the program's would.
		ft := newFlowTable(v.mem, cfg.flowEntries(), cfg.FlowLookups)
		v.reflector.SetWork(func(p []byte) { ft.lookup(p) })
		log.Info("test packets look up the flow table", "entries", ft.entries, "lookups", cfg.FlowLookups, "in_kernel", v.kern != nil)
	}
	return v, nil
}

func listenUDP(addr string) (*net.UDPConn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("resolving %q: %w", addr, err)
	}
	network := "udp4"
	if ua.IP != nil && ua.IP.To4() == nil {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, ua)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	sizeReceiveBuffer(c)
	return c, nil
}

// RecvBufferBytes is the receive buffer a VNF socket asks for. A packet
// function sizes its buffers for bursts: after a migration the packets held
// through the blackout arrive back to back, and the kernel's default
// (~200 KiB, about 160 small datagrams) would drop part of them inside the
// guest, where no host counter sees it. 64 MiB holds some ten thousand
// small datagrams: a rollback after a long blackout returns that many.
const RecvBufferBytes = 64 << 20

// attachKernelReflector puts the in-kernel reflector on the interface of the TWAMP
// address (cfg.KernelReflector): with "auto" a failure leaves the socket reflector
// alone, with "on" it is an error.
func (v *VNF) attachKernelReflector() error {
	if v.cfg.KernelReflector == KernelReflectorOff {
		return nil
	}
	la := v.twampConn.LocalAddr().(*net.UDPAddr)
	iface, addr, err := reflectorIface(la.IP)
	if err == nil {
		kc := kreflect.Config{Iface: iface, Port: uint16(la.Port), Addr: addr, ErrorEstimate: uint16(twamp.DefaultErrorEstimate)}
		if v.cfg.FlowLookups > 0 {
			// The working set becomes the program's flow table (New
			// puts the memory in it).
			kc.FlowPages, kc.FlowEntries, kc.FlowLookups = v.cfg.WSSMB*(1<<20)/PageSize, v.cfg.flowEntries(), v.cfg.FlowLookups
		}
		v.kern, err = kreflect.Attach(kc, v.log.With("server", "twamp"))
	}
	if err != nil {
		if v.cfg.KernelReflector == KernelReflectorOn {
			return err
		}
		v.log.Warn("test packets answered by the socket reflector only", "err", err)
		return nil
	}
	v.reflector.ShareSeq(v.kern)
	return nil
}

// reflectorIface is the interface the in-kernel reflector goes on and the
// address it answers for: the one carrying ip, or, for an unspecified ip,
// the only interface up with an IPv4 address besides loopback.
func reflectorIface(ip net.IP) (string, netip.Addr, error) {
	names, ips := interfacesWith(ip)
	if len(names) != 1 {
		return "", netip.Addr{}, fmt.Errorf("no single interface for test packets to %s (found %q)", ip, names)
	}
	addr, ok := netip.AddrFromSlice(ips[0].To4())
	if !ok {
		return "", netip.Addr{}, fmt.Errorf("test packets to %s: not IPv4", ips[0])
	}
	return names[0], addr, nil
}

// Close releases the sockets (and the in-kernel reflector) of a VNF that
// was never Run.
func (v *VNF) Close() error {
	var errs []error
	if v.kern != nil {
		errs = append(errs, v.kern.Close())
		v.kern = nil
	}
	for _, c := range []*net.UDPConn{v.twampConn, v.echoConn, v.statusConn} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// Addrs returns the bound TWAMP, echo and status addresses.
func (v *VNF) Addrs() (twampAddr, echoAddr, statusAddr netip.AddrPort) {
	ap := func(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }
	return ap(v.twampConn), ap(v.echoConn), ap(v.statusConn)
}

// Status reports the VNF's counters and the guest kernel's drop counters.
func (v *VNF) Status() vnfproto.Status {
	s := vnfproto.Status{
		BootID:           v.boot,
		Uptime:           time.Since(v.start),
		PacketsReflected: v.reflector.Reflected() + v.kernReflected(),
		EchoPackets:      v.echo.answers.Load(),
		ReflectorSeq:     v.reflector.Seq(),
		WSSPages:         uint64(v.mem.pages()),
		PagesWritten:     v.mem.written.Load(),
		PagesVerified:    v.mem.verified.Load(),
		VerifyPasses:     v.work.passes.Load(),
		CorruptPages:     v.mem.corrupt.Load(),
		StalePages:       v.mem.stale.Load(),
	}
	if v.kern != nil {
		s.ReflectorSeq = v.kern.Seq()
	}
	v.drops.read(&s)
	s.Router = v.router.Status()
	return s
}

func (v *VNF) kernReflected() uint64 {
	if v.kern == nil {
		return 0
	}
	return v.kern.Reflected()
}

// Run serves until ctx ends: it sets up the router (Config.Router), starts
// the servers, writes every page of the working set once, prints
// "vnf: ready", then runs the memory workload.
// It returns nil when ctx ends and the first server error otherwise.
func (v *VNF) Run(parent context.Context) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	v.setupRouter(ctx)
	var wg sync.WaitGroup
	serve := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil {
				cancel(fmt.Errorf("%s server: %w", name, err))
			}
		})
	}
	serve("twamp", func(ctx context.Context) error { return v.reflector.Serve(ctx, v.twampConn) })
	serve("echo", func(ctx context.Context) error { return v.echo.serve(ctx, v.echoConn) })
	serve("status", func(ctx context.Context) error {
		return vnfproto.Serve(ctx, v.statusConn, v.Status, v.log.With("server", "status"))
	})
	if v.cfg.WSReportPort != "" {
		// From the start: the report grows as the working set is written.
		wg.Go(func() {
			wsguest.Run(ctx, wsguest.Config{Port: v.cfg.WSReportPort, Hot: v.mem.hotPart(v.work.hot),
				Bulk: v.mem.coldPart(v.work.hot), Lies: v.cfg.WSReportLies}, v.log.With("part", "ws-report"))
		})
	}

	if v.cfg.FreedMB > 0 {
		t := time.Now()
		if err := writeAndFree(v.cfg.FreedMB); err != nil {
			v.log.Warn("memory not written and freed", "err", err)
		} else {
			v.log.Info("memory written and freed", "mib", v.cfg.FreedMB, "took", time.Since(t).Round(time.Millisecond))
		}
	}
	t0 := time.Now()
	if err := v.work.fill(ctx); err == nil {
		v.log.Info("working set written", "pages", v.mem.pages(), "content", v.content(), "took", time.Since(t0).Round(time.Millisecond))
		tw, ec, st := v.Addrs()
		v.log.Info("listening", "twamp", tw, "echo", ec, "status", st, "boot_id", hex.EncodeToString(v.boot[:]))
		ready := v.cfg.Ready
		if ready == nil {
			ready = os.Stdout
		}
		io.WriteString(ready, "vnf: ready\n")
		wg.Go(func() { v.work.run(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	if v.kern != nil {
		if err := v.kern.Close(); err != nil {
			v.log.Warn("detaching the in-kernel reflector", "err", err)
		}
	}
	if parent.Err() != nil {
		return nil
	}
	return context.Cause(ctx)
}

// content says what the working set holds, for the log.
func (v *VNF) content() string {
	if v.cfg.Mix.IsZero() {
		return "fill " + v.cfg.Fill.String()
	}
	return fmt.Sprintf("mix %v, shared seed %#x", v.cfg.Mix, v.cfg.SharedSeed)
}

// Run is New followed by VNF.Run.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	v, err := New(cfg, log)
	if err != nil {
		return err
	}
	return v.Run(ctx)
}

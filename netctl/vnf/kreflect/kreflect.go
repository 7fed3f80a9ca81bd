package kreflect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/dataplane/tchook"
)

// Config says where the program goes and what it answers.
type Config struct {
	Iface         string     // interface to attach to
	Port          uint16     // UDP port of the test packets
	Addr          netip.Addr // the reflector's IPv4 (invalid: any address)
	ErrorEstimate uint16     // the reflector's Error Estimate (RFC 4656 4.1.2)

	// FlowPages sizes the program's flow table, FlowPageSize octets an
	// entry, which the caller maps (Reflector.FlowTable) as its working
	// set; FlowLookups entries of its first FlowEntries are looked up for
	// each test packet before it is answered (bpf/twamp_reflect.c). 0: no
	// table, no lookups.
	FlowPages, FlowEntries, FlowLookups int
}

// FlowPageSize is the size of one flow table entry: a page.
const FlowPageSize = 4096

// MaxFlowLookups is the most lookups a test packet gets (the program's
// bound).
const MaxFlowLookups = 64

func (c Config) validateFlows() error {
	switch {
	case c.FlowPages < 0 || c.FlowEntries < 0 || c.FlowLookups < 0:
		return fmt.Errorf("negative flow table (%d pages, %d entries, %d lookups)", c.FlowPages, c.FlowEntries, c.FlowLookups)
	case c.FlowEntries > c.FlowPages || c.FlowPages > 1<<20:
		return fmt.Errorf("flow table of %d pages, %d of them looked up", c.FlowPages, c.FlowEntries)
	case c.FlowLookups > MaxFlowLookups:
		return fmt.Errorf("%d flow lookups a packet, at most %d", c.FlowLookups, MaxFlowLookups)
	case c.FlowLookups > 0 && c.FlowEntries == 0:
		return errors.New("flow lookups without entries to look up")
	}
	return nil
}

// clockEvery is how often the program's wall clock offset is refreshed
// (it only moves when the guest's clock is stepped).
const clockEvery = time.Second

// Reflector is the attached program.
type Reflector struct {
	objs twampObjects
	hook *tchook.Hook
	mu   sync.Mutex // taking a sequence number from user space
	flow []byte     // the flow table, mapped; nil without one
	stop context.CancelFunc
	done chan struct{}
}

// Attach loads the program and attaches it to cfg.Iface's tc ingress (a
// clsact filter: Linux 6.1, the test guest's kernel, has no tcx). It keeps
// the program's clock until Close.
func Attach(cfg Config, log *slog.Logger) (*Reflector, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ifi, err := net.InterfaceByName(cfg.Iface)
	if err != nil {
		return nil, fmt.Errorf("in-kernel reflector: %w", err)
	}
	r := &Reflector{}
	if err := r.load(cfg); err != nil {
		return nil, err
	}
	r.hook, err = tchook.Attach(tchook.Spec{Dev: cfg.Iface, Ifindex: ifi.Index, Name: "twamp", ForceClsact: true},
		r.objs.TwampReflect, log)
	if err != nil {
		r.objs.Close()
		if r.flow != nil {
			unix.Munmap(r.flow)
		}
		return nil, fmt.Errorf("in-kernel reflector on %s: %w", cfg.Iface, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	r.stop, r.done = stop, make(chan struct{})
	go r.keepClock(ctx, log)
	log.Info("in-kernel reflector attached", "iface", cfg.Iface, "port", cfg.Port, "addr", cfg.Addr)
	return r, nil
}

// load loads the program with cfg's constants and sets its clock.
func (r *Reflector) load(cfg Config) error {
	if err := cfg.validateFlows(); err != nil {
		return fmt.Errorf("in-kernel reflector: %w", err)
	}
	spec, err := loadTwamp()
	if err != nil {
		return fmt.Errorf("in-kernel reflector: loading spec: %w", err)
	}
	if cfg.FlowPages > 0 {
		spec.Maps[twampMapFlows].MaxEntries = uint32(cfg.FlowPages)
	}
	var addr uint32
	if cfg.Addr.Is4() {
		b := cfg.Addr.As4()
		addr = uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 // as the bytes lie in memory
	} else if cfg.Addr.IsValid() {
		return fmt.Errorf("in-kernel reflector: %s is not IPv4", cfg.Addr)
	}
	for name, v := range map[string]any{twampVarPort: cfg.Port, twampVarAddr: addr, twampVarErrorEstimate: cfg.ErrorEstimate,
		twampVarFlowEntries: uint32(cfg.FlowEntries), twampVarFlowLookups: uint32(cfg.FlowLookups)} {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("in-kernel reflector: setting %s: %w", name, err)
		}
	}
	if err := spec.LoadAndAssign(&r.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return fmt.Errorf("in-kernel reflector: loading: %w (verifier log: %+v)", err, ve)
		}
		return fmt.Errorf("in-kernel reflector: loading: %w", err)
	}
	if err := r.setClock(); err != nil {
		r.objs.Close()
		return err
	}
	if cfg.FlowPages > 0 {
		r.flow, err = unix.Mmap(r.objs.Flows.FD(), 0, cfg.FlowPages*FlowPageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			r.objs.Close()
			return fmt.Errorf("in-kernel reflector: mapping the flow table: %w", err)
		}
	}
	return nil
}

// FlowTable is the program's flow table (Config.FlowPages), mapped
// read-write: the caller's memory until Close; nil without one.
func (r *Reflector) FlowTable() []byte { return r.flow }

// FlowFound is the number of flow table lookups that found their key.
func (r *Reflector) FlowFound() uint64 {
	var n uint64
	r.objs.FlowFound.Get(&n)
	return n
}

// setClock gives the program CLOCK_REALTIME - CLOCK_MONOTONIC.
func (r *Reflector) setClock() error {
	var mono, real unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		return fmt.Errorf("in-kernel reflector: monotonic clock: %w", err)
	}
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &real); err != nil {
		return fmt.Errorf("in-kernel reflector: wall clock: %w", err)
	}
	if err := r.objs.ClockOffsetNs.Set(real.Nano() - mono.Nano()); err != nil {
		return fmt.Errorf("in-kernel reflector: setting the clock: %w", err)
	}
	return nil
}

func (r *Reflector) keepClock(ctx context.Context, log *slog.Logger) {
	defer close(r.done)
	t := time.NewTicker(clockEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.setClock(); err != nil {
				log.Warn("in-kernel reflector clock", "err", err)
			}
		}
	}
}

// Reflected is the number of test packets the program answered.
func (r *Reflector) Reflected() uint64 {
	var n uint64
	r.objs.Reflected.Get(&n)
	return n
}

// Seq is the sequence number the next answer will carry.
func (r *Reflector) Seq() uint32 {
	var n uint32
	r.objs.Seq.Get(&n)
	return n
}

// TakeSeq takes the next sequence number for an answer sent from user
// space. It is not atomic with the program's own increments: a test packet
// answered by the program at the same moment can get the same number. Only
// senders that mix short and full-size test packets meet that.
func (r *Reflector) TakeSeq() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.Seq()
	r.objs.Seq.Set(n + 1)
	return n
}

// Close detaches the program.
func (r *Reflector) Close() error {
	r.stop()
	<-r.done
	err := errors.Join(r.hook.Detach(), r.objs.Close())
	if r.flow != nil {
		err = errors.Join(err, unix.Munmap(r.flow))
		r.flow = nil
	}
	return err
}

package vnf

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/netctl/vnf/kreflect"
	"github.com/nfhandoff/nfhandoff/netctl/vnf/router"
)

// Defaults.
const (
	DefaultVerifyRate = 64 // MB/s
	DefaultVerifyPass = 2 * time.Second
	EchoPort          = 7
)

// Config configures a VNF. The zero value listens on all IPv4 addresses on
// the standard ports with no memory workload.
type Config struct {
	// UDP addresses ("host:port") of the three servers; empty means
	// 0.0.0.0 on twamp.Port, EchoPort and vnfproto.Port.
	TWAMPAddr, EchoAddr, StatusAddr string

	// WSSMB is the working set in MiB, 0 = none (or, with a Mix, its
	// total).
	WSSMB     int
	DirtyRate float64 // MiB/s rewritten, 0 = no dirtying
	// HotMB confines the dirtier's random rewrites to the first HotMB MiB
	// of the working set, its hot part (reported first after the kernel's
	// packet path); 0 = all of it.
	HotMB int
	// SweepRate is MiB/s written in order, wrapping, over the working set
	// after its hot part (with HotMB): a guest that fills a ring, a log or
	// a cache and moves on, so what it wrote a while ago is not touched
	// again soon; 0 = none.
	SweepRate float64
	// FreedMB is memory the vnf writes and gives back to the guest's
	// kernel at its start, before its working set: free memory with stale
	// content, which free page reporting turns into zero pages at the
	// host; 0 = none.
	FreedMB    int
	VerifyRate float64 // MiB/s verified; 0 = DefaultVerifyRate, negative = no verifier
	// VerifyPass is the shortest time between the starts of two full verify
	// passes; 0 = DefaultVerifyPass.
	VerifyPass time.Duration
	// Fill is what every page holds without a Mix; with one, leave it
	// at its zero value.
	Fill Fill
	// Mix lays the working set out in shared, unique, text and zero
	// pages (see Mix); the zero value does not.
	Mix Mix
	// SharedSeed makes a Mix's shared pages: VMs with the same seed hold
	// the same shared pages. 0 = DefaultSharedSeed.
	SharedSeed uint64
	// UniqueSeed makes a Mix's unique and text pages; 0 = a random seed,
	// different in every VM.
	UniqueSeed uint64

	// KernelReflector says whether TWAMP-light test packets are answered
	// in the kernel (package kreflect); the zero value does not try.
	KernelReflector KernelReflectorMode

	// FlowLookups makes the reflector look up this many entries of a flow
	// table, the working set's hot part (all of it without one), for each
	// test packet before answering it (see flowTable): a VNF whose packets
	// depend on its working set, as after a post-copy switch. With the
	// in-kernel reflector the working set is the program's flow table
	// (kreflect.Config.FlowPages) and the program looks it up; the socket
	// reflector does the same lookups in Go. 0 = none.
	FlowLookups int
	// FlowMB is the flow table's size: the working set's first FlowMB
	// MiB (within the hot part, with one, the dirtier rewriting it with
	// the rest); 0 = the hot part, or all of the working set without one.
	FlowMB int

	// Router makes the guest a firewall/NAT between two interfaces
	// (package router); the zero value does not.
	Router router.Config

	// WSReportPort is the virtio-serial port on which the host asks for
	// working-set reports (package wsguest), e.g. wsguest.DefaultPort;
	// "" answers none.
	WSReportPort string
	// WSReportLies, for tests, makes the answers lie (wsguest.LieGarbage…).
	WSReportLies []string

	// Ready receives "vnf: ready\n" once all sockets listen; nil = os.Stdout.
	Ready io.Writer
}

func (c *Config) setDefaults() {
	def := func(s *string, port int) {
		if *s == "" {
			*s = net.JoinHostPort("0.0.0.0", strconv.Itoa(port))
		}
	}
	def(&c.TWAMPAddr, twamp.Port)
	def(&c.EchoAddr, EchoPort)
	def(&c.StatusAddr, vnfproto.Port)
	if c.VerifyRate == 0 {
		c.VerifyRate = DefaultVerifyRate
	}
	if c.VerifyRate < 0 {
		c.VerifyRate = 0
	}
	if c.VerifyPass == 0 {
		c.VerifyPass = DefaultVerifyPass
	}
	if c.WSSMB == 0 {
		c.WSSMB = c.Mix.Total()
	}
	if c.SharedSeed == 0 {
		c.SharedSeed = DefaultSharedSeed
	}
	if c.UniqueSeed == 0 {
		var b [8]byte
		rand.Read(b[:])
		c.UniqueSeed = binary.LittleEndian.Uint64(b[:])
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.WSSMB < 0 {
		errs = append(errs, fmt.Errorf("negative wss %d", c.WSSMB))
	}
	if c.DirtyRate < 0 {
		errs = append(errs, fmt.Errorf("negative dirty rate %g", c.DirtyRate))
	}
	if c.HotMB < 0 || c.HotMB > c.WSSMB {
		errs = append(errs, fmt.Errorf("hot part %d MiB of a %d MiB working set", c.HotMB, c.WSSMB))
	}
	if c.FreedMB < 0 {
		errs = append(errs, fmt.Errorf("negative freed memory %d MiB", c.FreedMB))
	}
	if c.SweepRate < 0 {
		errs = append(errs, fmt.Errorf("negative sweep rate %g", c.SweepRate))
	}
	if c.SweepRate > 0 && (c.HotMB == 0 || c.HotMB >= c.WSSMB) {
		errs = append(errs, fmt.Errorf("a sweep rate needs a hot part smaller than the working set (--hot-mib %d of --wss %d)", c.HotMB, c.WSSMB))
	}
	if c.VerifyPass < 0 {
		errs = append(errs, fmt.Errorf("negative verify pass interval %v", c.VerifyPass))
	}
	if c.KernelReflector != KernelReflectorOff && c.KernelReflector != KernelReflectorAuto && c.KernelReflector != KernelReflectorOn {
		errs = append(errs, fmt.Errorf("unknown kernel reflector mode %q", c.KernelReflector))
	}
	if c.FlowLookups < 0 || c.FlowLookups > maxFlowLookups {
		errs = append(errs, fmt.Errorf("flow lookups %d: want 0 to %d", c.FlowLookups, maxFlowLookups))
	}
	if c.FlowMB < 0 || c.FlowMB > c.WSSMB-c.Mix.Zero || (c.HotMB > 0 && c.FlowMB > c.HotMB) {
		errs = append(errs, fmt.Errorf("flow table of %d MiB: want at most the hot part (%d MiB) or the working set's dirtied pages (%d MiB)", c.FlowMB, c.HotMB, c.WSSMB-c.Mix.Zero))
	}
	if c.FlowMB > 0 && c.FlowLookups == 0 {
		errs = append(errs, errors.New("a flow table size without flow lookups"))
	}
	if c.FlowLookups > 0 && c.WSSMB == 0 {
		errs = append(errs, errors.New("flow lookups need a working set (--wss) to hold the table"))
	}
	if c.Fill < FillRandom || c.Fill > FillPattern {
		errs = append(errs, fmt.Errorf("unknown fill %d", c.Fill))
	}
	if !c.Mix.IsZero() {
		if err := c.Mix.validate(); err != nil {
			errs = append(errs, fmt.Errorf("mix: %w", err))
		} else if c.WSSMB != c.Mix.Total() {
			errs = append(errs, fmt.Errorf("wss %d MiB but the mix %v adds up to %d MiB", c.WSSMB, c.Mix, c.Mix.Total()))
		}
		if c.Fill != FillRandom {
			errs = append(errs, fmt.Errorf("fill %v and a mix: give one or the other", c.Fill))
		}
	}
	return errors.Join(errs...)
}

// maxFlowLookups bounds Config.FlowLookups: more per packet than a guest
// can do at a test rate.
const maxFlowLookups = kreflect.MaxFlowLookups

// flowEntries is the flow table's size in pages (FlowLookups): the hot
// part, or every page the dirtier writes.
func (c *Config) flowEntries() int {
	const pagesPerMB = (1 << 20) / PageSize
	switch {
	case c.FlowMB > 0:
		return c.FlowMB * pagesPerMB
	case c.HotMB > 0:
		return c.HotMB * pagesPerMB
	}
	return (c.WSSMB - c.Mix.Zero) * pagesPerMB
}

// KernelReflectorMode says whether the vnf answers test packets in the kernel.
type KernelReflectorMode string

const (
	KernelReflectorOff  KernelReflectorMode = ""     // the socket reflector only
	KernelReflectorAuto KernelReflectorMode = "auto" // in the kernel where the program attaches, else the socket reflector
	KernelReflectorOn   KernelReflectorMode = "on"   // in the kernel, or the vnf does not start
)

// ParseKernelReflector parses "auto", "on" or "off".
func ParseKernelReflector(s string) (KernelReflectorMode, error) {
	switch s {
	case "off":
		return KernelReflectorOff, nil
	case string(KernelReflectorAuto), string(KernelReflectorOn):
		return KernelReflectorMode(s), nil
	}
	return KernelReflectorOff, fmt.Errorf("kernel reflector %q: want auto, on or off", s)
}

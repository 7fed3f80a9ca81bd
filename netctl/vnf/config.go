package vnf

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
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

	WSSMB      int     // working set in MiB, 0 = none
	DirtyRate  float64 // MiB/s rewritten, 0 = no dirtying
	VerifyRate float64 // MiB/s verified; 0 = DefaultVerifyRate, negative = no verifier
	// VerifyPass is the shortest time between the starts of two full verify
	// passes; 0 = DefaultVerifyPass.
	VerifyPass time.Duration
	Fill       Fill

	// KernelReflector says whether TWAMP-light test packets are answered
	// in the kernel (package kreflect); the zero value does not try.
	KernelReflector KernelReflectorMode

	// Router makes the guest a firewall/NAT between two interfaces
	// (package router); the zero value does not.
	Router router.Config

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
}

func (c *Config) validate() error {
	var errs []error
	if c.WSSMB < 0 {
		errs = append(errs, fmt.Errorf("negative wss %d", c.WSSMB))
	}
	if c.DirtyRate < 0 {
		errs = append(errs, fmt.Errorf("negative dirty rate %g", c.DirtyRate))
	}
	if c.VerifyPass < 0 {
		errs = append(errs, fmt.Errorf("negative verify pass interval %v", c.VerifyPass))
	}
	if c.KernelReflector != KernelReflectorOff && c.KernelReflector != KernelReflectorAuto && c.KernelReflector != KernelReflectorOn {
		errs = append(errs, fmt.Errorf("unknown kernel reflector mode %q", c.KernelReflector))
	}
	if c.Fill < FillRandom || c.Fill > FillPattern {
		errs = append(errs, fmt.Errorf("unknown fill %d", c.Fill))
	}
	return errors.Join(errs...)
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

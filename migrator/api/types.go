package api

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// VMSpec describes a guest: everything needed to start it on any host. It is
// what moves with a VM when it migrates.
type VMSpec struct {
	// Name is unique per agent: 1-32 characters of [a-z0-9-], starting with a letter.
	Name string `json:"name"`
	// MemoryMiB is the guest RAM size (16..65536).
	MemoryMiB int `json:"memory_mib"`
	// VCPUs is the number of virtual CPUs (1..64).
	VCPUs int `json:"vcpus"`
	// Image names a directory under the agent's image dir holding vmlinuz and
	// initrd.img (as built by `make image`).
	Image string `json:"image"`
	// MAC is the guest's first NIC's unicast MAC address, e.g.
	// 52:54:00:12:34:56.
	MAC string `json:"mac"`
	// Address is the first NIC's IPv4 address with prefix, e.g.
	// 198.18.0.100/24.
	Address string `json:"address"`
	// Network names the host network the first NIC attaches to; "" is the
	// agent's default network.
	Network string `json:"network,omitempty"`
	// NICs are the guest's further NICs, after the first (MAC, Address,
	// Network): a one-NIC spec reads and stores as it always did.
	NICs []NIC `json:"nics,omitempty"`
	// Gateway is the guest's default IPv4 gateway (optional), inside one
	// of its NICs' networks.
	Gateway string `json:"gateway,omitempty"`
	// VNFArgs are passed to the vnf inside the guest (e.g. ["--wss","64"]).
	VNFArgs []string `json:"vnf_args,omitempty"`
}

// NIC is one of a guest's network interfaces.
type NIC struct {
	MAC     string `json:"mac"`     // unicast, e.g. 52:54:00:12:34:57
	Address string `json:"address"` // IPv4 with prefix, e.g. 198.19.0.100/24
	// Network names the host network its tap attaches to; "" is the
	// agent's default network.
	Network string `json:"network,omitempty"`
}

// MaxNICs bounds a guest's NICs.
const MaxNICs = 8

// AllNICs lists every NIC of the guest, the first (MAC, Address,
// Network) first.
func (s VMSpec) AllNICs() []NIC {
	return append([]NIC{{MAC: s.MAC, Address: s.Address, Network: s.Network}}, s.NICs...)
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// vnfArgRE keeps guest arguments safe to carry on a kernel command line.
var vnfArgRE = regexp.MustCompile(`^[A-Za-z0-9_.=:/+-]+$`)

// Defaults fills zero fields with defaults: 256 MiB, 1 vCPU, image "vnf".
func (s *VMSpec) Defaults() {
	if s.MemoryMiB == 0 {
		s.MemoryMiB = 256
	}
	if s.VCPUs == 0 {
		s.VCPUs = 1
	}
	if s.Image == "" {
		s.Image = "vnf"
	}
}

// Validate reports the first problem with the spec, wrapped in ErrInvalidSpec.
func (s *VMSpec) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, args...))
	}
	if !nameRE.MatchString(s.Name) {
		return bad("name %q: want 1-32 characters of [a-z0-9-] starting with a letter", s.Name)
	}
	if s.MemoryMiB < 16 || s.MemoryMiB > 65536 {
		return bad("memory %d MiB: want 16..65536", s.MemoryMiB)
	}
	if s.VCPUs < 1 || s.VCPUs > 64 {
		return bad("vcpus %d: want 1..64", s.VCPUs)
	}
	if !nameRE.MatchString(s.Image) {
		return bad("image %q: want a plain image name such as \"vnf\"", s.Image)
	}
	if err := s.validateNICs(bad); err != nil {
		return err
	}
	for _, a := range s.VNFArgs {
		if !vnfArgRE.MatchString(a) {
			return bad("vnf argument %q: only [A-Za-z0-9_.=:/+-] may pass on the kernel command line", a)
		}
	}
	return nil
}

// ValidateForeign checks the spec of a guest another engine runs (api.VM
// Source): its name and NICs, each with the address the hand-off needs
// (nfhandoff's metadata in the domain); the rest is the engine's.
func (s *VMSpec) ValidateForeign() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, args...))
	}
	if !nameRE.MatchString(s.Name) {
		return bad("name %q: want 1-32 characters of [a-z0-9-] starting with a letter", s.Name)
	}
	if s.MAC == "" {
		return bad("no nic")
	}
	return s.validateNICs(bad)
}

// validateNICs checks the NICs and the gateway; bad makes the error.
func (s *VMSpec) validateNICs(bad func(format string, args ...any) error) error {
	nics := s.AllNICs()
	if len(nics) > MaxNICs {
		return bad("%d nics: at most %d", len(nics), MaxNICs)
	}
	prefixes := make([]netip.Prefix, 0, len(nics))
	macs := make(map[string]bool, len(nics))
	for i, n := range nics {
		p, err := n.validate()
		if err != nil {
			if i == 0 {
				return bad("%v", err) // the first NIC's fields are the spec's own
			}
			return bad("nic %d: %v", i, err)
		}
		if macs[p.mac] {
			return bad("nic %d: mac %s is another nic's", i, n.MAC)
		}
		macs[p.mac] = true
		for _, q := range prefixes {
			if q.Addr() == p.addr.Addr() {
				return bad("nic %d: address %s is another nic's", i, p.addr.Addr())
			}
		}
		prefixes = append(prefixes, p.addr)
	}
	if s.Gateway != "" {
		gw, err := netip.ParseAddr(s.Gateway)
		if err != nil || !gw.Is4() {
			return bad("gateway %q: want an IPv4 address", s.Gateway)
		}
		in := false
		for _, p := range prefixes {
			if gw == p.Addr() {
				return bad("gateway %s is the guest's own address", gw)
			}
			in = in || p.Masked().Contains(gw)
		}
		if !in {
			nets := make([]string, len(prefixes))
			for i, p := range prefixes {
				nets[i] = p.Masked().String()
			}
			return bad("gateway %s is not another address in %s", gw, strings.Join(nets, " or "))
		}
	}
	return nil
}

// nicAddrs are a valid NIC's parsed addresses.
type nicAddrs struct {
	mac  string // canonical
	addr netip.Prefix
}

// validate checks one NIC; its errors name the field.
func (n NIC) validate() (nicAddrs, error) {
	mac, err := net.ParseMAC(n.MAC)
	if err != nil || len(mac) != 6 {
		return nicAddrs{}, fmt.Errorf("mac %q: want a 6-byte MAC such as 52:54:00:12:34:56", n.MAC)
	}
	if mac[0]&1 != 0 {
		return nicAddrs{}, fmt.Errorf("mac %s is multicast: want a unicast address", n.MAC)
	}
	p, err := netip.ParsePrefix(n.Address)
	if err != nil || !p.Addr().Is4() {
		return nicAddrs{}, fmt.Errorf("address %q: want IPv4/prefix such as 198.18.0.100/24", n.Address)
	}
	if p.Bits() < 1 || p.Bits() > 31 || p.Addr() == p.Masked().Addr() {
		return nicAddrs{}, fmt.Errorf("address %q: want a host address inside a /1../31 network", n.Address)
	}
	if n.Network != "" && !nameRE.MatchString(n.Network) {
		return nicAddrs{}, fmt.Errorf("network %q: want 1-32 characters of [a-z0-9-] starting with a letter", n.Network)
	}
	return nicAddrs{mac: mac.String(), addr: p}, nil
}

// VM states.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateStopped  = "stopped"
	StateFailed   = "failed"
)

// VM is an agent's record of one guest.
type VM struct {
	Spec       VMSpec    `json:"spec"`
	State      string    `json:"state"`
	Host       string    `json:"host"`
	PID        int       `json:"pid,omitempty"`
	Tap        string    `json:"tap"`            // the first NIC's tap device
	Taps       []string  `json:"taps,omitempty"` // further NICs' taps, Spec.NICs' order (none: one NIC, stored as before)
	Accel      string    `json:"accel"`          // "kvm" or "tcg"
	QMPSocket  string    `json:"qmp_socket"`
	ConsoleLog string    `json:"console_log"`
	Created    time.Time `json:"created"`
	Started    time.Time `json:"started,omitempty"`
	// Adopted is true when the running agent found the guest already running
	// at its start (after an agent restart) rather than launching it.
	Adopted bool `json:"adopted,omitempty"`
	// Reason says why a VM is failed or stopped unexpectedly.
	Reason string `json:"reason,omitempty"`
	// Source names the engine that runs a guest the agent did not start
	// (SourceLibvirt); "" for the agent's own guests. The agent attaches
	// its dataplane to such a guest's taps and shows it, and changes
	// nothing of it: stop and migrate refuse it (ErrForeign).
	Source string `json:"source,omitempty"`
}

// SourceLibvirt is the Source of a guest that is a libvirt domain.
const SourceLibvirt = "libvirt"

// AllTaps lists the guest's tap devices, the first NIC's first (the
// order of Spec.AllNICs).
func (v VM) AllTaps() []string {
	return append([]string{v.Tap}, v.Taps...)
}

// GuestStatus is the vnf's own report, read from inside the guest.
type GuestStatus struct {
	BootID           string        `json:"boot_id"`
	Uptime           time.Duration `json:"uptime_ns"`
	PacketsReflected uint64        `json:"packets_reflected"`
	EchoPackets      uint64        `json:"echo_packets"`
	ReflectorSeq     uint32        `json:"reflector_seq"`
	WSSPages         uint64        `json:"wss_pages"`
	PagesWritten     uint64        `json:"pages_written"`
	PagesVerified    uint64        `json:"pages_verified"`
	VerifyPasses     uint64        `json:"verify_passes"`
	CorruptPages     uint64        `json:"corrupt_pages"`
	StalePages       uint64        `json:"stale_pages"`

	// Packets the guest's kernel dropped before they reached the vnf,
	// counted since the guest booted (they survive a migration); nil when
	// not reported (a vnf that predates them, or a kernel without the
	// counter). UDP*: the Udp line of /proc/net/snmp, every UDP socket of
	// the guest; in-errors includes the rcvbuf and mem errors. RxDropped:
	// the vnf's interface's rx_dropped (all interfaces but lo summed when
	// the vnf listens on 0.0.0.0, as in the test guest, whose only one is
	// eth0).
	UDPInErrors     *uint64 `json:"udp_in_errors,omitempty"`
	UDPRcvbufErrors *uint64 `json:"udp_rcvbuf_errors,omitempty"`
	UDPMemErrors    *uint64 `json:"udp_mem_errors,omitempty"`
	RxDropped       *uint64 `json:"rx_dropped,omitempty"`

	// Router is the vnf's router role (vnf --router); nil for a vnf that
	// is no router, or predates the role.
	Router *GuestRouter `json:"router,omitempty"`
}

// GuestRouter is a router vnf's report: whether its firewall/NAT is up and
// what it tracks and drops.
type GuestRouter struct {
	// Up: the netfilter modules are loaded, the ruleset applied and IPv4
	// forwarding on.
	Up bool `json:"up"`
	// FailedStep is the setup step that failed while not up (interfaces,
	// modules, ruleset or forwarding; the guest's console log has the
	// error); empty while being set up and once up.
	FailedStep string `json:"failed_step,omitempty"`
	// ConntrackEntries is the guest's nf_conntrack_count, the connections
	// (and NAT mappings) it tracks now; ForwardDrops the packets its
	// forward chain dropped since the ruleset was applied. Nil when not
	// read.
	ConntrackEntries *uint64 `json:"conntrack_entries,omitempty"`
	ForwardDrops     *uint64 `json:"forward_drops,omitempty"`
}

// IntegrityErrors is the number of corrupt plus stale pages seen.
func (g GuestStatus) IntegrityErrors() uint64 { return g.CorruptPages + g.StalePages }

// VMStatus is a VM record together with what QEMU and the guest say.
type VMStatus struct {
	VM
	// QEMUStatus is QMP query-status's "status" (e.g. "running", "paused").
	QEMUStatus string `json:"qemu_status,omitempty"`
	// Guest is the vnf's status; nil with GuestError set when unreachable.
	Guest      *GuestStatus `json:"guest,omitempty"`
	GuestError string       `json:"guest_error,omitempty"`
	// WorkingSet is what the agent holds of the guest's working-set
	// reports; nil when it reads none (the guest is not running here).
	WorkingSet *WorkingSetStatus `json:"working_set,omitempty"`
}

// Health is the agent's liveness answer.
type Health struct {
	Host    string `json:"host"`
	Version string `json:"version"`
	Accel   string `json:"accel"`
	VMs     int    `json:"vms"`
}

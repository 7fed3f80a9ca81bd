package vnfproto

import (
	"encoding/binary"
	"fmt"
)

// Router is what a vnf in the router role (vnf --router) reports: whether
// the role is up and, once it is, the guest's connection tracking and the
// forward chain's drop counter. The zero value is a vnf that is no router.
type Router struct {
	Flags RouterFlags
	// Failed is the setup step that failed, for a role asked for but not
	// up; StepNone while it is still being set up.
	Failed RouterStep
	// ConntrackEntries is nf_conntrack_count: the connections the guest
	// tracks now (NAT mappings among them). ForwardDrops counts the
	// packets the forward chain dropped since the ruleset was applied.
	// Either is zero when its Has bit is clear (not read).
	ConntrackEntries, ForwardDrops uint64
}

// RouterFlags are the bits of Router.Flags.
type RouterFlags uint32

// Router.Flags bits.
const (
	RouterRole       RouterFlags = 1 << iota // the vnf was asked to be a router
	RouterUp                                 // modules, ruleset and forwarding are in place
	HasConntrack                             // ConntrackEntries was read
	HasForwardDrops                          // ForwardDrops was read
	allRouterFlags   = RouterRole | RouterUp | HasConntrack | HasForwardDrops
	routerRoleNeeded = RouterUp | HasConntrack | HasForwardDrops
)

// RouterStep is a step of the router's setup, named when it fails.
type RouterStep uint32

// The router's setup steps, in order.
const (
	StepNone       RouterStep = iota
	StepInterfaces            // finding the two interfaces
	StepModules               // loading the netfilter modules
	StepRuleset               // applying the nftables ruleset
	StepForwarding            // enabling IPv4 forwarding
)

func (s RouterStep) String() string {
	switch s {
	case StepNone:
		return "none"
	case StepInterfaces:
		return "interfaces"
	case StepModules:
		return "modules"
	case StepRuleset:
		return "ruleset"
	case StepForwarding:
		return "forwarding"
	}
	return fmt.Sprintf("step %d", uint32(s))
}

// appendRouter appends r's wire form (RouterLen bytes); a counter whose
// bit is clear is sent as zero.
func appendRouter(b []byte, r Router) []byte {
	be := binary.BigEndian
	b = be.AppendUint32(b, uint32(r.Flags&allRouterFlags))
	b = be.AppendUint32(b, uint32(r.Failed))
	for _, c := range []struct {
		v   uint64
		bit RouterFlags
	}{{r.ConntrackEntries, HasConntrack}, {r.ForwardDrops, HasForwardDrops}} {
		if r.Flags&c.bit == 0 {
			c.v = 0
		}
		b = be.AppendUint64(b, c.v)
	}
	return b
}

// decodeRouter parses RouterLen bytes. Unknown flag bits are dropped; a
// state that no vnf sends (a router bit without the role, a failed step
// while up, a counter set without its bit) is ErrMalformed.
func decodeRouter(b []byte) (Router, error) {
	be := binary.BigEndian
	r := Router{Flags: RouterFlags(be.Uint32(b)) & allRouterFlags, Failed: RouterStep(be.Uint32(b[4:])),
		ConntrackEntries: be.Uint64(b[8:]), ForwardDrops: be.Uint64(b[16:])}
	switch {
	case r.Flags&RouterRole == 0 && (r.Flags&routerRoleNeeded != 0 || r.Failed != StepNone):
		return Router{}, fmt.Errorf("%w: router flags %#x, failed step %d without the role", ErrMalformed, r.Flags, r.Failed)
	case r.Flags&RouterUp != 0 && r.Failed != StepNone:
		return Router{}, fmt.Errorf("%w: router up with failed step %d", ErrMalformed, r.Failed)
	case r.ConntrackEntries != 0 && r.Flags&HasConntrack == 0:
		return Router{}, fmt.Errorf("%w: conntrack count %d not reported", ErrMalformed, r.ConntrackEntries)
	case r.ForwardDrops != 0 && r.Flags&HasForwardDrops == 0:
		return Router{}, fmt.Errorf("%w: forward drops %d not reported", ErrMalformed, r.ForwardDrops)
	}
	return r, nil
}

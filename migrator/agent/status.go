package agent

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// VMStatus returns the named VM's record with QEMU's run state and the
// guest's own status. An unreachable guest is reported in GuestError, not
// as an error.
func (a *Agent) VMStatus(ctx context.Context, name string) (api.VMStatus, error) {
	if rec, runState, ok := a.foreignRecord(name); ok {
		st := api.VMStatus{VM: rec, QEMUStatus: runState}
		a.queryGuest(ctx, &st)
		return st, nil
	}
	e, err := a.lookup(name)
	if err != nil {
		return api.VMStatus{}, err
	}
	a.mu.Lock()
	st := api.VMStatus{VM: e.rec}
	inst, ws := e.inst, e.ws
	a.mu.Unlock()
	st.WorkingSet = workingSetStatus(ws)

	if inst == nil {
		st.GuestError = fmt.Sprintf("vm is %s", st.State)
		return st, nil
	}
	qctx, cancel := context.WithTimeout(ctx, a.cfg.GuestTimeout)
	defer cancel()
	if qs, err := inst.QueryStatus(qctx); err != nil {
		a.log.Warn("qmp query-status", "vm", name, "err", err)
		st.QEMUStatus = "unknown"
	} else {
		st.QEMUStatus = qs
	}

	a.queryGuest(ctx, &st)
	return st, nil
}

// queryGuest fills st's guest status from the vnf at the first NIC's
// address, or GuestError.
func (a *Agent) queryGuest(ctx context.Context, st *api.VMStatus) {
	ip := prefixAddr(st.Spec.Address)
	if !ip.IsValid() {
		st.GuestError = "the guest's address is unknown"
		return
	}
	addr := netip.AddrPortFrom(ip, vnfproto.Port)
	gctx, cancel := context.WithTimeout(ctx, a.cfg.GuestTimeout)
	defer cancel()
	g, err := a.cfg.QueryGuest(gctx, addr)
	if err != nil {
		st.GuestError = fmt.Sprintf("querying guest at %s: %v", addr, err)
		return
	}
	st.Guest = &g
}

// queryVNF is the default GuestQuerier: the vnf's UDP status query.
func queryVNF(ctx context.Context, addr netip.AddrPort) (api.GuestStatus, error) {
	s, err := vnfproto.Query(ctx, addr)
	if err != nil {
		return api.GuestStatus{}, err
	}
	return guestStatus(s), nil
}

// guestStatus maps the vnf's status 1:1 onto the API type; a drop counter
// the vnf did not report (its Reported bit clear) is nil, and so is the
// router of a vnf that is none.
func guestStatus(s vnfproto.Status) api.GuestStatus {
	reported := func(v uint64, bit vnfproto.Counters) *uint64 {
		if s.Reported&bit == 0 {
			return nil
		}
		return &v
	}
	return api.GuestStatus{
		BootID:           hex.EncodeToString(s.BootID[:]),
		Uptime:           s.Uptime,
		PacketsReflected: s.PacketsReflected,
		EchoPackets:      s.EchoPackets,
		ReflectorSeq:     s.ReflectorSeq,
		WSSPages:         s.WSSPages,
		PagesWritten:     s.PagesWritten,
		PagesVerified:    s.PagesVerified,
		VerifyPasses:     s.VerifyPasses,
		CorruptPages:     s.CorruptPages,
		StalePages:       s.StalePages,
		UDPInErrors:      reported(s.UDPInErrors, vnfproto.HasUDPInErrors),
		UDPRcvbufErrors:  reported(s.UDPRcvbufErrors, vnfproto.HasUDPRcvbufErrors),
		UDPMemErrors:     reported(s.UDPMemErrors, vnfproto.HasUDPMemErrors),
		RxDropped:        reported(s.RxDropped, vnfproto.HasRxDropped),
		Router:           guestRouter(s.Router),
	}
}

// guestRouter maps the router fields: nil for a vnf that is no router, a
// counter the vnf did not read nil.
func guestRouter(r vnfproto.Router) *api.GuestRouter {
	if r.Flags&vnfproto.RouterRole == 0 {
		return nil
	}
	read := func(v uint64, bit vnfproto.RouterFlags) *uint64 {
		if r.Flags&bit == 0 {
			return nil
		}
		return &v
	}
	g := &api.GuestRouter{Up: r.Flags&vnfproto.RouterUp != 0,
		ConntrackEntries: read(r.ConntrackEntries, vnfproto.HasConntrack),
		ForwardDrops:     read(r.ForwardDrops, vnfproto.HasForwardDrops)}
	if r.Failed != vnfproto.StepNone {
		g.FailedStep = r.Failed.String()
	}
	return g
}

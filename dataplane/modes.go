package dataplane

import "fmt"

// mode is a VM entry's hand-off mode, enum vm_mode of bpf/handoff.c.
//
// A VM's modes on each end of a migration (see handoff.Handoff):
//
//	source:      PASS -Begin-> MIRROR -Quiesce/Switchover-> BUFFER -Resumed-> FORWARD (Detach: grace, then gone)
//	             Rollback: MIRROR, FORWARD -> PASS; BUFFER -> RELEASE -> PASS (buffered frames back into the tap)
//	destination: Prepare -> HOLD -Flushed-> RELEASE -> PASS (the program flips it once every captured frame is injected)
//	             Rollback: the entry goes
type mode = handoffVmMode

const (
	modePass    = handoffVmModeMODE_PASS
	modeMirror  = handoffVmModeMODE_MIRROR
	modeBuffer  = handoffVmModeMODE_BUFFER
	modeHold    = handoffVmModeMODE_HOLD
	modeForward = handoffVmModeMODE_FORWARD
	modeRelease = handoffVmModeMODE_RELEASE
)

// runsHere (vm_state.flags) marks a VM whose guest runs on this host: a
// destination from its cont (Started) or a paused post-copy (Pause). In
// HOLD the program then answers ARP for the guest (handoff.c). Modes that
// mean the guest is leaving or gone (MIRROR, BUFFER, FORWARD) clear it.
const runsHere = handoffVmFlagVM_F_RUNS_HERE

// guestLeaves reports whether mode m means the guest runs, or will run,
// elsewhere: runsHere no longer holds.
func guestLeaves(m mode) bool {
	return m == modeMirror || m == modeBuffer || m == modeForward
}

// modeNames are the names of the modes in logs, metrics and
// api.HandoffStats.Modes (a test checks it covers enum vm_mode).
var modeNames = map[mode]string{
	modePass: "pass", modeMirror: "mirror", modeBuffer: "buffer",
	modeHold: "hold", modeForward: "forward", modeRelease: "release",
}

func (m handoffVmMode) String() string {
	if n, ok := modeNames[m]; ok {
		return n
	}
	return fmt.Sprintf("mode%d", uint32(m))
}

// capturing reports whether frames captured in mode m are queued for
// injection or flushing (rather than mirror copies).
func capturing(m mode) bool {
	return m == modeBuffer || m == modeHold || m == modeRelease
}

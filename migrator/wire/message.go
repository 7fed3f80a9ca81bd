package wire

import (
	"errors"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Control frame types: the type byte of a frame, one per message struct.
const (
	MsgHello       uint8 = 1 // source -> destination: the session's spec and request
	MsgReady       uint8 = 2 // destination -> source: QEMU waits for the stream
	MsgCommit      uint8 = 3 // source -> destination: the source will not resume; start the guest
	MsgRunning     uint8 = 4 // destination -> source: the guest runs here
	MsgAbort       uint8 = 5 // either way: the session is over; the guest did not run at the destination
	MsgStatus      uint8 = 6 // source -> destination, on a new control stream: what became of a session?
	MsgStatusReply uint8 = 7 // destination -> source
	MsgHandoffDone uint8 = 8 // destination -> source, after Flushed: its account of the hand-off
	// MsgRecover: source -> destination, on a new control stream: a
	// post-copy lost its stream; take it again (migrate-recover).
	MsgRecover uint8 = 9
	// MsgRecoverReady: destination -> source: its QEMU listens for the
	// resumed stream; the session's control stream is this one now.
	MsgRecoverReady uint8 = 10
)

// MaxReason bounds the reason of an Abort or a StatusReply, in bytes.
const MaxReason = 4096

// ErrBadMessage is wrapped by every error about a control message that does
// not follow the protocol.
var ErrBadMessage = errors.New("bad control message")

// Hello opens a session.
type Hello struct {
	ID      string             `json:"id"`     // migration ID, also the stream session ID
	Source  string             `json:"source"` // the source's host name (must match its certificate)
	Spec    api.VMSpec         `json:"spec"`
	Request api.MigrateRequest `json:"request"`
	// Capabilities are the migrate-set-capabilities the source sets; the
	// destination sets the same.
	Capabilities    map[string]bool `json:"capabilities"`
	MultifdChannels int             `json:"multifd_channels"`
	// Engine is the manager that runs the guest and drives its migration
	// itself ("libvirt"; "": the agents' own QEMU). The agents then carry
	// the engine's stream and hand the traffic off around its blackout.
	Engine string `json:"engine,omitempty"`
	// EngineSocket names the UNIX socket of the engine's stream on the
	// destination (its engine's socket directory; "": the session's ID):
	// an operator's own migration uses a standing one, to-<host>.
	EngineSocket string `json:"engine_socket,omitempty"`
}

// EngineLibvirt is Hello.Engine for a libvirt domain.
const EngineLibvirt = "libvirt"

// Ready says the destination QEMU listens for the migration stream.
type Ready struct {
	PID int `json:"pid"`
	// EngineURI, for an engine's migration (Hello.Engine), is how the
	// source's engine reaches the destination's (libvirt:
	// qemu+tls://ADDR/system).
	EngineURI string `json:"engine_uri,omitempty"`
}

// Commit tells the destination that the source has sent everything and
// will never resume its guest unless the destination answers Abort.
type Commit struct{}

// Running tells the source that the guest runs at the destination.
type Running struct {
	// Starting is how long the destination took from Commit until the
	// guest ran there (its QEMU loading what was in flight, then starting
	// it): its part of the guest's pause. 0 if it did not measure.
	Starting api.Duration `json:"starting,omitempty"`
	// Ready is the part of Starting until the destination's QEMU was ready
	// (in-flight data loaded, its incoming migration complete or in
	// post-copy): the rest is a cont it still needed (0 when QEMU started
	// the guest itself).
	Ready api.Duration `json:"ready,omitempty"`
	// Listening, in post-copy, is the part of Ready until the destination's
	// QEMU reported post-copy active: in-flight pages and QEMU's discards
	// of the pages dirty at the switch; the devices load after it.
	Listening api.Duration `json:"listening,omitempty"`
	// Since is how long the guest had been running when this was sent
	// (the destination announces it and records it first): not part of
	// the pause.
	Since api.Duration `json:"since,omitempty"`
}

// Abort ends a session; from the destination it means the guest did not
// and will not run there.
type Abort struct {
	Reason string `json:"reason"`
}

// StatusRequest asks the destination about a session.
type StatusRequest struct {
	ID string `json:"id"`
}

// Status reply states.
const (
	StatusPending = "pending" // still under way: ask again
	StatusRunning = "running" // the guest runs at the destination
	StatusFailed  = "failed"  // the guest never ran at the destination and never will
	StatusUnknown = "unknown" // no such session
)

// StatusReply answers a StatusRequest.
type StatusReply struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// HandoffDone carries the destination's hand-off statistics to the source,
// which records them in its report.
type HandoffDone struct {
	Stats api.HandoffStats `json:"stats"`
}

// Recover asks the destination to take a paused post-copy's stream again:
// both QEMUs are in postcopy-paused (the stream broke: a path lost, an
// agent restarted). It opens a new control stream, which then replaces
// the session's old one.
type Recover struct {
	ID string `json:"id"`
	// Attempt counts the source's recoveries of this session, from 1 (logs).
	Attempt int `json:"attempt"`
	// Restarted: the source agent restarted since the post-copy began; the
	// frames it buffered went with it, and no flush will come.
	Restarted bool `json:"restarted,omitempty"`
}

// RecoverReady says the destination's QEMU waits for the resumed stream
// (migrate-recover): the source may send migrate with resume.
type RecoverReady struct{}

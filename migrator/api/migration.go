package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// Migration states. A migration ends in completed, failed or cancelled.
const (
	MigrationSetup      = "setup"      // dialing, destination preparing
	MigrationActive     = "active"     // pre-copy
	MigrationPostcopy   = "postcopy"   // post-copy: the guest runs on the destination
	MigrationSwitchover = "switchover" // guest stopped, last state moving
	// MigrationUnknown: the source lost the destination after the commit
	// and keeps asking it; the guest stays paused on the source until the
	// destination answers or an operator resolves it (ResolveRequest).
	MigrationUnknown   = "unknown"
	MigrationCompleted = "completed"
	MigrationFailed    = "failed"
	MigrationCancelled = "cancelled"
)

// Ended reports whether state is terminal.
func Ended(state string) bool {
	return state == MigrationCompleted || state == MigrationFailed || state == MigrationCancelled
}

// Migration is the record and report of one migration, as either end keeps it.
type Migration struct {
	ID      string         `json:"id"` // "<source host>-<n>", the same at both ends
	VM      string         `json:"vm"`
	From    string         `json:"from"`
	To      string         `json:"to"`
	Role    string         `json:"role"` // "source" or "destination"
	State   string         `json:"state"`
	Reason  string         `json:"reason,omitempty"` // why it failed or was cancelled
	Request MigrateRequest `json:"request"`
	Started time.Time      `json:"started"`
	Ended   time.Time      `json:"ended,omitempty"`

	Progress  Progress   `json:"progress"`
	Phases    []Phase    `json:"phases,omitempty"`
	Decisions []Decision `json:"decisions,omitempty"`

	// From QEMU's query-migrate at the end.
	TotalTime    Duration `json:"total_time"`
	QEMUDowntime Duration `json:"qemu_downtime"`
	// Paused is how long the guest ran nowhere: from its stop on the
	// source (QEMU's STOP, or the agent's own stop when it decides the
	// switchover, which QEMU's downtime does not count) until the guest
	// ran at the destination: QEMU's RESUME there, or its cont returned
	// (the source hears it in Running, less how long the guest had run
	// by then). 0 if unknown.
	Paused Duration `json:"paused,omitempty"`
	// ResumedAt is when the guest ran at the destination, on the source's
	// clock (its stop plus Paused); zero if unknown. A VNF's recovery
	// (e.g. verify's) is timed from here.
	ResumedAt time.Time `json:"resumed_at,omitempty"`
	// PausedParts is where Paused went; nil if unknown.
	PausedParts *PauseParts `json:"paused_parts,omitempty"`
	SetupTime   Duration    `json:"setup_time"`
	RAM         RAMStats    `json:"ram"`
	// WireBytes are the bytes the agents' connection carried, its QUIC
	// streams and its lanes (both directions, payload): the cost on the
	// network.
	WireBytes uint64 `json:"wire_bytes"`
	// Codec is how the pages travelled; nil with codec none.
	Codec *CodecReport `json:"codec,omitempty"`
	// Prefetch is what the source asked for first in post-copy; nil if
	// nothing was asked for (PostcopyPrefetch none, or no post-copy).
	Prefetch *PrefetchReport `json:"prefetch,omitempty"`
	Postcopy bool            `json:"postcopy"` // whether post-copy was entered
	// Recoveries counts the times a broken post-copy stream was resumed.
	Recoveries int `json:"recoveries,omitempty"`
	Throttled  int `json:"throttled"` // final CPU throttle percentage, 0 if none
	// Committed is set at the source, and stored, before it tells the
	// destination to run the guest: from then on only the destination's
	// word may resume the guest at the source (an agent restarting with
	// an unfinished record reads it).
	Committed bool `json:"committed,omitempty"`

	// Handoff is both ends' account of the traffic hand-off; nil until the
	// migration began it.
	Handoff *HandoffReport `json:"handoff,omitempty"`
	// Verification is what netctl's --verify measured, attached by netctl.
	Verification json.RawMessage `json:"verification,omitempty"`
}

// PauseParts splits the guest's pause (Migration.Paused) as the source
// timed it, with the destination's own part from its Running message. A
// part the source did not see (e.g. QEMU skipped pre-switchover) is 0 and
// counts in the part after it.
type PauseParts struct {
	// FinalPass: from the stop until QEMU reached pre-switchover (the last
	// dirty pages; in post-copy, the start of post-copy).
	FinalPass Duration `json:"final_pass"`
	// Handoff: pre-switchover until migrate-continue (the hand-off's
	// switchover: the VM's traffic buffered).
	Handoff Duration `json:"handoff"`
	// Completion: migrate-continue until the source QEMU was done: its
	// last dirty-page sync, the device state and, with a return path, the
	// destination QEMU's answer once it loaded everything (in post-copy:
	// until post-copy was active).
	Completion Duration `json:"completion"`
	// Destination: Commit until the guest ran at the destination: its
	// QEMU loading what was still in flight, then starting it (by itself,
	// from the cont sent at Commit, or by a cont once it was ready).
	Destination Duration `json:"destination"`
	// DestinationReady is the part of Destination until its QEMU was ready;
	// the rest is a cont it still needed (none when QEMU started the guest
	// itself). 0 if the destination did not say.
	DestinationReady Duration `json:"destination_ready,omitempty"`
	// DestinationListening, in post-copy, is the part of DestinationReady
	// until the destination QEMU reported post-copy active: the pages in
	// flight and QEMU's discards of every page dirty at the switch (one
	// madvise per dirty run); the device state loads after it.
	DestinationListening Duration `json:"destination_listening,omitempty"`
	// Messages: the rest (Commit and Running between the agents).
	Messages Duration `json:"messages"`
	// DebugHeld is the part of Handoff a test's knob held the guest
	// stopped (migratord --debug-switchover-delay); 0 in production.
	DebugHeld Duration `json:"debug_held,omitempty"`
}

// Fixed is the pause less the final pass: what does not shrink with the
// pages left at the stop.
func (p PauseParts) Fixed() time.Duration {
	return time.Duration(p.Handoff + p.Completion + p.Destination + p.Messages)
}

// String lists the parts, e.g. "final pass 12ms, hand-off 1ms, ...".
func (p PauseParts) String() string {
	ms := func(d Duration) string { return time.Duration(d).Round(100 * time.Microsecond).String() }
	dest := ms(p.Destination)
	switch {
	case p.DestinationListening > 0:
		dest += fmt.Sprintf(" (post-copy active after %s: in-flight pages and QEMU's discards; devices %s; cont %s)",
			ms(p.DestinationListening), ms(p.DestinationReady-p.DestinationListening), ms(p.Destination-p.DestinationReady))
	case p.DestinationReady > 0:
		dest += fmt.Sprintf(" (ready after %s, cont %s)", ms(p.DestinationReady), ms(p.Destination-p.DestinationReady))
	}
	handoff := ms(p.Handoff)
	if p.DebugHeld > 0 {
		handoff += fmt.Sprintf(" (%s of it held by --debug-switchover-delay)", ms(p.DebugHeld))
	}
	return fmt.Sprintf("final pass %s, hand-off %s, completion %s, destination %s, messages %s",
		ms(p.FinalPass), handoff, ms(p.Completion), dest, ms(p.Messages))
}

// Progress mirrors virsh domjobinfo's fields.
type Progress struct {
	Percent          float64  `json:"percent"`
	Transferred      uint64   `json:"transferred"` // bytes of RAM sent
	Remaining        uint64   `json:"remaining"`
	Total            uint64   `json:"total"`
	Rate             uint64   `json:"rate"`       // bytes/s, observed
	DirtyRate        uint64   `json:"dirty_rate"` // bytes/s dirtied by the guest
	Bandwidth        uint64   `json:"bandwidth"`  // bytes/s, the cap the agent paces QEMU's stream at now; 0: none (post-copy)
	Pass             int      `json:"pass"`       // dirty-sync count
	ExpectedDowntime Duration `json:"expected_downtime"`
	ETA              Duration `json:"eta"`
	Elapsed          Duration `json:"elapsed"`
}

// RAMStats are QEMU's RAM counters at the end of a migration.
type RAMStats struct {
	Total            uint64 `json:"total"`
	Transferred      uint64 `json:"transferred"`
	Normal           uint64 `json:"normal_pages"`
	Duplicate        uint64 `json:"duplicate_pages"` // zero pages
	MultifdBytes     uint64 `json:"multifd_bytes"`
	PostcopyRequests uint64 `json:"postcopy_requests"`
	DirtySyncCount   uint64 `json:"dirty_sync_count"`
}

// Phase is a named span of a migration, for reports and plots.
// Names: setup, precopy, postcopy, switchover (guest stopped until it runs
// at the destination), cleanup.
type Phase struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Decision is one policy action, logged and kept in the report.
type Decision struct {
	At     time.Time `json:"at"`
	Pass   int       `json:"pass"`
	Action string    `json:"action"` // e.g. "bandwidth", "postcopy", "throttle", "abort"
	Value  string    `json:"value,omitempty"`
	Reason string    `json:"reason"`
}

// Duration is a time.Duration that reads and writes JSON as a string such
// as "1.5s" (and reads plain nanoseconds too).
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1.5s" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: want a string such as \"1.5s\" or nanoseconds")
	}
	*d = Duration(n)
	return nil
}

// Where an operator says the guest of a migration with an unknown outcome
// runs (ResolveRequest.GuestOn).
const (
	GuestOnSource      = "source"      // the destination does not run it: resume it on the source
	GuestOnDestination = "destination" // the destination runs it: stop the source's paused copy
)

// ResolveRequest settles a migration in state unknown when its destination
// cannot be asked (e.g. its host is down for good). The source asks the
// destination once more first; if it answers, its word wins.
type ResolveRequest struct {
	GuestOn string `json:"guest_on"`
}

// Validate reports a request that names neither end, wrapped in
// ErrInvalidRequest.
func (r ResolveRequest) Validate() error {
	if r.GuestOn != GuestOnSource && r.GuestOn != GuestOnDestination {
		return fmt.Errorf("%w: guest_on %q: want %q or %q", ErrInvalidRequest, r.GuestOn, GuestOnSource, GuestOnDestination)
	}
	return nil
}

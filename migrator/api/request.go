package api

import (
	"fmt"
	"time"
)

// Post-copy modes for MigrateRequest.Postcopy.
const (
	PostcopyAuto   = "auto"   // switch to post-copy when pre-copy does not converge
	PostcopyNever  = "never"  // throttle the guest's CPU instead
	PostcopyAlways = "always" // one pre-copy pass, then post-copy
)

// Completion-timeout actions for MigrateRequest.TimeoutAction.
const (
	TimeoutAbort    = "abort"    // cancel; the guest keeps running on the source
	TimeoutPostcopy = "postcopy" // force post-copy (needs Postcopy != never)
)

// Pipes for MigrateRequest.Pipe: what carries QEMU's migration channels
// between the agents (control and hand-off always use the QUIC connection).
const (
	// PipeTCP: each channel on its own TLS 1.3 connection over TCP beside
	// the QUIC connection (a lane: same certificates, bound to it). TCP's
	// segmentation offloads make it about 2.5 times cheaper in CPU per byte
	// than QUIC's 1452-byte packets, which bounds the rate on a busy host.
	PipeTCP = "tcp"
	// PipeQUIC: each channel on a stream of the QUIC connection.
	PipeQUIC = "quic"
)

// Codecs for MigrateRequest.Codec: how the agents carry RAM pages.
const (
	// CodecAuto: the source agent reads QEMU's stream and sends a page
	// whose content the destination holds as a reference, a page sent
	// again as a delta, others zstd-compressed when that pays, while
	// coding pays (package pagecode).
	CodecAuto = "auto"
	// CodecNone: QEMU's bytes as they are.
	CodecNone = "none"
)

// Post-copy prefetch for MigrateRequest.PostcopyPrefetch: what the source
// agent asks its QEMU to send first once post-copy has started.
const (
	// PrefetchWorkingSet: the guest's working set, as the source agent
	// knows it, ahead of QEMU's background scan (package prefetch).
	PrefetchWorkingSet = "working-set"
	// PrefetchNone: QEMU's own order (the destination's faults first).
	PrefetchNone = "none"
)

// The defaults of a MigrateRequest: the one place they are written.
// Defaults fills them in; the policy, the agent and netctl's flags read
// them from here.
const (
	DefaultBandwidth         = 1 << 30  // bytes/s
	DefaultInitialBandwidth  = 64 << 20 // bytes/s, at most Bandwidth
	DefaultDowntimeTarget    = Duration(50 * time.Millisecond)
	DefaultPostcopy          = PostcopyAuto
	DefaultCompletionTimeout = Duration(5 * time.Minute)
	DefaultTimeoutAction     = TimeoutAbort
	// DefaultPipe is lanes: on a host whose cores the guests share, the
	// agents' CPU per byte bounds the rate, and QUIC's costs 2.5 times more.
	DefaultPipe = PipeTCP
	// DefaultCodec is none: on a host whose cores the guests share,
	// coding costs the source agent 2 to 4 times the CPU per byte today
	// (chunked zstd and the copies around it), which lengthens a move
	// more than its fewer bytes shorten it (README, "Page coding").
	DefaultCodec = CodecNone
	// DefaultPostcopyPrefetch is working-set: once post-copy has started,
	// the guest's working set goes first when the guest reports one (a
	// fresh report, see the agent); without one QEMU's own order stays.
	DefaultPostcopyPrefetch = PrefetchWorkingSet
	// DefaultMultifdChannels is the multifd channels of a request that
	// names none and never uses post-copy (see Multifd).
	DefaultMultifdChannels = 2
	// MaxMultifdChannels bounds MultifdChannels.
	MaxMultifdChannels = 16
)

// MigrateRequest asks a source agent to move one of its VMs to another host.
// Zero fields take the defaults of Defaults.
type MigrateRequest struct {
	VM string `json:"vm"`
	To string `json:"to"` // destination host name, e.g. hostB
	// Bandwidth caps the migration stream until the guest stops, bytes/s
	// (default 1 GiB/s); the last pages and the device state go unpaced,
	// as QEMU's own completion ignores its cap.
	Bandwidth int64 `json:"bandwidth"`
	// InitialBandwidth is the first pass's rate, bytes/s (default 64 MiB/s);
	// later passes rise to the dirty rate plus a margin, up to Bandwidth.
	InitialBandwidth int64 `json:"initial_bandwidth"`
	// DowntimeTarget (default 50ms) is QEMU's downtime-limit or, when the
	// agent picks the switchover (with the eBPF hand-off), the same rule
	// applied by the agent (QEMU's own limit is then 1 ms).
	DowntimeTarget Duration `json:"downtime_target"`
	// Postcopy is auto (default), never or always.
	Postcopy string `json:"postcopy"`
	// MultifdChannels: 0 for the default (none with post-copy, else 2).
	MultifdChannels int `json:"multifd_channels"`
	// CompletionTimeout bounds the whole migration (default 5m).
	CompletionTimeout Duration `json:"completion_timeout"`
	// TimeoutAction is abort (default) or postcopy.
	TimeoutAction string `json:"timeout_action"`
	// Pipe carries QEMU's channels: tcp (default, lanes) or quic.
	Pipe string `json:"pipe,omitempty"`
	// Codec is how RAM pages travel: none (default) or auto.
	Codec string `json:"codec,omitempty"`
	// PostcopyPrefetch is what the source sends first in post-copy:
	// none (default) or working-set.
	PostcopyPrefetch string `json:"postcopy_prefetch,omitempty"`
	// Gang names the group of migrations this one moves with (netctl
	// migrate VM1 VM2 …, netctl evacuate): with codec auto, the gang's
	// migrations to one host share one content store, so content one VM
	// sent goes as a reference for the others. "": alone.
	Gang string `json:"gang,omitempty"`
}

// Defaults fills zero fields with the Default constants. MultifdChannels
// stays 0 (the record shows what was asked); Multifd says what it means.
func (r *MigrateRequest) Defaults() {
	if r.Bandwidth == 0 {
		r.Bandwidth = DefaultBandwidth
	}
	if r.InitialBandwidth == 0 {
		r.InitialBandwidth = min(DefaultInitialBandwidth, r.Bandwidth)
	}
	if r.DowntimeTarget == 0 {
		r.DowntimeTarget = DefaultDowntimeTarget
	}
	if r.Postcopy == "" {
		r.Postcopy = DefaultPostcopy
	}
	if r.CompletionTimeout == 0 {
		r.CompletionTimeout = DefaultCompletionTimeout
	}
	if r.TimeoutAction == "" {
		r.TimeoutAction = DefaultTimeoutAction
	}
	if r.Pipe == "" {
		r.Pipe = DefaultPipe
	}
	if r.Codec == "" {
		r.Codec = DefaultCodec
	}
	if r.PostcopyPrefetch == "" {
		r.PostcopyPrefetch = DefaultPostcopyPrefetch
	}
}

// Multifd is the number of multifd channels the request uses: its own, or
// by default none when post-copy may be used (QEMU 7.2 cannot do both) and
// DefaultMultifdChannels otherwise.
func (r MigrateRequest) Multifd() int {
	if r.MultifdChannels > 0 {
		return r.MultifdChannels
	}
	if r.Postcopy == PostcopyNever {
		return DefaultMultifdChannels
	}
	return 0
}

// Validate reports the first problem, wrapped in ErrInvalidRequest. Call
// it after Defaults.
func (r *MigrateRequest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
	}
	switch {
	case !nameRE.MatchString(r.VM):
		return bad("vm %q: want a VM name", r.VM)
	case r.To == "":
		return bad("no destination host")
	case r.Bandwidth < 1<<20:
		return bad("bandwidth %d B/s: want at least 1 MiB/s", r.Bandwidth)
	case r.InitialBandwidth < 1<<20 || r.InitialBandwidth > r.Bandwidth:
		return bad("initial bandwidth %d B/s: want 1 MiB/s..bandwidth", r.InitialBandwidth)
	case r.DowntimeTarget < Duration(time.Millisecond) || r.DowntimeTarget > Duration(time.Minute):
		return bad("downtime target %v: want 1ms..1m", time.Duration(r.DowntimeTarget))
	case r.Postcopy != PostcopyAuto && r.Postcopy != PostcopyNever && r.Postcopy != PostcopyAlways:
		return bad("postcopy %q: want auto, never or always", r.Postcopy)
	case r.MultifdChannels < 0 || r.MultifdChannels > MaxMultifdChannels:
		return bad("multifd channels %d: want 0..%d", r.MultifdChannels, MaxMultifdChannels)
	case r.MultifdChannels > 0 && r.Postcopy != PostcopyNever:
		return bad("multifd channels with post-copy allowed: use postcopy never for multifd")
	case r.CompletionTimeout < Duration(time.Second):
		return bad("completion timeout %v: want at least 1s", time.Duration(r.CompletionTimeout))
	case r.TimeoutAction != TimeoutAbort && r.TimeoutAction != TimeoutPostcopy:
		return bad("timeout action %q: want abort or postcopy", r.TimeoutAction)
	case r.TimeoutAction == TimeoutPostcopy && r.Postcopy == PostcopyNever:
		return bad("timeout action postcopy needs post-copy allowed (postcopy auto or always)")
	case r.Pipe != PipeTCP && r.Pipe != PipeQUIC:
		return bad("pipe %q: want tcp or quic", r.Pipe)
	case r.Codec != CodecAuto && r.Codec != CodecNone:
		return bad("codec %q: want auto or none", r.Codec)
	case r.PostcopyPrefetch != PrefetchNone && r.PostcopyPrefetch != PrefetchWorkingSet:
		return bad("postcopy prefetch %q: want working-set or none", r.PostcopyPrefetch)
	case r.Gang != "" && !nameRE.MatchString(r.Gang):
		return bad("gang %q: want a name such as %q", r.Gang, "evac-hosta-1")
	}
	return nil
}

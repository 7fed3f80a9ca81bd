package qmpcmd

import (
	"sort"
)

// Capability is one entry of migrate-set-capabilities.
type Capability struct {
	Capability string `json:"capability"`
	State      bool   `json:"state"`
}

// SetCapabilities are migrate-set-capabilities' arguments.
type SetCapabilities struct {
	Capabilities []Capability `json:"capabilities"`
}

// Capabilities lists caps in name order.
func Capabilities(caps map[string]bool) SetCapabilities {
	names := make([]string, 0, len(caps))
	for c := range caps {
		names = append(names, c)
	}
	sort.Strings(names)
	list := make([]Capability, 0, len(names))
	for _, c := range names {
		list = append(list, Capability{c, caps[c]})
	}
	return SetCapabilities{Capabilities: list}
}

// Parameters are migrate-set-parameters' arguments: nil fields are left
// as they are. Fields in JSON-name order.
type Parameters struct {
	CPUThrottleIncrement     *int    `json:"cpu-throttle-increment,omitempty"` // percent
	CPUThrottleInitial       *int    `json:"cpu-throttle-initial,omitempty"`   // percent
	CPUThrottleTailslow      *bool   `json:"cpu-throttle-tailslow,omitempty"`
	DowntimeLimit            *int64  `json:"downtime-limit,omitempty"` // ms
	MaxBandwidth             *uint64 `json:"max-bandwidth,omitempty"`  // bytes/s
	MaxCPUThrottle           *int    `json:"max-cpu-throttle,omitempty"`
	MultifdChannels          *int    `json:"multifd-channels,omitempty"`
	ThrottleTriggerThreshold *int    `json:"throttle-trigger-threshold,omitempty"` // percent
}

// URI is the argument of migrate and migrate-incoming.
type URI struct {
	URI string `json:"uri"`
}

// UnixURI is the URI of a unix socket at path.
func UnixURI(path string) URI { return URI{URI: "unix:" + path} }

// Resume is migrate's argument for resuming a paused post-copy on a new
// stream.
type Resume struct {
	URI    string `json:"uri"`
	Resume bool   `json:"resume"`
}

// Continue is migrate-continue's argument: the state to leave.
type Continue struct {
	State string `json:"state"`
}

// VirtioQueue names one virtqueue for x-query-virtio-queue-status.
type VirtioQueue struct {
	Path  string `json:"path"`
	Queue int    `json:"queue"`
}

// Migration capabilities (migrate-set-capabilities) nfhandoff sets.
const (
	CapEvents                = "events" // MIGRATION and MIGRATION_PASS events
	CapPauseBeforeSwitchover = "pause-before-switchover"
	CapPostcopyRAM           = "postcopy-ram"
	CapAutoConverge          = "auto-converge"
	CapMultifd               = "multifd"
)

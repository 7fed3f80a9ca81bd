package wire

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// The validate methods check what strict JSON decoding cannot: values in
// range, names well formed, fields consistent.

var hostRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// knownCaps are the QEMU 7.2 capabilities a Hello may ask for.
var knownCaps = map[string]bool{
	"xbzrle": true, "auto-converge": true, "zero-blocks": true, "events": true,
	"postcopy-ram": true, "return-path": true, "pause-before-switchover": true,
	"multifd": true, "postcopy-preempt": true, "validate-uuid": true,
}

func (h *Hello) validate() error {
	if err := ValidSession(h.ID); err != nil {
		return err
	}
	if !hostRE.MatchString(h.Source) {
		return fmt.Errorf("source %q: want a host name", h.Source)
	}
	if h.Engine != "" && h.Engine != EngineLibvirt {
		return fmt.Errorf("engine %q: want %q or none", h.Engine, EngineLibvirt)
	}
	if h.EngineSocket != "" && (h.Engine == "" || !hostRE.MatchString(h.EngineSocket)) {
		return fmt.Errorf("engine socket %q: want a plain name, with an engine", h.EngineSocket)
	}
	validSpec := h.Spec.Validate
	if h.Engine != "" {
		validSpec = h.Spec.ValidateForeign // the engine has the rest of it
	}
	if err := validSpec(); err != nil {
		return err
	}
	if err := h.Request.Validate(); err != nil {
		return err
	}
	if h.Request.VM != h.Spec.Name {
		return fmt.Errorf("request names vm %q, spec %q", h.Request.VM, h.Spec.Name)
	}
	for c := range h.Capabilities {
		if !knownCaps[c] {
			return fmt.Errorf("unknown capability %q", c)
		}
	}
	if h.MultifdChannels < 0 || h.MultifdChannels > api.MaxMultifdChannels {
		return fmt.Errorf("multifd channels %d: want 0..%d", h.MultifdChannels, api.MaxMultifdChannels)
	}
	if h.MultifdChannels > 0 != h.Capabilities["multifd"] {
		return fmt.Errorf("multifd channels %d with multifd capability %v", h.MultifdChannels, h.Capabilities["multifd"])
	}
	return nil
}

func (r *Ready) validate() error {
	if r.PID < 0 {
		return fmt.Errorf("pid %d", r.PID)
	}
	if len(r.EngineURI) > maxEngineURI || strings.ContainsFunc(r.EngineURI, unicode.IsControl) {
		return fmt.Errorf("engine uri of %d bytes: want at most %d, no control characters", len(r.EngineURI), maxEngineURI)
	}
	return nil
}

func (Commit) validate() error { return nil }
func (r Running) validate() error {
	for _, d := range []struct {
		name string
		v    api.Duration
	}{{"starting", r.Starting}, {"since", r.Since}} {
		if d.v < 0 || d.v > maxRunningDuration {
			return fmt.Errorf("%s %v: want 0..%v", d.name, d.v, maxRunningDuration)
		}
	}
	return nil
}

// maxEngineURI bounds Ready.EngineURI.
const maxEngineURI = 1024

// maxRunningDuration bounds Running's durations: the destination waits at
// most its commit timeout (minutes), so a day is a lie.
const maxRunningDuration = api.Duration(24 * time.Hour)

func (a *Abort) validate() error {
	if a.Reason == "" || len(a.Reason) > MaxReason {
		return fmt.Errorf("abort reason of %d bytes: want 1..%d", len(a.Reason), MaxReason)
	}
	return nil
}

func (s *StatusRequest) validate() error { return ValidSession(s.ID) }

// maxRecoverAttempt bounds Recover.Attempt: one a second for a day.
const maxRecoverAttempt = 86400

func (r *Recover) validate() error {
	if r.Attempt < 1 || r.Attempt > maxRecoverAttempt {
		return fmt.Errorf("recover attempt %d: want 1..%d", r.Attempt, maxRecoverAttempt)
	}
	return ValidSession(r.ID)
}

func (RecoverReady) validate() error { return nil }

func (s *StatusReply) validate() error {
	if err := ValidSession(s.ID); err != nil {
		return err
	}
	switch s.State {
	case StatusPending, StatusRunning, StatusFailed, StatusUnknown:
	default:
		return fmt.Errorf("status state %q", s.State)
	}
	if len(s.Reason) > MaxReason {
		return fmt.Errorf("status reason of %d bytes: limit %d", len(s.Reason), MaxReason)
	}
	return nil
}

// statKeyRE bounds the keys of HandoffStats.Dropped and .Modes.
var statKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// maxStatKeys bounds the entries of each map in a HandoffDone.
const maxStatKeys = 32

func (h *HandoffDone) validate() error {
	s := &h.Stats
	if len(s.Dropped) > maxStatKeys || len(s.Modes) > maxStatKeys {
		return fmt.Errorf("%d drop reasons and %d modes: limit %d each", len(s.Dropped), len(s.Modes), maxStatKeys)
	}
	for k := range s.Dropped {
		if !statKeyRE.MatchString(k) {
			return fmt.Errorf("drop reason %q", k)
		}
	}
	for k, d := range s.Modes {
		if !statKeyRE.MatchString(k) {
			return fmt.Errorf("mode %q", k)
		}
		if d < 0 {
			return fmt.Errorf("mode %s: negative duration %v", k, d)
		}
	}
	if s.GARPs < 0 || s.HighWaterBytes < 0 {
		return fmt.Errorf("garps %d, high water %d: want >= 0", s.GARPs, s.HighWaterBytes)
	}
	return nil
}

package session

import (
	"fmt"
	"regexp"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// MsgHandoffDone is destination -> source, after Flushed: the destination's
// account of the hand-off.
const MsgHandoffDone uint8 = 8

// HandoffDone carries the destination's hand-off statistics to the source,
// which records them in its report.
type HandoffDone struct {
	Stats api.HandoffStats `json:"stats"`
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

// DecodeHandoffDone decodes a MsgHandoffDone body.
func DecodeHandoffDone(body []byte) (HandoffDone, error) {
	var h HandoffDone
	err := decodeInto(body, &h)
	return h, err
}

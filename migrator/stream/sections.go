package stream

import (
	"fmt"
	"strings"
)

// sectionStart decides on a START or FULL section: "ram" is read, any
// other one ends the reading.
func (w *Writer) sectionStart() error {
	if w.secType == secStart && w.secName == ramSection {
		if w.ramSeen {
			return malformedf("a second RAM section (%d after %d)", w.secID, w.ramID)
		}
		w.ramSeen, w.ramID = true, w.secID
		return w.ramSection()
	}
	if reason, ok := refusedSection(w.secName); ok {
		return w.opaque(reason, true)
	}
	if !w.m.sum.RAMDone {
		return w.opaque(fmt.Sprintf("section %q before RAM ended", w.secName), true)
	}
	return w.opaque(fmt.Sprintf("device state from section %q on", w.secName), false)
}

// refusedSection names the live sections whose streams page coding cannot
// follow.
func refusedSection(name string) (string, bool) {
	switch {
	case name == "block":
		return `block migration (section "block")`, true
	case name == "dirty-bitmap":
		return `dirty bitmaps (section "dirty-bitmap")`, true
	case strings.Contains(name, "vfio"):
		return fmt.Sprintf("VFIO (section %q)", name), true
	}
	return "", false
}

// sectionPart continues the RAM section.
func (w *Writer) sectionPart(id uint32) error {
	if !w.ramSeen || id != w.ramID {
		return malformedf("section %d continues but never started", id)
	}
	if w.m.sum.RAMDone {
		return malformedf("RAM section %d continues after its END", id)
	}
	w.secID, w.secName = id, ramSection
	return w.ramSection()
}

// subsection reads the configuration's known subsections (savevm.c).
func (w *Writer) subsection() error {
	switch w.subName {
	case "configuration/target-page-bits":
		return w.m.expect(4, stSubDone)
	case "configuration/uuid":
		return w.m.expect(16, stSubDone)
	case "configuration/capabilities":
		return w.m.expect(4, stCapCount)
	}
	return w.opaque(fmt.Sprintf("configuration subsection %q", w.subName), true)
}

func (w *Writer) nextCap() error {
	if w.capsLeft == 0 {
		return w.m.expect(1, stConfNext)
	}
	return w.m.expect(1, stCapLen)
}

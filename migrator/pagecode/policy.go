package pagecode

import "fmt"

// Mode says how eagerly an encoder codes pages.
type Mode int

const (
	// ModeAuto names pages while that pays and, while it does not (a
	// guest of random, unshared memory), sends them unnamed and probes
	// again now and then: naming costs such a guest little.
	ModeAuto Mode = iota
	// ModeAlways names every page (a gang of VMs sharing content).
	ModeAlways
)

// ParseMode parses "auto" or "always".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "auto", "":
		return ModeAuto, nil
	case "always":
		return ModeAlways, nil
	}
	return 0, fmt.Errorf("unknown coding mode %q (want auto or always)", s)
}

// The adaptive policy: naming pages (hashing them, at both ends) pays
// when pages go as references or deltas. It is judged over windows of
// named pages: a window with fewer than payPercent of them sends the next
// windows' pages unnamed (the link's compression still applies), then
// names a window again. The pause doubles, from skipWindows to
// maxSkipWindows, while windows keep not paying: a named page costs both
// ends a hash and a store slot, and a store slot costs a page fault the
// first time (a 1 GiB random guest probed every 9th window paid ~0.35 s of
// faults on each agent). A gang of several VMs should use ModeAlways: its
// point is the content they share.
const (
	window         = 2048 // pages (8 MiB) per judgement
	skipWindows    = 8
	maxSkipWindows = 64
	payPercent     = 2
)

type policy struct {
	mode Mode

	pages, hits int // this window's named pages, and those sent as references or deltas
	skip        int // pages still to send unnamed
	pause       int // windows the next failing judgement skips (0: skipWindows)
	zskip       int // frame bytes still to send uncompressed
}

// coding says whether the next page is named.
func (p *policy) coding() bool {
	if p.mode == ModeAlways {
		return true
	}
	if p.skip > 0 {
		p.skip--
		return false
	}
	return true
}

// coded accounts a named page; hit says it went as a reference or delta.
func (p *policy) coded(hit bool) {
	p.pages++
	if hit {
		p.hits++
	}
	if p.pages < window {
		return
	}
	switch {
	case p.mode != ModeAuto:
	case p.hits*100 < p.pages*payPercent:
		p.pause = min(max(p.pause, skipWindows/2)*2, maxSkipWindows)
		p.skip = p.pause * window
	default:
		p.pause = 0
	}
	p.pages, p.hits = 0, 0
}

// Compression is judged per chunk: one that did not pay stops it for the
// next skipBytes of frames, then a chunk is tried again.
const skipBytes = 4 << 20

// compressing says whether to try compressing the next chunk.
func (p *policy) compressing(n int) bool {
	if p.zskip > 0 {
		p.zskip -= n
		return false
	}
	return true
}

// compressed accounts a chunk's compression.
func (p *policy) compressed(pays bool) {
	if !pays {
		p.zskip = skipBytes
	}
}

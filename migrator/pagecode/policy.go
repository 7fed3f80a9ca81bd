package pagecode

import "fmt"

// Mode says how eagerly an encoder codes pages.
type Mode int

const (
	// ModeAuto codes while coding pays and, while it does not (a guest
	// of random, unshared memory), carries pages raw and probes again
	// now and then: coding costs such a guest little.
	ModeAuto Mode = iota
	// ModeAlways codes every page.
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

// The adaptive policy: coding is judged over windows of pages; a window
// that saved less than a tenth of its bytes sends the next pages raw,
// twice as many after each such window up to a limit. zstd is judged the
// same way on its own, tried on one page in probeEvery while it does not
// pay.
const (
	window     = 2048  // pages (8 MiB) per judgement
	skipFirst  = 8192  // pages sent raw after the first window that did not pay
	skipMost   = 65536 // and at most (256 MiB)
	probeEvery = 16
	payPercent = 90 // a window pays when it sent at most this share of its bytes
)

type policy struct {
	mode Mode

	pages, out int // this window's coded pages and their frames' bytes
	skip, next int // pages still to send raw; the next skip's length

	ztried, zout, zpage int // zstd: this window's tries and their bytes; pages seen
	zoff                bool
}

// coding says whether the next page is coded.
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

// coded accounts a coded page's frame of n bytes.
func (p *policy) coded(n int) {
	p.pages++
	p.out += n
	if p.pages < window {
		return
	}
	if p.mode == ModeAuto && p.out*100 > p.pages*PageSize*payPercent {
		if p.next == 0 {
			p.next = skipFirst
		}
		p.skip, p.next = p.next, min(2*p.next, skipMost)
	} else {
		p.next = 0
	}
	p.pages, p.out = 0, 0
}

// tryZstd says whether to try compressing the next page.
func (p *policy) tryZstd() bool {
	p.zpage++
	return !p.zoff || p.zpage%probeEvery == 0
}

// zstdResult accounts a compression to n bytes.
func (p *policy) zstdResult(n int) {
	p.ztried++
	p.zout += n
	if p.ztried < window/probeEvery {
		return
	}
	p.zoff = p.zout*100 > p.ztried*PageSize*payPercent
	p.ztried, p.zout = 0, 0
}

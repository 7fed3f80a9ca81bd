package wsguest

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// Lies a guest can be told to tell (the vnf's --ws-report-lie), to test
// that no report can fail a migration; each answer tells the next in turn.
const (
	// LieGarbage: junk, a report with a bad checksum and one of an
	// unknown version; the host rejects them all.
	LieGarbage = "garbage"
	// LieWrongID: a valid report answering another request; the request
	// goes unanswered.
	LieWrongID = "wrong-id"
	// LieOutOfRange: ranges beyond RAM, across the PCI hole, at the last
	// frame there is, and all of low memory twice over.
	LieOutOfRange = "out-of-range"
	// LieHuge: the most ranges a report holds, one frame each, every
	// other frame from 0 (twice the RAM of these guests).
	LieHuge = "huge"
	// LieStale: the honest report moved by staleShift frames: frames the
	// vnf does not use (or no longer does).
	LieStale = "stale"
)

// staleShift is how far LieStale moves the honest frames.
const staleShift = 12345

var allLies = []string{LieGarbage, LieWrongID, LieOutOfRange, LieHuge, LieStale}

// ParseLies parses a list of lies separated by ':' or ',' (only ':'
// passes the guest kernel's command line); "all": every kind.
func ParseLies(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if s == "all" {
		return allLies, nil
	}
	var out []string
	for _, k := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ',' }) {
		k = strings.TrimSpace(k)
		found := false
		for _, l := range allLies {
			found = found || l == k
		}
		if !found {
			return nil, fmt.Errorf("unknown working-set lie %q (want all or some of %s)", k, strings.Join(allLies, ","))
		}
		out = append(out, k)
	}
	return out, nil
}

// lie appends to b the answer to request id that tells the lie kind
// instead of honest.
func lie(b []byte, kind string, id uint32, honest wsreport.Report) ([]byte, error) {
	r := wsreport.Report{Seq: uint64(id), Uptime: honest.Uptime}
	switch kind {
	case LieGarbage:
		b = append(b, bytes.Repeat([]byte("NFW\x00garbage"), 300)...)
		b, _ = wsreport.Encode(b, wsreport.Report{Seq: r.Seq, Ranges: []wsreport.Range{{Start: 1, Count: 1}}})
		b[len(b)-1] ^= 0xff // the checksum no longer holds
		at := len(b)
		b, _ = wsreport.Encode(b, r)
		b[at+5] = 99 // version
		return b, nil
	case LieWrongID:
		r.Seq += 1000
		r.Ranges, r.Hot = honest.Ranges, honest.Hot
	case LieOutOfRange:
		r.Ranges = []wsreport.Range{
			{Start: 1 << 40, Count: 1 << 20},                       // 4 EiB in
			{Start: 0xc0000 - 16, Count: 0x40000 + 32},             // across the PCI hole
			{Start: wsreport.MaxFrame - 1, Count: 1},               // the last frame there is
			{Start: 0, Count: 0xc0000}, {Start: 0, Count: 0xc0000}, // 3 GiB, twice
		}
		r.Hot = 2
	case LieHuge:
		r.Ranges = make([]wsreport.Range, wsreport.MaxRanges)
		for i := range r.Ranges {
			r.Ranges[i] = wsreport.Range{Start: 2 * uint64(i), Count: 1}
		}
		r.Hot, r.Flags = len(r.Ranges), wsreport.Truncated
	case LieStale:
		r.Ranges = make([]wsreport.Range, len(honest.Ranges))
		for i, x := range honest.Ranges {
			r.Ranges[i] = wsreport.Range{Start: x.Start + staleShift, Count: x.Count}
		}
		r.Hot = honest.Hot
	default:
		return b, fmt.Errorf("unknown working-set lie %q", kind)
	}
	return wsreport.Encode(b, r)
}

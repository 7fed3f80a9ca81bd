package wsreport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Layout and bounds, in one place.
const (
	Version   = 1
	HeaderLen = 40
	RangeLen  = 12
	// MaxRanges bounds the ranges of one report; MaxReportBytes its size.
	MaxRanges      = 64 << 10
	MaxReportBytes = 1 << 20
	// FrameSize is the size of one frame; MaxFrame bounds a range's end
	// (2^64 bytes of guest-physical memory).
	FrameSize = 4096
	MaxFrame  = 1 << 52
)

// PortName is the virtio-serial port the reports travel on: migratord
// gives its guests one by this name, and the vnf looks for it.
const PortName = "org.nfhandoff.ws.0"

// Magic starts every report.
var Magic = [4]byte{'N', 'F', 'W', 'S'}

// Flags.
const (
	// Truncated: the guest left out ranges beyond MaxRanges.
	Truncated uint16 = 1 << 0
)

// Errors of Decode and Encode; all wrap ErrMalformed.
var (
	ErrMalformed = errors.New("malformed working-set report")
	ErrMagic     = fmt.Errorf("%w: bad magic", ErrMalformed)
	ErrVersion   = fmt.Errorf("%w: unknown version", ErrMalformed)
	ErrLength    = fmt.Errorf("%w: bad length", ErrMalformed)
	ErrTooLarge  = fmt.Errorf("%w: too large", ErrMalformed)
	ErrChecksum  = fmt.Errorf("%w: bad checksum", ErrMalformed)
	ErrRange     = fmt.Errorf("%w: bad range", ErrMalformed)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Range is Count frames from frame Start.
type Range struct {
	Start uint64
	Count uint32
}

// End is the frame after the range.
func (r Range) End() uint64 { return r.Start + uint64(r.Count) }

// Report is one working-set report.
type Report struct {
	Seq    uint64
	Uptime time.Duration // the guest's clock when it made the report
	Flags  uint16
	// Ranges in priority order: the first Hot are the working set proper,
	// the rest the sender's other resident memory (code, stacks, heap).
	Ranges []Range
	Hot    int
}

// Pages is the number of frames the ranges cover, overlaps counted twice.
func (r Report) Pages() uint64 {
	var n uint64
	for _, x := range r.Ranges {
		n += uint64(x.Count)
	}
	return n
}

// Encode appends r's encoding to b. It refuses what Decode would reject.
func Encode(b []byte, r Report) ([]byte, error) {
	if len(r.Ranges) > MaxRanges {
		return b, fmt.Errorf("%w: %d ranges, at most %d", ErrTooLarge, len(r.Ranges), MaxRanges)
	}
	if r.Hot < 0 || r.Hot > len(r.Ranges) {
		return b, fmt.Errorf("%w: hot %d of %d ranges", ErrLength, r.Hot, len(r.Ranges))
	}
	for i, x := range r.Ranges {
		if err := checkRange(x); err != nil {
			return b, fmt.Errorf("range %d: %w", i, err)
		}
	}
	n := HeaderLen + RangeLen*len(r.Ranges)
	at := len(b)
	b = append(b, Magic[:]...)
	b = binary.BigEndian.AppendUint16(b, Version)
	b = binary.BigEndian.AppendUint16(b, r.Flags)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = binary.BigEndian.AppendUint32(b, 0) // checksum, below
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Uptime))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Ranges)))
	b = binary.BigEndian.AppendUint32(b, uint32(r.Hot))
	for _, x := range r.Ranges {
		b = binary.BigEndian.AppendUint64(b, x.Start)
		b = binary.BigEndian.AppendUint32(b, x.Count)
	}
	binary.BigEndian.PutUint32(b[at+12:], crc32.Checksum(b[at:], castagnoli))
	return b, nil
}

func checkRange(x Range) error {
	switch {
	case x.Count == 0:
		return fmt.Errorf("%w: empty at frame %#x", ErrRange, x.Start)
	case x.Start >= MaxFrame || x.End() > MaxFrame:
		return fmt.Errorf("%w: frames %#x+%d beyond %#x", ErrRange, x.Start, x.Count, uint64(MaxFrame))
	}
	return nil
}

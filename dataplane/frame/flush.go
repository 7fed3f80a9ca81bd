package frame

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The flush stream carries the frames a source host still owes a VM after
// switchover (the frame QEMU held, the tap's residue, the BPF buffer) to the
// destination, which injects them before releasing HOLD. All integers are
// big-endian (network byte order).
//
//	section: header, records
//	header:  "NFHF" u16 version (1) u16 nic
//	record:  u8 type, u8 origin, u16 0, u32 length, length bytes
//	           type 1 (frame): origin 1..3, 1 <= length <= MaxFrame, the frame
//	           type 2 (end):   origin 0, length 16, u64 frames, u64 bytes
//
// A VM with several NICs sends one section per NIC on the one stream, NIC 0
// first, each ending with its end record; a one-NIC VM's stream is a single
// section for NIC 0. The last section's end record is the last thing on the
// stream; the counts let the reader verify that nothing was lost or cut off.
const (
	flushMagic   = "NFHF"
	flushVersion = 1
	headerLen    = 8
	recordLen    = 8
	endLen       = 16

	recFrame = 1
	recEnd   = 2
)

// MaxFrame is the largest frame the dataplane captures, carries and injects.
const MaxFrame = 2048

// ErrMalformedFlush is wrapped by every FlushReader error other than io.EOF
// and the underlying reader's own errors.
var ErrMalformedFlush = errors.New("malformed flush stream")

// Origin says where a flushed frame came from. Frames are flushed in origin
// order: held, then residue, then buffered.
type Origin uint8

// Origins of flushed frames.
const (
	OriginHeld     Origin = 1 // taken by the source QEMU after the guest stopped, recovered from MIRROR copies
	OriginResidue  Origin = 2 // still queued in the source tap at switchover
	OriginBuffered Origin = 3 // captured by the BPF program in BUFFER
)

func (o Origin) valid() bool { return o >= OriginHeld && o <= OriginBuffered }

func (o Origin) String() string {
	switch o {
	case OriginHeld:
		return "held"
	case OriginResidue:
		return "residue"
	case OriginBuffered:
		return "buffered"
	}
	return "origin(" + strconv.Itoa(int(o)) + ")"
}

// FlushWriter writes a flush stream. It is not safe for concurrent use.
type FlushWriter struct {
	w             *bufio.Writer
	nic           uint16
	started, done bool
	err           error // sticky
	frames, bytes uint64
}

// NewFlushWriter returns a writer of a flush stream to w: the section of
// NIC nic (0 for a one-NIC VM). Nothing is written until the first
// WriteFrame or Close; write the sections of a VM's NICs one after another,
// in NIC order, closing each.
func NewFlushWriter(w io.Writer, nic int) *FlushWriter {
	return &FlushWriter{w: bufio.NewWriterSize(w, 64<<10), nic: uint16(nic)}
}

func (fw *FlushWriter) start() {
	if fw.started || fw.err != nil {
		return
	}
	fw.started = true
	var h [headerLen]byte
	copy(h[:], flushMagic)
	binary.BigEndian.PutUint16(h[4:], flushVersion)
	binary.BigEndian.PutUint16(h[6:], fw.nic)
	_, fw.err = fw.w.Write(h[:])
}

func (fw *FlushWriter) record(typ uint8, o Origin, payload ...[]byte) {
	if fw.err != nil {
		return
	}
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	var h [recordLen]byte
	h[0], h[1] = typ, uint8(o)
	binary.BigEndian.PutUint32(h[4:], uint32(n))
	if _, fw.err = fw.w.Write(h[:]); fw.err != nil {
		return
	}
	for _, p := range payload {
		if _, fw.err = fw.w.Write(p); fw.err != nil {
			return
		}
	}
}

// WriteFrame appends frame (1..MaxFrame bytes) from origin o. Writes are
// buffered; Close flushes them.
func (fw *FlushWriter) WriteFrame(o Origin, frame []byte) error {
	switch {
	case fw.done:
		return errors.New("flush writer closed")
	case !o.valid():
		return fmt.Errorf("writing flush frame: invalid origin %d", o)
	case len(frame) == 0 || len(frame) > MaxFrame:
		return fmt.Errorf("writing flush frame: length %d not in 1..%d", len(frame), MaxFrame)
	}
	fw.start()
	fw.record(recFrame, o, frame)
	if fw.err != nil {
		return fmt.Errorf("writing flush frame: %w", fw.err)
	}
	fw.frames++
	fw.bytes += uint64(len(frame))
	return nil
}

// Close writes the end record with the counts and flushes the buffer. It
// does not close the underlying writer. Calling Close again is a no-op that
// returns the first error.
func (fw *FlushWriter) Close() error {
	if !fw.done {
		fw.done = true
		fw.start()
		var end [endLen]byte
		binary.BigEndian.PutUint64(end[0:], fw.frames)
		binary.BigEndian.PutUint64(end[8:], fw.bytes)
		fw.record(recEnd, 0, end[:])
		if fw.err == nil {
			fw.err = fw.w.Flush()
		}
	}
	if fw.err != nil {
		return fmt.Errorf("closing flush stream: %w", fw.err)
	}
	return nil
}

// Counts returns the frames and frame bytes written so far.
func (fw *FlushWriter) Counts() (frames, bytes uint64) { return fw.frames, fw.bytes }

// FlushReader reads and verifies one section of a flush stream. It is not
// safe for concurrent use.
type FlushReader struct {
	r             *bufio.Reader
	nic           uint16
	last          bool         // the stream must end after this section
	prev          *FlushReader // the section before, nil for the first
	started       bool
	err           error // sticky: io.EOF after a valid end, or a failure
	frames, bytes uint64
	maxBytes      uint64
}

// NewFlushReader returns a reader of the flush stream on r of a one-NIC VM.
func NewFlushReader(r io.Reader) *FlushReader {
	return NewFlushReaders(r, 1)[0]
}

// NewFlushReaders returns the readers of the sections of the flush stream
// on r of a VM with nics NICs (at least 1), NIC 0's first. Read them in
// that order: a section read before the one ahead of it has ended fails.
func NewFlushReaders(r io.Reader, nics int) []*FlushReader {
	br := bufio.NewReaderSize(r, 64<<10)
	rs := make([]*FlushReader, max(nics, 1))
	for i := range rs {
		rs[i] = &FlushReader{r: br, nic: uint16(i), last: i == len(rs)-1}
		if i > 0 {
			rs[i].prev = rs[i-1]
		}
	}
	return rs
}

// SetMaxBytes bounds the total frame bytes the reader accepts (0, the
// default, is no bound); a stream carrying more is malformed.
func (fr *FlushReader) SetMaxBytes(n uint64) { fr.maxBytes = n }

// Counts returns the frames and frame bytes read so far.
func (fr *FlushReader) Counts() (frames, bytes uint64) { return fr.frames, fr.bytes }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedFlush, fmt.Sprintf(format, args...))
}

// full reads len(b) bytes; running out of stream is a truncation.
func (fr *FlushReader) full(b []byte, what string) error {
	if _, err := io.ReadFull(fr.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return malformed("truncated in %s", what)
		}
		return fmt.Errorf("reading flush %s: %w", what, err)
	}
	return nil
}

// Next returns the next frame and its origin. The frame is a fresh slice the
// caller may keep. Next returns io.EOF only after a valid end record whose
// counts match the frames read, followed by the end of the stream (the last
// section) or by nothing read yet (another section follows); any other
// irregularity is an error wrapping ErrMalformedFlush. Errors are sticky.
func (fr *FlushReader) Next() (Origin, []byte, error) {
	if fr.err != nil {
		return 0, nil, fr.err
	}
	o, frame, err := fr.next()
	if err != nil {
		fr.err = err
	}
	return o, frame, err
}

func (fr *FlushReader) next() (Origin, []byte, error) {
	if !fr.started {
		fr.started = true
		if fr.prev != nil && !errors.Is(fr.prev.err, io.EOF) {
			return 0, nil, fmt.Errorf("reading the flush section of nic %d before the one of nic %d ended", fr.nic, fr.prev.nic)
		}
		var h [headerLen]byte
		if err := fr.full(h[:], "header"); err != nil {
			return 0, nil, err
		}
		if string(h[:4]) != flushMagic {
			return 0, nil, malformed("bad magic %q", h[:4])
		}
		if v := binary.BigEndian.Uint16(h[4:]); v != flushVersion {
			return 0, nil, malformed("unsupported version %d", v)
		}
		if nic := binary.BigEndian.Uint16(h[6:]); nic != fr.nic {
			return 0, nil, malformed("section of nic %d where nic %d's was due", nic, fr.nic)
		}
	}
	var h [recordLen]byte
	if err := fr.full(h[:], "record header"); err != nil {
		return 0, nil, err
	}
	typ, o, n := h[0], Origin(h[1]), binary.BigEndian.Uint32(h[4:])
	if h[2] != 0 || h[3] != 0 {
		return 0, nil, malformed("reserved bytes %#x in record %d", h[2:4], fr.frames+1)
	}
	switch typ {
	case recFrame:
		if !o.valid() {
			return 0, nil, malformed("frame %d: unknown origin %d", fr.frames+1, o)
		}
		if n == 0 || n > MaxFrame {
			return 0, nil, malformed("frame %d: length %d not in 1..%d", fr.frames+1, n, MaxFrame)
		}
		if fr.maxBytes > 0 && fr.bytes+uint64(n) > fr.maxBytes {
			return 0, nil, malformed("more than %d frame bytes", fr.maxBytes)
		}
		frame := make([]byte, n)
		if err := fr.full(frame, "frame"); err != nil {
			return 0, nil, err
		}
		fr.frames++
		fr.bytes += uint64(n)
		return o, frame, nil
	case recEnd:
		if o != 0 || n != endLen {
			return 0, nil, malformed("end record with origin %d, length %d", o, n)
		}
		var end [endLen]byte
		if err := fr.full(end[:], "end record"); err != nil {
			return 0, nil, err
		}
		frames, bytes := binary.BigEndian.Uint64(end[0:]), binary.BigEndian.Uint64(end[8:])
		if frames != fr.frames || bytes != fr.bytes {
			return 0, nil, malformed("end record counts %d frames/%d bytes, read %d/%d", frames, bytes, fr.frames, fr.bytes)
		}
		if !fr.last {
			return 0, nil, io.EOF // the next section follows
		}
		var one [1]byte
		switch _, err := io.ReadFull(fr.r, one[:]); {
		case err == nil:
			return 0, nil, malformed("data after the end record")
		case errors.Is(err, io.EOF):
			return 0, nil, io.EOF
		default:
			return 0, nil, fmt.Errorf("reading after the flush end record: %w", err)
		}
	}
	return 0, nil, malformed("record %d: unknown type %d", fr.frames+1, typ)
}

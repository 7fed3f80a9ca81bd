package transport

import (
	"io"
	"sync"
)

// copyBufSize is the buffer of every copy between a stream and a local
// socket. QEMU writes a migration channel in bursts of up to a few hundred
// KiB; copying them 32 KiB at a time (io.Copy's buffer) costs a read
// syscall and a hand-off to quic-go's send loop per 32 KiB, and on the
// receiving side a write syscall and a wake-up of QEMU per 32 KiB.
const copyBufSize = 1 << 20

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// ReadFrom copies r to the stream until r's EOF (not an error) or an error,
// through a large pooled buffer: io.Copy(stream, conn) uses it.
func (s *Stream) ReadFrom(r io.Reader) (int64, error) { return copyCount(s, r) }

// WriteTo copies the stream to w until the peer's CloseWrite (io.EOF, not
// an error) or an error, through a large pooled buffer, a lane's records
// gathered into one write (gatherCount): io.Copy(conn, stream) uses it.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	if l, ok := s.e.(*laneEnd); ok {
		return gatherCount(w, s, l.bc.recordReady)
	}
	return copyCount(w, s)
}

// maxRecordPlaintext is the most one Read of a lane returns: a TLS record's
// plaintext.
const maxRecordPlaintext = 16 << 10

// copyCount copies until src's EOF (not an error) or an error, each Read
// written at once. It never calls io.Copy, which would come back to
// ReadFrom or WriteTo.
func copyCount(dst io.Writer, src io.Reader) (int64, error) { return gatherCount(dst, src, nil) }

// gatherCount is copyCount for a source whose Reads return little at a
// time (a lane: one TLS record, 16 KiB): it goes on reading while ready
// (nil: never) says the next Read will not wait, and writes what it
// gathered in one write, where copying record by record cost a write
// system call and a wake-up of the reading QEMU per record.
func gatherCount(dst io.Writer, src io.Reader, ready func() bool) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var n int64
	off := 0
	for {
		r, rerr := src.Read(buf[off:])
		off += r
		if off > 0 && (rerr != nil || ready == nil || len(buf)-off < maxRecordPlaintext || !ready()) {
			w, werr := dst.Write(buf[:off])
			n += int64(w)
			if werr == nil && w < off {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return n, werr
			}
			off = 0
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

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
// an error) or an error, through a large pooled buffer: io.Copy(conn,
// stream) uses it.
func (s *Stream) WriteTo(w io.Writer) (int64, error) { return copyCount(w, s) }

// copyCount copies until src's EOF (not an error) or an error. It never
// calls io.Copy, which would come back to ReadFrom or WriteTo.
func copyCount(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var n int64
	for {
		r, rerr := src.Read(buf)
		if r > 0 {
			w, werr := dst.Write(buf[:r])
			n += int64(w)
			if werr == nil && w < r {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

package prefetch

import (
	"encoding/binary"
	"errors"
)

// errDetached: Write after End, or on a stream another Attach replaced.
var errDetached = errors.New("prefetch: no stream to the source qemu")

// Writer is one stream's return path into the source QEMU (Attach).
type Writer struct {
	in  *Injector
	gen int // in.attached when made
}

// Write takes the destination's return-path bytes, cut anywhere, and
// writes each message to QEMU once it is whole (rewritten if it must be),
// so that injected requests can only fall between messages.
func (w *Writer) Write(p []byte) (int, error) {
	in := w.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.w == nil || in.attached != w.gen {
		return 0, errDetached
	}
	var out []byte
	for rest := p; len(rest) > 0; {
		if in.raw {
			out = in.emit(out, segRaw, rest, rest)
			break
		}
		if in.inBitmap || in.rawLeft > 0 {
			out, rest = in.bitmap(out, rest)
			continue
		}
		want := headerLen
		if len(in.msg) >= headerLen {
			want += int(binary.BigEndian.Uint16(in.msg[2:]))
		}
		k := min(want-len(in.msg), len(rest))
		in.msg, rest = append(in.msg, rest[:k]...), rest[k:]
		switch {
		case len(in.msg) == headerLen:
			typ, n := binary.BigEndian.Uint16(in.msg), binary.BigEndian.Uint16(in.msg[2:])
			if why := checkHeader(typ, n); why != "" {
				out = in.giveUp(out, why)
			} else if n == 0 {
				out = in.message(out)
			}
		case len(in.msg) == want:
			out = in.message(out)
		}
	}
	if len(out) > 0 {
		if _, err := in.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// message handles the whole message in in.msg.
func (in *Injector) message(out []byte) []byte {
	m := in.msg
	in.msg = in.msg[:0]
	typ := binary.BigEndian.Uint16(m)
	switch typ {
	case msgReqPagesID:
		name := m[headerLen+reqLen+1:]
		if len(name) != int(m[headerLen+reqLen]) {
			in.msg = m
			return in.giveUp(out, "REQ_PAGES_ID whose block name does not fill it")
		}
		in.destBlock, in.qemuBlock = string(name), string(name)
		in.fault(in.destBlock, m[headerLen:])
		in.classify(in.destBlock, m[headerLen:])
	case msgReqPages:
		in.fault(in.destBlock, m[headerLen:])
		in.classify(in.destBlock, m[headerLen:])
		if in.destBlock != "" && in.qemuBlock != in.destBlock {
			// QEMU would read it against an injected block.
			in.stats.Rewritten++
			in.qemuBlock = in.destBlock
			req := m[headerLen:]
			return in.emit(out, segRewrite, m, reqPagesID(in.destBlock,
				binary.BigEndian.Uint64(req), binary.BigEndian.Uint32(req[8:])))
		}
	case msgShut:
		in.stop(StoppedReturnPathShut)
	case msgRecvBitmap:
		in.inBitmap, in.bitmapSize = true, in.bitmapSize[:0]
	}
	return in.emit(out, segPass, m, m)
}

// fault notes a page request of the destination (req: be64 start, be32
// length): a thread of its QEMU waits for those pages, perhaps its main
// thread, which nothing else can run meanwhile (QMP included). QEMU
// serves requests FIFO, so the pages come after what was injected before
// them; nothing more is injected until they are carried too, so that a
// burst of faults never waits behind new injected pages.
func (in *Injector) fault(block string, req []byte) {
	if len(req) < reqLen {
		return
	}
	start, n := binary.BigEndian.Uint64(req), binary.BigEndian.Uint32(req[8:])
	in.prune()
	in.noteFault(block, start)
	in.enqueue(block, start, n, max(in.due, in.fwd.Load())+max(pages(uint64(n)), 1)*pageWire, true)
}

// maxBitmap bounds a received bitmap's size (one bit per page: 32 MiB
// for 1 TiB of RAM); a larger one is not understood.
const maxBitmap = 1 << 30

// bitmap passes on, as they are, the bytes that follow RECV_BITMAP: the
// bitmap's be64 size, the bitmap, a be64 end mark (QEMU 7.2,
// ramblock_recv_bitmap_send). It returns what is left of rest.
func (in *Injector) bitmap(out, rest []byte) ([]byte, []byte) {
	if in.inBitmap {
		k := min(8-len(in.bitmapSize), len(rest))
		in.bitmapSize, rest = append(in.bitmapSize, rest[:k]...), rest[k:]
		if len(in.bitmapSize) < 8 {
			return out, rest
		}
		in.inBitmap = false
		size := binary.BigEndian.Uint64(in.bitmapSize)
		if size > maxBitmap {
			in.msg = append(in.msg[:0], in.bitmapSize...)
			return in.giveUp(out, "received bitmap larger than 1 GiB"), rest
		}
		in.rawLeft = size + 8
		return in.emit(out, segRaw, in.bitmapSize, in.bitmapSize), rest
	}
	k := int(min(in.rawLeft, uint64(len(rest))))
	in.rawLeft -= uint64(k)
	return in.emit(out, segRaw, rest[:k], rest[:k]), rest[k:]
}

// giveUp passes the message read so far and all that follows through
// untouched: the parser cannot follow the stream.
func (in *Injector) giveUp(out []byte, why string) []byte {
	in.stop("malformed return path: " + why)
	in.log.Warn("return path not understood: passing it through", "why", why)
	in.raw = true
	m := in.msg
	in.msg = in.msg[:0]
	return in.emit(out, segRaw, m, m)
}

// emit appends b, from the input in, to out.
func (in *Injector) emit(out []byte, kind segment, src, b []byte) []byte {
	if in.trace != nil {
		in.trace(kind, src, b)
	}
	return append(out, b...)
}

// End is the return path's end: a message cut short is passed on as it
// is, and nothing more is written to QEMU.
func (w *Writer) End() error {
	in := w.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.w == nil || in.attached != w.gen {
		return nil
	}
	qemu := in.w
	in.w = nil
	if in.inBitmap && len(in.bitmapSize) > 0 {
		// A bitmap's size cut short: pass it on as it is.
		in.msg = append(in.msg, in.bitmapSize...)
		in.inBitmap = false
	}
	if len(in.msg) == 0 {
		in.stop("the return path ended")
		return nil
	}
	out := in.giveUp(nil, "cut short at its end")
	in.stop("the return path ended")
	_, err := qemu.Write(out)
	return err
}

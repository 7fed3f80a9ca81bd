package prefetch

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
)

// Messages as a destination QEMU sends them.
func rpMsg(typ uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	return append(b, payload...)
}

func pong(v uint32) []byte { return rpMsg(msgPong, binary.BigEndian.AppendUint32(nil, v)) }
func shut() []byte         { return rpMsg(msgShut, make([]byte, 4)) }

func reqPages(start uint64, n uint32) []byte {
	p := binary.BigEndian.AppendUint64(nil, start)
	return rpMsg(msgReqPages, binary.BigEndian.AppendUint32(p, n))
}

// recorded is a return path as a destination sends it in post-copy.
func recorded() []byte {
	return bytes.Join([][]byte{
		pong(1), pong(2),
		reqPagesID("pc.ram", 0x200000, 0x1000),
		reqPages(0x7000, 0x1000), reqPages(0x3000, 0x2000),
		reqPagesID("vga.vram", 0x1000, 0x1000),
		reqPages(0x2000, 0x1000),
		reqPagesID("pc.ram", 0x9000, 0x1000),
		reqPages(0xa000, 0x1000),
		pong(3), shut(),
	}, nil)
}

var testBlocks = []Block{
	{Name: "pc.ram", Used: 64 << 20},
	{Name: "vga.vram", Used: 16 << 20, PageSize: 4096},
	{Name: "mem1", Used: 8 << 20, PageSize: 2 << 20},
}

// syncBuffer is QEMU's socket: written by Write and the injecting goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// traced is an attached Injector that records what it wrote.
type traced struct {
	*Injector
	*Writer
	out  bytes.Buffer
	segs []seg
}

type seg struct {
	kind    segment
	in, out []byte
}

func newTraced(t testing.TB, cfg Config) *traced {
	in, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &traced{Injector: in}
	in.trace = func(k segment, src, b []byte) {
		tr.segs = append(tr.segs, seg{k, bytes.Clone(src), bytes.Clone(b)})
	}
	tr.Writer = in.Attach(&tr.out)
	return tr
}

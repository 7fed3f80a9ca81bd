package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

// chunkConn is a net.Conn whose Reads return the chunks given, one per
// call, then io.EOF; Writes are recorded one by one.
type chunkConn struct {
	net.Conn
	chunks [][]byte
	writes [][]byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

func (c *chunkConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

// record is a TLS record header and body of n bytes of b.
func record(n int, b byte) []byte {
	r := make([]byte, recordHeaderLen+n)
	r[0], r[1], r[2] = 23, 3, 3
	binary.BigEndian.PutUint16(r[3:], uint16(n))
	for i := recordHeaderLen; i < len(r); i++ {
		r[i] = b
	}
	return r
}

// Reads stop at record boundaries, and recordReady says when the next
// record is whole in the buffer.
func TestBatchConnReadsRecordByRecord(t *testing.T) {
	r1, r2, r3 := record(100, 1), record(3000, 2), record(10, 3)
	stream := slicesConcat(r1, r2, r3)
	// One socket read brings r1, r2 and half of r3.
	cut := len(r1) + len(r2) + 7
	c := newBatchConn(&chunkConn{chunks: [][]byte{stream[:cut], stream[cut:]}})
	p := make([]byte, 64<<10)
	n, err := c.Read(p)
	if err != nil || !bytes.Equal(p[:n], r1) {
		t.Fatalf("first read: %d bytes, %v; want record 1 (%d bytes)", n, err, len(r1))
	}
	if !c.recordReady() {
		t.Error("record 2 is buffered whole, recordReady says no")
	}
	n, err = c.Read(p)
	if err != nil || !bytes.Equal(p[:n], r2) {
		t.Fatalf("second read: %d bytes, %v; want record 2 (%d bytes)", n, err, len(r2))
	}
	if c.recordReady() {
		t.Error("record 3 is half buffered, recordReady says yes")
	}
	got, err := readEach(c, p[:4], func([]byte) {}) // small reads
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, r3) {
		t.Errorf("rest: %d bytes, want record 3 (%d bytes)", len(got), len(r3))
	}
}

// A header torn by the end of the stream is returned as it is (TLS then
// reports the short record), then io.EOF.
func TestBatchConnTornHeader(t *testing.T) {
	c := newBatchConn(&chunkConn{chunks: [][]byte{{23, 3}}})
	p := make([]byte, 16)
	if n, err := c.Read(p); n != 2 || err != nil {
		t.Fatalf("read %d, %v; want the 2 bytes", n, err)
	}
	if n, err := c.Read(p); n != 0 || err != io.EOF {
		t.Fatalf("read %d, %v; want io.EOF", n, err)
	}
}

// Writes inside batch leave in one write; outside it, at once.
func TestBatchConnGathersWrites(t *testing.T) {
	cc := &chunkConn{}
	c := newBatchConn(cc)
	c.Write([]byte("hello"))
	n, err := c.batch(func() (int, error) {
		c.Write([]byte("a"))
		c.Write([]byte("b"))
		return 2, nil
	})
	if n != 2 || err != nil {
		t.Fatalf("batch: %d, %v", n, err)
	}
	if len(cc.writes) != 2 || string(cc.writes[0]) != "hello" || string(cc.writes[1]) != "ab" {
		t.Errorf("socket writes %q, want [hello ab]", cc.writes)
	}
}

// gatherCount writes what it read while ready says more can be read at
// once, and everything by the end.
func TestGatherCount(t *testing.T) {
	src := &chunkConn{chunks: [][]byte{[]byte("ab"), []byte("cd"), []byte("ef")}}
	var calls int
	ready := func() bool { calls++; return calls == 1 } // after "ab": more at once; after "cd": no
	var dst chunkConn
	n, err := gatherCount(&dst, src, ready)
	if n != 6 || err != nil {
		t.Fatalf("gatherCount: %d, %v", n, err)
	}
	if len(dst.writes) != 2 || string(dst.writes[0]) != "abcd" || string(dst.writes[1]) != "ef" {
		t.Errorf("writes %q, want [abcd ef]", dst.writes)
	}
	boom := errors.New("boom")
	if _, err := gatherCount(&dst, failReader{boom}, ready); !errors.Is(err, boom) {
		t.Errorf("failing reader: %v, want boom", err)
	}
}

// FuzzBatchConn: whatever the bytes and however the socket splits them,
// batchConn returns them all, in order, and no Read crosses the end of a
// record as the headers frame it.
func FuzzBatchConn(f *testing.F) {
	f.Add(slicesConcat(record(3, 1), record(0, 2), record(70, 3)), uint8(7), uint8(3))
	f.Add([]byte{23, 3, 3, 0xff, 0xff, 1, 2}, uint8(1), uint8(200))
	f.Fuzz(func(t *testing.T, stream []byte, split, readLen uint8) {
		var chunks [][]byte
		for i, k := 0, int(split)+1; i < len(stream); i += k {
			chunks = append(chunks, stream[i:min(i+k, len(stream))])
		}
		c := newBatchConn(&chunkConn{chunks: chunks})
		off, left := 0, 0 // left: of the current record, by our own framing
		got, err := readEach(c, make([]byte, int(readLen)+1), func(b []byte) {
			if len(b) > 0 && left == 0 {
				rest := stream[off:]
				left = len(rest)
				if len(rest) >= recordHeaderLen {
					left = min(left, recordHeaderLen+int(binary.BigEndian.Uint16(rest[3:])))
				}
			}
			if len(b) > left {
				t.Fatalf("read of %d bytes at offset %d crosses a record end %d bytes on", len(b), off, left)
			}
			left -= len(b)
			off += len(b)
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, stream) {
			t.Fatalf("got %d bytes, want the %d written", len(got), len(stream))
		}
	})
}

func slicesConcat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// readEach reads r into p until io.EOF, shows each read to each and
// returns all the bytes read.
func readEach(r io.Reader, p []byte, each func([]byte)) ([]byte, error) {
	var all []byte
	for {
		n, err := r.Read(p)
		each(p[:n])
		all = append(all, p[:n]...)
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return all, err
		}
	}
}

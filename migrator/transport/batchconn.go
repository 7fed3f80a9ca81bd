package transport

import (
	"encoding/binary"
	"net"
	"sync"
)

// batchSize is how much a lane's TCP connection reads, or gathers before
// writing, in one system call. TLS seals and opens 16 KiB records; one
// system call per record was most of the agents' CPU (profiles of a bench
// move: 58-63% in syscalls), each crossing the namespaces' veth and bridge
// as a 16 KiB segment.
const batchSize = 256 << 10

// recordHeaderLen is a TLS record's header: type, version, length (2).
const recordHeaderLen = 5

// batchConn is a lane's TCP connection under TLS.
//
// Reads fill a buffer of batchSize, so one system call brings many
// records, but never return bytes past the end of the record being read:
// TLS then holds no part of the next record, and recordReady tells
// whether its next Read can be served without waiting for the socket.
//
// Writes made inside batch gather until it ends (or batchSize is reached)
// and go out in one write. Outside batch (the handshake, alerts) writes
// pass straight through, so nothing TLS writes ever waits in the buffer.
type batchConn struct {
	net.Conn

	rbuf       []byte
	rpos, rend int
	left       int // bytes of the current record not yet returned; 0: at a record boundary

	mu       sync.Mutex
	batching bool
	wbuf     []byte
}

func newBatchConn(c net.Conn) *batchConn {
	return &batchConn{Conn: c, rbuf: make([]byte, batchSize)}
}

// Read returns buffered bytes up to the end of the current record. It
// reads the socket only when nothing of the record is buffered (or not
// yet its header), as TLS would have without the buffer.
func (c *batchConn) Read(p []byte) (int, error) {
	if c.left == 0 {
		for c.rend-c.rpos < recordHeaderLen {
			if err := c.fill(); err != nil {
				if c.rend > c.rpos {
					break // a torn header: TLS reports it
				}
				return 0, err
			}
		}
		c.left = c.rend - c.rpos
		if c.left >= recordHeaderLen {
			c.left = recordHeaderLen + int(binary.BigEndian.Uint16(c.rbuf[c.rpos+3:]))
		}
	}
	if c.rpos == c.rend {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p[:min(len(p), c.left)], c.rbuf[c.rpos:c.rend])
	c.rpos += n
	c.left -= n
	return n, nil
}

// fill reads the socket once into the free end of the buffer, first
// moving what is buffered to its start.
func (c *batchConn) fill() error {
	if c.rpos > 0 {
		c.rend = copy(c.rbuf, c.rbuf[c.rpos:c.rend])
		c.rpos = 0
	}
	n, err := c.Conn.Read(c.rbuf[c.rend:])
	c.rend += n
	if n > 0 {
		return nil
	}
	return err
}

// recordReady reports whether a whole record is buffered at a record
// boundary: TLS, having returned the previous record, opens it without a
// read from the socket. Call it between Reads of the TLS connection.
func (c *batchConn) recordReady() bool {
	b := c.rbuf[c.rpos:c.rend]
	return c.left == 0 && len(b) >= recordHeaderLen &&
		len(b) >= recordHeaderLen+int(binary.BigEndian.Uint16(b[3:]))
}

// Write gathers p while batching, else writes it at once.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.batching {
		return c.Conn.Write(p)
	}
	c.wbuf = append(c.wbuf, p...)
	if len(c.wbuf) >= batchSize {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// batch runs write (TLS sealing records into c) with writes gathered, and
// writes what is left when it returns.
func (c *batchConn) batch(write func() (int, error)) (int, error) {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
	n, err := write()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching = false
	if ferr := c.flushLocked(); err == nil && ferr != nil {
		err = ferr
	}
	return n, err
}

// flushLocked writes the gathered bytes. A failed write leaves the
// connection broken (TLS cannot resend part of a record), so the bytes are
// dropped either way. Call with mu held.
func (c *batchConn) flushLocked() error {
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	return err
}

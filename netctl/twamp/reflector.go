package twamp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"
)

// DefaultErrorEstimate is what the reflector reports for its timestamps:
// clock not synchronized, error about 1 ms.
var DefaultErrorEstimate = EstimateFor(time.Millisecond, false)

// Reflector is a TWAMP-light Session-Reflector. Its sequence counter is a
// plain in-memory field: it survives a live migration of the process's VM
// and restarts from zero with the process.
type Reflector struct {
	log       *slog.Logger
	ee        ErrorEstimate
	seq       atomic.Uint32
	shared    SeqSource // nil: seq
	work      func(packet []byte)
	reflected atomic.Uint64
}

// SeqSource hands out sequence numbers a reflector shares with another
// (the vnf's in-kernel reflector answers most test packets).
type SeqSource interface {
	TakeSeq() uint32
}

// ShareSeq makes the reflector take its sequence numbers from s. Call it
// before Serve.
func (r *Reflector) ShareSeq(s SeqSource) { r.shared = s }

// SetWork makes the reflector call work with each test packet (the
// sender's, at least SenderHeaderLen octets) after stamping its arrival and
// before answering it: a network function's own per-packet work (the vnf's
// flow-table lookups), whose time shows in the reply's timestamps and in
// the rate the reflector keeps up with. work must not keep packet. Call it
// before Serve.
func (r *Reflector) SetWork(work func(packet []byte)) { r.work = work }

// NewReflector returns a reflector; log may be nil.
func NewReflector(log *slog.Logger) *Reflector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reflector{log: log, ee: DefaultErrorEstimate}
}

// Seq is the sequence number the next reflected packet will carry.
func (r *Reflector) Seq() uint32 { return r.seq.Load() }

// Reflected is the number of test packets answered.
func (r *Reflector) Reflected() uint64 { return r.reflected.Load() }

// Serve reflects test packets arriving on conn until ctx ends, then closes
// conn. Replies carry the TTL (IPv4) or hop limit (IPv6) the test packet
// arrived with and are sent with TTL 255. Packets shorter than a sender
// header are dropped.
func (r *Reflector) Serve(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	defer conn.Close()
	tc, err := newTTLConn(conn)
	if err != nil {
		r.log.Warn("reflector cannot read TTL, reporting 0", "err", err)
	}
	buf := make([]byte, 65536)
	out := make([]byte, 0, 2048)
	for {
		n, ttl, src, err := tc.readFrom(buf)
		rx := NewTimestamp(time.Now())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("reading test packet: %w", err)
			}
			r.log.Debug("reflector read", "err", err)
			continue
		}
		if n < SenderHeaderLen {
			r.log.Debug("dropping test packet", "from", src, "err", ErrShort)
			continue
		}
		if r.work != nil {
			r.work(buf[:n])
		}
		var seq uint32
		if r.shared != nil {
			seq = r.shared.TakeSeq()
		} else {
			seq = r.seq.Load()
		}
		out, err = Reflect(out[:0], buf[:n], seq, rx, NewTimestamp(time.Now()), r.ee, ttl)
		if err != nil {
			r.log.Debug("dropping test packet", "from", src, "err", err)
			continue
		}
		// Count the reply before it leaves: whoever got it and then asks
		// for the status must see it counted (the status query is served
		// by another goroutine, which may run between send and count).
		r.seq.Add(1)
		r.reflected.Add(1)
		if err := tc.writeTo(out, src); err != nil {
			r.log.Debug("reflector write", "to", src, "err", err)
			r.seq.Add(^uint32(0)) // not sent: the number is reused (a shared one is lost)
			r.reflected.Add(^uint64(0))
			continue
		}
	}
}

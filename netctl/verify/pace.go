package verify

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/twamp"
)

// send paces packets on a monotonic schedule: packet k after the schedule's
// base is due at base + k/Rate. A late wake-up sends what is due, at most
// max(maxBurst packets, maxLag); further behind, the backlog is dropped.
func (s *Sender) send(ctx context.Context) {
	defer close(s.sendDone)
	defer pinSender()()
	buf := make([]byte, s.cfg.Size) // padding stays zero
	lag := max(maxBurst*time.Second/time.Duration(s.cfg.Rate), maxLag)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var base time.Duration // since s.start
	var k int64
	var errs, resets int
	for seq := uint32(0); ; {
		now := time.Since(s.start)
		due := base + time.Duration(k*int64(time.Second)/int64(s.cfg.Rate))
		if wait := due - now; wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				s.log.Debug("verify pacer done", "send_errors", errs, "schedule_resets", resets)
				return
			case <-timer.C:
			}
			continue
		}
		if ctx.Err() != nil {
			s.log.Debug("verify pacer done", "send_errors", errs, "schedule_resets", resets)
			return
		}
		if now-due > lag {
			base, k = now, 0
			resets++
		}
		ts := twamp.NewTimestamp(time.Now())
		twamp.AppendSender(buf[:0], twamp.SenderPacket{Seq: seq, Timestamp: ts, ErrorEstimate: twamp.DefaultErrorEstimate})
		s.mu.Lock()
		s.recs = append(s.recs, record{sent: int64(time.Since(s.start))})
		s.mu.Unlock()
		if _, err := s.conn.Write(buf); err != nil {
			// The packet counts as sent (and lost): the traffic saw it fail.
			if errs++; errs <= 3 {
				s.log.Debug("verify send", "seq", seq, "err", err)
			}
		}
		seq++
		k++
	}
}

// receive matches replies to sent packets until the socket is closed.
func (s *Sender) receive() {
	defer close(s.recvDone)
	buf := make([]byte, 65536)
	for {
		n, err := s.conn.Read(buf)
		at := int64(time.Since(s.start))
		if err != nil {
			if isClosed(err) {
				return
			}
			continue // e.g. ECONNREFUSED from an ICMP unreachable
		}
		rp, err := twamp.DecodeReflector(buf[:n])
		if err != nil {
			s.mu.Lock()
			s.strays++
			s.mu.Unlock()
			continue
		}
		s.mu.Lock()
		if int(rp.SenderSeq) >= len(s.recs) {
			s.strays++
			s.mu.Unlock()
			continue
		}
		r := &s.recs[rp.SenderSeq]
		if r.copies == 0 {
			rtt := at - r.sent
			if d := int64(rp.ReflectorDelay()); d > 0 && d < rtt {
				rtt -= d
			}
			r.recv, r.rtt, r.rseq, r.arrival = at, rtt, rp.Seq, s.arrivals
			s.arrivals++
		}
		r.copies++
		s.lastReply = s.now()
		s.mu.Unlock()
	}
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

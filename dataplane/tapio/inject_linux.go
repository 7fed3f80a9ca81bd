package tapio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mdlayher/packet"
	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"golang.org/x/sys/unix"
)

// Injector writes frames into a device, normally a VM's tap, through an
// AF_PACKET socket with PACKET_QDISC_BYPASS: the frames go straight to the
// driver and skip the qdisc layer and the tc/tcx egress hooks, so the
// hand-off program does not capture again what user space re-injects (and
// packet sockets on the device, tcpdump included, do not see them).
//
// Injection is paced for a tap: tun drops frames when its queue (txqueuelen)
// is full, and counts tx_packets when the reader (QEMU) reads a frame. Before
// each write the injector keeps (frames injected − (tx_packets + tx_dropped)
// increase since it opened) below a limit, half the txqueuelen (at least 16),
// waiting while the reader catches up. Other traffic reaching the tap meanwhile
// makes the estimate low, never high, so the limit may be overshot by that
// traffic but the injector never waits for frames that were not its own.
type Injector struct {
	mu       sync.Mutex
	name     string
	ifindex  int
	mtu      int // the device's: larger (GSO) frames are segmented to it
	conn     *packet.Conn
	stats    *statsConn
	base     DevCounters
	consumed uint64 // last seen (tx_packets + tx_dropped) increase
	limit    uint64
	injected uint64
	refused  uint64 // writes refused with the queue full, retried
	pace     pacer
	logger   *slog.Logger
	closed   bool
}

// NewInjector opens an injector into ifname (in the calling thread's network
// namespace).
func NewInjector(ifname string, logger *slog.Logger) (*Injector, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("injector: %w", err)
	}
	sc, err := newStatsConn()
	if err != nil {
		return nil, fmt.Errorf("injector: %w", err)
	}
	base, err := sc.get(ifi.Index, "")
	if err != nil {
		sc.close()
		return nil, fmt.Errorf("injector: %w", err)
	}
	// Protocol 0: the socket receives nothing, it only sends.
	conn, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		sc.close()
		return nil, fmt.Errorf("injector: opening packet socket on %s: %w", ifname, err)
	}
	if err := setQdiscBypass(conn); err != nil {
		conn.Close()
		sc.close()
		return nil, fmt.Errorf("injector: %s: %w", ifname, err)
	}
	in := &Injector{
		name: ifname, ifindex: ifi.Index, mtu: ifi.MTU, conn: conn, stats: sc, base: base,
		limit: injectLimit(base.TxQueueLen), logger: logger,
	}
	logger.Debug("injector open", "dev", ifname, "txqueuelen", base.TxQueueLen, "limit", in.limit)
	return in, nil
}

func setQdiscBypass(conn *packet.Conn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setting PACKET_QDISC_BYPASS: %w", serr)
	}
	return nil
}

// Pace limits injection to rate frames per second on average, after an
// initial burst of up to burst frames (rate 0: no limit but the device's
// queue). A guest that was away for seconds gets its backlog at a rate it
// can take, not all at once: a burst of thousands of frames overflows the
// guest's own queues, where no host counter sees the loss.
func (in *Injector) Pace(rate float64, burst int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.pace = newPacer(rate, burst)
}

// Rate is the current pace (frames/s; 0: unpaced).
func (in *Injector) Rate() float64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.pace.rate
}

// RaiseRate raises the pace to rate if it is paced slower, keeping the
// tokens saved so far.
func (in *Injector) RaiseRate(rate float64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pace.rate > 0 && rate > in.pace.rate {
		in.pace.rate = rate
	}
}

// Limit is the most injected frames allowed to wait unread in the device.
func (in *Injector) Limit() uint64 { return in.limit }

// refresh re-reads the device's counters.
func (in *Injector) refresh() error {
	dc, err := in.stats.get(in.ifindex, "")
	if err != nil {
		return err
	}
	in.consumed = (dc.TxPackets - in.base.TxPackets) + (dc.TxDropped - in.base.TxDropped)
	return nil
}

// outstanding estimates the injected frames not yet read (never negative).
func (in *Injector) outstanding() uint64 {
	if in.consumed >= in.injected {
		return 0
	}
	return in.injected - in.consumed
}

// Inject writes one captured frame, first waiting while too many injected
// frames are unread. A frame larger than the device's MTU (a GSO frame) goes
// as the segments frame.Segment makes of it, each written the same way. A
// frame the device refused (link down, no carrier: the tap's reader is
// gone), or one too large that cannot be segmented, is an error; a refused
// one shows in the device's tx_dropped as well.
func (in *Injector) Inject(ctx context.Context, b []byte) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return errors.New("injector closed")
	}
	if len(b) < 14 || len(b) > frame.MaxCaptured {
		return fmt.Errorf("injecting into %s: frame of %d bytes", in.name, len(b))
	}
	segs, err := frame.Segment(b, in.mtu)
	if err != nil {
		return fmt.Errorf("injecting into %s: %w", in.name, err)
	}
	for _, s := range segs {
		if err := in.injectOne(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// injectOne writes one frame that fits the device (in.mu held).
func (in *Injector) injectOne(ctx context.Context, b []byte) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// consumed only grows, so the estimate is an upper bound: the counters
	// are read only when it reaches the limit.
	for in.outstanding() >= in.limit {
		if err := in.refresh(); err != nil {
			return fmt.Errorf("injecting into %s: %w", in.name, err)
		}
		if in.outstanding() < in.limit {
			break
		}
		if err := wait(ctx, &timer, injectPoll); err != nil {
			return fmt.Errorf("injecting into %s: waiting for the reader: %w", in.name, err)
		}
	}
	for d := in.pace.wait(time.Now()); d != 0; d = in.pace.wait(time.Now()) {
		if err := wait(ctx, &timer, d); err != nil {
			return fmt.Errorf("injecting into %s: pacing: %w", in.name, err)
		}
	}
	var refusedSince time.Time
	for {
		_, err := in.conn.WriteTo(b, &packet.Addr{HardwareAddr: b[0:6]})
		if err == nil {
			break
		}
		if !errors.Is(err, unix.ENOBUFS) {
			return fmt.Errorf("injecting into %s: %w", in.name, err)
		}
		// The tap's queue is full (tun dropped and counted the frame):
		// wait for the reader and send it again.
		in.refused++
		if refusedSince.IsZero() {
			refusedSince = time.Now()
		} else if time.Since(refusedSince) > refusedMax {
			return fmt.Errorf("injecting into %s: queue full for %v: %w", in.name, refusedMax, err)
		}
		if err := wait(ctx, &timer, injectRetry); err != nil {
			return fmt.Errorf("injecting into %s: waiting for room: %w", in.name, err)
		}
	}
	in.injected++
	return nil
}

// wait waits d with *t (made on first use; the caller stops it), or until
// ctx is done.
func wait(ctx context.Context, t **time.Timer, d time.Duration) error {
	if *t == nil {
		*t = time.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-(*t).C:
		return nil
	}
}

// Close closes the socket and reports the frames injected and the device's
// tx_dropped increase since the injector opened.
func (in *Injector) Close() (InjectResult, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return InjectResult{}, errors.New("injector already closed")
	}
	in.closed = true
	res := InjectResult{Injected: in.injected, Refused: in.refused}
	dc, serr := in.stats.get(in.ifindex, "")
	if serr == nil {
		res.TxDropped = dc.TxDropped - in.base.TxDropped
		res.TxDropped -= min(res.TxDropped, in.refused) // sent again
	} else {
		serr = fmt.Errorf("reading %s counters: %w", in.name, serr)
	}
	err := errors.Join(serr, in.conn.Close(), in.stats.close())
	in.logger.Debug("injector closed", "dev", in.name, "injected", res.Injected, "tx_dropped", res.TxDropped)
	return res, err
}

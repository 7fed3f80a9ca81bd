package qmpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/digitalocean/go-qemu/qmp"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// ErrClosed is returned by Execute once the connection has ended.
var ErrClosed = errors.New("qmp connection closed")

// Event is one asynchronous QMP event.
type Event struct {
	Name string         // e.g. "MIGRATION", "STOP"
	Data map[string]any // the event's "data" member (may be nil)
	Time time.Time      // QEMU's timestamp
}

// Monitor is a shared QMP connection.
type Monitor struct {
	ready   chan struct{} // closed once mon and version are set
	mon     qmp.Monitor
	log     *slog.Logger
	version string
	abort   chan struct{} // closed by Close: a pending dial gives up

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool

	done      chan struct{} // closed when the connection has ended
	closeOnce sync.Once
}

// Dial connects to the QMP unix socket at path and does the capabilities
// handshake. It gives up when ctx ends.
func Dial(ctx context.Context, path string, log *slog.Logger) (*Monitor, error) {
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("dialing qmp %s: %w", path, context.DeadlineExceeded)
	}
	for {
		sm, err := qmp.NewSocketMonitor("unix", path, timeout)
		if err != nil {
			return nil, fmt.Errorf("dialing qmp: %w", err)
		}
		m, err := New(ctx, sm, log)
		if errors.Is(err, errOutOfStep) && ctx.Err() == nil {
			if log != nil {
				log.Info("qmp connection out of step after its handshake: connecting again", "err", err)
			}
			continue // a new connection; the race is rare
		}
		return m, err
	}
}

// New wraps an unconnected qmp.Monitor (a SocketMonitor, or a fake in
// tests): it connects, subscribes to events and starts the pump.
func New(ctx context.Context, mon qmp.Monitor, log *slog.Logger) (*Monitor, error) {
	events, err := handshake(ctx, mon)
	if err != nil {
		return nil, err
	}
	m := newMonitor(log)
	m.attach(mon, events)
	return m, nil
}

func newMonitor(log *slog.Logger) *Monitor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{ready: make(chan struct{}), log: log, abort: make(chan struct{}),
		subs: make(map[*subscriber]struct{}), done: make(chan struct{})}
}

// handshake connects mon, giving up when ctx ends, and subscribes to its
// events; mon is disconnected on error.
func handshake(ctx context.Context, mon qmp.Monitor) (<-chan qmp.Event, error) {
	connected := make(chan error, 1)
	go func() { connected <- mon.Connect() }()
	select {
	case err := <-connected:
		if err != nil {
			mon.Disconnect()
			return nil, fmt.Errorf("qmp handshake: %w", err)
		}
	case <-ctx.Done():
		// Closing the connection makes the blocked Connect fail.
		mon.Disconnect()
		<-connected
		return nil, fmt.Errorf("qmp handshake: %w", ctx.Err())
	}
	events, err := mon.Events(context.Background())
	if err != nil {
		mon.Disconnect()
		return nil, fmt.Errorf("qmp events: %w", err)
	}
	if err := inStep(ctx, mon); err != nil {
		mon.Disconnect()
		return nil, err
	}
	return events, nil
}

// errOutOfStep: the connection's replies are one behind its commands.
var errOutOfStep = errors.New("qmp replies out of step with commands")

// syncID marks the handshake's step check.
const syncID = "nfh-sync"

// inStep checks that the next reply is the next command's: go-qemu's
// handshake takes whatever message follows qmp_capabilities for its reply,
// and an event QEMU sends in between (a MIGRATION event from the incoming
// thread, as a post-copy resumes while an agent reconnects) leaves the
// real reply queued, so that every command after would get the reply of
// the one before (query-status answering "postcopy-active"). The check's
// reply echoes its id; a reply without it is that stale one, and the
// connection is dropped for a new one (errOutOfStep).
func inStep(ctx context.Context, mon qmp.Monitor) error {
	type result struct {
		buf []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		buf, err := mon.Run([]byte(`{"execute":"` + qmpcmd.QueryVersion + `","id":"` + syncID + `"}`))
		ch <- result{buf, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		mon.Disconnect() // Run returns once the connection ends
		<-ch
		return fmt.Errorf("qmp handshake: checking replies: %w", ctx.Err())
	}
	if r.err != nil {
		return fmt.Errorf("qmp handshake: checking replies: %w", r.err)
	}
	var reply struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(r.buf, &reply) != nil || reply.ID != syncID {
		return fmt.Errorf("qmp handshake: %w (%.80s)", errOutOfStep, r.buf)
	}
	return nil
}

// attach makes the connected mon m's connection and starts the pump;
// false if m was closed first (mon is disconnected then).
func (m *Monitor) attach(mon qmp.Monitor, events <-chan qmp.Event) bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		mon.Disconnect()
		return false
	}
	m.mon = mon
	if sm, ok := mon.(*qmp.SocketMonitor); ok && sm.Version != nil {
		m.version = sm.Version.String()
	}
	close(m.ready)
	m.mu.Unlock()
	go m.pump(events)
	return true
}

// DialLater returns a Monitor that connects to path in the background, for
// a QEMU that does not answer a handshake now: on the destination of a
// paused post-copy its main thread waits for a page, and QMP's handshake
// runs there. Execute waits for the connection (or its ctx); events flow
// from then on. It tries until connected or Close.
func DialLater(path string, log *slog.Logger) *Monitor {
	m := newMonitor(log)
	go m.dialLater(path)
	return m
}

// laterRetry spaces the attempts of DialLater when the socket refuses.
const laterRetry = time.Second

func (m *Monitor) dialLater(path string) {
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-m.abort:
			cancel()
		case <-m.ready:
		}
	}()
	for ctx.Err() == nil {
		// No deadline: the greeting comes when QEMU's main thread is free.
		sm, err := qmp.NewSocketMonitor("unix", path, 5*time.Second)
		if err == nil {
			var events <-chan qmp.Event
			if events, err = handshake(ctx, sm); err == nil {
				if m.attach(sm, events) {
					m.log.Info("qmp connected", "after", time.Since(start).Round(time.Millisecond))
				}
				return
			}
		}
		m.log.Debug("qmp dial", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(laterRetry):
		}
	}
}

// Version is QEMU's version as announced in the QMP greeting ("" if unknown
// or not connected yet).
func (m *Monitor) Version() string {
	select {
	case <-m.ready:
		return m.version
	default:
		return ""
	}
}

// Done is closed when the connection has ended (QEMU exited or Close).
func (m *Monitor) Done() <-chan struct{} { return m.done }

// Close ends the connection and every event subscription. It is idempotent.
func (m *Monitor) Close() error {
	var err error
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		mon := m.mon
		m.mu.Unlock()
		close(m.abort)
		if mon != nil {
			err = mon.Disconnect()
		}
		m.finish()
	})
	return err
}

// Execute runs the QMP command cmd with args (nil for none) and decodes the
// "return" member into out (nil to discard). A QMP error comes back as an
// error naming the command. If ctx ends first Execute returns ctx.Err();
// the command itself may still complete inside QEMU.
func (m *Monitor) Execute(ctx context.Context, cmd string, args, out any) error {
	select {
	case <-m.ready:
	case <-m.done:
		return fmt.Errorf("qmp %s: %w", cmd, ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("qmp %s: waiting for qemu to take a qmp connection: %w", cmd, ctx.Err())
	}
	select {
	case <-m.done:
		return fmt.Errorf("qmp %s: %w", cmd, ErrClosed)
	default:
	}
	raw, err := json.Marshal(qmp.Command{Execute: cmd, Args: args})
	if err != nil {
		return fmt.Errorf("qmp %s: encoding arguments: %w", cmd, err)
	}
	type result struct {
		buf []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		buf, err := m.mon.Run(raw)
		ch <- result{buf, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return fmt.Errorf("qmp %s: %w", cmd, ctx.Err())
	case <-m.done:
		return fmt.Errorf("qmp %s: %w", cmd, ErrClosed)
	}
	if r.err != nil {
		select {
		case <-m.done:
			return fmt.Errorf("qmp %s: %w", cmd, ErrClosed)
		default:
		}
		return fmt.Errorf("qmp %s: %w", cmd, r.err)
	}
	if out == nil {
		return nil
	}
	var resp struct {
		Return json.RawMessage `json:"return"`
	}
	if err := json.Unmarshal(r.buf, &resp); err != nil {
		return fmt.Errorf("qmp %s: decoding response: %w", cmd, err)
	}
	if len(resp.Return) == 0 {
		return fmt.Errorf("qmp %s: response without return: %.200s", cmd, r.buf)
	}
	if err := json.Unmarshal(resp.Return, out); err != nil {
		return fmt.Errorf("qmp %s: decoding return: %w", cmd, err)
	}
	return nil
}

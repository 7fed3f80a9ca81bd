package qmpx

import (
	"context"
	"sync"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// Events subscribes to QMP events. Every subscriber gets every event that
// arrives after the call, in order; the channel is closed when ctx ends or
// the connection ends. Subscribe before issuing the command whose events
// you wait for. Delivery never blocks the connection: events queue
// (unbounded) until the subscriber reads them.
func (m *Monitor) Events(ctx context.Context) <-chan Event {
	s := &subscriber{out: make(chan Event), wake: make(chan struct{}, 1), quit: make(chan struct{})}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		close(s.out)
		return s.out
	}
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
			m.mu.Lock()
			delete(m.subs, s)
			m.mu.Unlock()
			s.stop()
		case <-s.quit:
		}
	}()
	go s.deliver(ctx)
	return s.out
}

// pump drains go-qemu's single event channel until it closes.
func (m *Monitor) pump(events <-chan qmp.Event) {
	if events == nil { // fakes without events: end only on Close
		return
	}
	for e := range events {
		ev := Event{
			Name: e.Event,
			Data: e.Data,
			Time: time.Unix(e.Timestamp.Seconds, e.Timestamp.Microseconds*1000),
		}
		m.log.Debug("qmp event", "event", ev.Name, "data", ev.Data)
		m.mu.Lock()
		for s := range m.subs {
			s.push(ev)
		}
		m.mu.Unlock()
	}
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.finish()
}

// finish closes done and ends every subscription (once).
func (m *Monitor) finish() {
	m.mu.Lock()
	select {
	case <-m.done:
		m.mu.Unlock()
		return
	default:
	}
	close(m.done)
	subs := m.subs
	m.subs = make(map[*subscriber]struct{})
	m.mu.Unlock()
	for s := range subs {
		s.stop()
	}
}

// subscriber is one Events channel with its own unbounded queue.
type subscriber struct {
	out  chan Event
	wake chan struct{}
	quit chan struct{}
	once sync.Once

	mu    sync.Mutex
	queue []Event
}

func (s *subscriber) push(e Event) {
	s.mu.Lock()
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) stop() { s.once.Do(func() { close(s.quit) }) }

// deliver moves queued events to out until stopped. Events queued before
// the connection ended are still delivered unless ctx has ended.
func (s *subscriber) deliver(ctx context.Context) {
	defer close(s.out)
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, e := range q {
			select {
			case s.out <- e:
			case <-ctx.Done():
				return
			}
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-s.wake:
		case <-s.quit:
			s.mu.Lock()
			rest := s.queue
			s.queue = nil
			s.mu.Unlock()
			for _, e := range rest {
				select {
				case s.out <- e:
				case <-ctx.Done():
					return
				}
			}
			return
		}
	}
}

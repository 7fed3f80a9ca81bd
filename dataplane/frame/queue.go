package frame

import "sync"

// Frame is one frame captured by the programs, in capture order (Seq).
type Frame struct {
	Seq  uint64 // 1-based capture sequence of the VM
	Mode uint8  // mode the frame was captured in
	Data []byte
}

// Queue is a VM's FIFO of captured frames with a bound on the bytes it
// holds. A frame that does not fit is refused and counted, never silently
// lost. Safe for concurrent use.
type Queue struct {
	mu     sync.Mutex
	limit  int64
	items  []Frame
	head   int
	bytes  int64
	high   int64
	drops  uint64
	notify chan struct{}
}

// NewQueue returns an empty queue that holds at most limit bytes.
func NewQueue(limit int64) *Queue {
	return &Queue{limit: limit, notify: make(chan struct{})}
}

// Push appends f; it reports false (and counts a drop) when f would take
// the queue over its byte bound.
func (q *Queue) Push(f Frame) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := int64(len(f.Data))
	if q.bytes+n > q.limit {
		q.drops++
		return false
	}
	q.items = append(q.items, f)
	q.bytes += n
	if q.bytes > q.high {
		q.high = q.bytes
	}
	close(q.notify)
	q.notify = make(chan struct{})
	return true
}

// Pop removes and returns the oldest frame.
func (q *Queue) Pop() (Frame, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return Frame{}, false
	}
	f := q.items[q.head]
	q.items[q.head] = Frame{}
	q.head++
	q.bytes -= int64(len(f.Data))
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	return f, true
}

// Drain removes and returns every queued frame, oldest first.
func (q *Queue) Drain() []Frame {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := append([]Frame(nil), q.items[q.head:]...)
	q.items, q.head, q.bytes = nil, 0, 0
	return out
}

// Wait returns a channel closed by the next Push.
func (q *Queue) Wait() <-chan struct{} { return locked(q, func() chan struct{} { return q.notify }) }

// Len is the number of queued frames.
func (q *Queue) Len() int { return locked(q, func() int { return len(q.items) - q.head }) }

// Bytes is the number of queued bytes.
func (q *Queue) Bytes() int64 { return locked(q, func() int64 { return q.bytes }) }

// HighWater is the most bytes queued at once since the last ResetStats.
func (q *Queue) HighWater() int64 { return locked(q, func() int64 { return q.high }) }

// Drops is the number of frames refused since the last ResetStats.
func (q *Queue) Drops() uint64 { return locked(q, func() uint64 { return q.drops }) }

// locked returns f's result, computed with q locked.
func locked[T any](q *Queue, f func() T) T {
	q.mu.Lock()
	defer q.mu.Unlock()
	return f()
}

// ResetStats starts a new account (high-water mark and drops) from the
// current contents.
func (q *Queue) ResetStats() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.high, q.drops = q.bytes, 0
}

package dataplane

import "sync"

// frame is one frame captured by the programs, in capture order (seq).
type frame struct {
	seq  uint64 // 1-based capture sequence of the VM
	mode uint8  // mode the frame was captured in
	data []byte
}

// queue is a VM's FIFO of captured frames with a bound on the bytes it
// holds. A frame that does not fit is refused and counted, never silently
// lost. Safe for concurrent use.
type queue struct {
	mu     sync.Mutex
	limit  int64
	items  []frame
	head   int
	bytes  int64
	high   int64
	drops  uint64
	notify chan struct{}
}

func newQueue(limit int64) *queue {
	return &queue{limit: limit, notify: make(chan struct{})}
}

// Push appends f; it reports false (and counts a drop) when f would take
// the queue over its byte bound.
func (q *queue) Push(f frame) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := int64(len(f.data))
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
func (q *queue) Pop() (frame, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return frame{}, false
	}
	f := q.items[q.head]
	q.items[q.head] = frame{}
	q.head++
	q.bytes -= int64(len(f.data))
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	return f, true
}

// Drain removes and returns every queued frame, oldest first.
func (q *queue) Drain() []frame {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := append([]frame(nil), q.items[q.head:]...)
	q.items, q.head, q.bytes = nil, 0, 0
	return out
}

// Wait returns a channel closed by the next Push.
func (q *queue) Wait() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.notify
}

// Len is the number of queued frames.
func (q *queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// Bytes is the number of queued bytes.
func (q *queue) Bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// HighWater is the most bytes queued at once since the last ResetStats.
func (q *queue) HighWater() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.high
}

// Drops is the number of frames refused since the last ResetStats.
func (q *queue) Drops() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.drops
}

// ResetStats starts a new account (high-water mark and drops) from the
// current contents.
func (q *queue) ResetStats() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.high, q.drops = q.bytes, 0
}

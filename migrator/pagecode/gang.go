package pagecode

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"
)

// GangID names a gang's content store at the destination.
type GangID [16]byte

// Gang is the source's side of one content store shared by the encoders
// of several channels, e.g. the VMs of a host moving together, so that
// content sent for one goes as a reference for the others.
//
// Each channel is its own stream, and the destination processes the
// streams at their own paces, so one stream's frames may reach the store
// before or after another's. A reference therefore never waits: a stream
// refers to content another stream stored only once the destination has
// acknowledged that stream's frame (Ack), and a slot is overwritten only
// once every other stream's frames that stored or referred to it are
// acknowledged. Within one stream order does it all. Without
// acknowledgements a gang still codes each stream against the content it
// sent itself.
type Gang struct {
	mu    sync.Mutex
	id    GangID
	key   Key
	m     *mirror
	owner []stamp   // per slot: the frame that stored it
	pins  [][]stamp // per slot: the latest frame of each stream that refers to it
	acked map[uint32]uint64
	next  uint32 // the next stream's number

	active int       // encoders of the gang not yet closed
	idle   time.Time // when the last one closed
}

// GangIdle is how long a gang with no stream may be joined again: a
// destination keeps a gang's store StoreLinger after its last stream, and
// the difference covers the two ends' clocks for the same stream (the
// source closes its end first, the destination a little later).
const (
	GangIdle    = 20 * time.Second
	StoreLinger = 60 * time.Second
)

// Stale says whether the gang has had no stream for GangIdle: a new
// migration must not join it, since the destination may have dropped its
// store.
func (g *Gang) Stale() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active == 0 && !g.idle.IsZero() && time.Since(g.idle) > GangIdle
}

// leave ends a stream: forget drops what the destination did not
// acknowledge (the stream broke).
func (g *Gang) leave(stream uint32, broke bool) {
	if broke {
		g.Forget(stream)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.active--; g.active == 0 {
		g.idle = time.Now()
	}
}

// stamp is a stream's page frame: seq counts its page frames from 1.
type stamp struct {
	stream uint32
	seq    uint64
}

// NewGang returns a gang store of slots pages (0: DefaultStoreBytes).
func NewGang(key Key, slots int) (*Gang, error) {
	if slots == 0 {
		slots = DefaultStoreBytes / PageSize
	}
	if slots < minSlots || slots > MaxStoreSlots {
		return nil, fmt.Errorf("store of %d slots (want %d to %d)", slots, minSlots, MaxStoreSlots)
	}
	g := &Gang{key: key, m: newMirror(slots), owner: make([]stamp, slots), pins: make([][]stamp, slots),
		acked: make(map[uint32]uint64)}
	rand.Read(g.id[:])
	return g, nil
}

// Ack records that the destination processed stream's page frames
// through seq.
func (g *Gang) Ack(stream uint32, seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.acked[stream] = max(g.acked[stream], seq)
}

// Forget drops a stream that broke: the frames the destination did not
// acknowledge will never be processed, so what they stored is not there.
func (g *Gang) Forget(stream uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for s := range g.owner {
		if g.m.used[s] && g.owner[s].stream == stream && g.owner[s].seq > g.acked[stream] {
			delete(g.m.index, g.m.names[s])
			g.m.used[s] = false
		}
		g.pins[s] = dropStream(g.pins[s], stream)
	}
}

func dropStream(pins []stamp, stream uint32) []stamp {
	out := pins[:0]
	for _, p := range pins {
		if p.stream != stream {
			out = append(out, p)
		}
	}
	return out
}

func (g *Gang) join() uint32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next++
	g.active++
	return g.next
}

// seen says whether the destination holds what frame s stored, as far as
// stream (whose own frames are in order) may rely on.
func (g *Gang) seen(s stamp, stream uint32) bool {
	return s.stream == stream || g.acked[s.stream] >= s.seq
}

// usable says whether stream may refer to slot.
func (g *Gang) usable(slot int, stream uint32) bool {
	return g.m.used[slot] && g.seen(g.owner[slot], stream)
}

// free says whether stream may overwrite slot: nothing another stream sent
// about it is still on the way.
func (g *Gang) free(slot int, stream uint32) bool {
	if !g.m.used[slot] {
		return true
	}
	if !g.seen(g.owner[slot], stream) {
		return false
	}
	pins := g.pins[slot][:0]
	for _, p := range g.pins[slot] {
		if !g.seen(p, stream) || p.stream == stream {
			pins = append(pins, p) // kept: on the way, or our own
		}
	}
	g.pins[slot] = pins
	for _, p := range pins {
		if p.stream != stream {
			return false
		}
	}
	return true
}

// pin notes that stream's frame seq refers to slot.
func (g *Gang) pin(slot int, at stamp) {
	for i, p := range g.pins[slot] {
		if p.stream == at.stream {
			g.pins[slot][i] = at
			return
		}
	}
	g.pins[slot] = append(g.pins[slot], at)
}

// ref finds content named n that stream may refer to at frame seq.
func (g *Gang) ref(n Name, at stamp) (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	slot, ok := g.m.lookup(n)
	if !ok || !g.usable(slot, at.stream) {
		return 0, false
	}
	g.pin(slot, at)
	return slot, true
}

// base copies the destination's copy of a page (slot, named n) into buf
// if stream may use it as a delta's base.
func (g *Gang) base(slot int, n Name, stream uint32, buf []byte) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.m.holds(slot, n) || !g.usable(slot, stream) {
		return false
	}
	copy(buf, g.m.page(slot))
	return true
}

// store puts page (named n) in a slot stream may overwrite, at frame at,
// never base; withBase says whether base still holds baseName (a delta
// against it may go: it is pinned). slot is -1 when no slot is free: the
// page goes raw.
func (g *Gang) store(n Name, page []byte, at stamp, base int, baseName Name) (slot int, withBase bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	withBase = base >= 0 && g.m.holds(base, baseName) && g.usable(base, at.stream)
	slot = g.m.victim(base, func(s int) bool { return g.free(s, at.stream) })
	if slot < 0 {
		return -1, false
	}
	g.m.put(slot, n, page)
	g.owner[slot], g.pins[slot] = at, g.pins[slot][:0]
	if withBase {
		g.pin(base, at)
	}
	return slot, withBase
}

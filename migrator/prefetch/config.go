package prefetch

import "fmt"

// The defaults of a Config: the one place they are written.
const (
	// DefaultWindow bounds the injected bytes not yet served: a fault
	// queued behind them waits about window/link-rate (1 ms at 1 Gbit/s,
	// 12 ms at 10 MiB/s); two chunks, so one is in flight while the
	// next is asked for.
	DefaultWindow = 2 * DefaultChunkPages * pageWire
	// DefaultChunkPages is the target pages of one injected request.
	DefaultChunkPages = 16
)

// Config tunes an Injector; zero fields take the defaults.
type Config struct {
	// Window is the most injected page bytes (pages × 4104, as they go on
	// the main channel) queued at the source and not yet served.
	Window int64
	// ChunkPages is the target pages one request asks for (a block with
	// larger pages: one of its pages at least).
	ChunkPages int
}

func (c *Config) defaults() {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.ChunkPages == 0 {
		c.ChunkPages = DefaultChunkPages
	}
}

func (c Config) validate() error {
	switch {
	case c.ChunkPages < 1 || c.ChunkPages > 1<<16:
		return fmt.Errorf("prefetch: chunk of %d pages: want 1..65536", c.ChunkPages)
	case c.Window < int64(c.ChunkPages)*pageWire:
		return fmt.Errorf("prefetch: window of %d bytes is less than one chunk (%d pages)", c.Window, c.ChunkPages)
	}
	return nil
}

// Stats is an Injector's account.
type Stats struct {
	Requests  int64            // requests injected
	Pages     int64            // target pages they asked for
	Refused   map[string]int64 // target pages refused by validation, by why
	Rewritten int64            // destination's REQ_PAGES rewritten to name its block
	Planned   int64            // target pages of the valid ranges
	// Sent is the injected pages QEMU sent (the others were there
	// already: not dirty at the source), as the main channel's page
	// records told (Sent).
	Sent int64
	// Clean is the planned pages not asked for: QEMU's discards said
	// they were not to be sent again (there already), or they were sent
	// before injection got to them.
	Clean int64
	// Readahead is the asked pages that followed the destination's
	// sequential requests, ahead of the plan (readahead.go).
	Readahead int64
	Stopped   string // why injection stopped before the end ("": it did not)
	Faults    Faults // the destination's own requests, sorted
}

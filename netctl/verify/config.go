package verify

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/twamp"
)

// Defaults for Config.
const (
	DefaultRate  = 1000 // packets/s
	DefaultSize  = 64   // UDP payload bytes
	DefaultDrain = 500 * time.Millisecond
	// DefaultDrainMax bounds Stop's wait for late replies. After a rollback
	// the dataplane re-injects the frames it buffered at a bounded rate, so
	// thousands of replies may keep arriving for seconds after sending stops.
	DefaultDrainMax = 30 * time.Second
	maxRate         = 100000
	maxSize         = 65507
)

// Config says where and how fast to send test packets. Zero fields take
// the defaults above.
type Config struct {
	Target netip.AddrPort // the reflector, e.g. 198.18.0.100:862
	Rate   int            // packets/s, default 1000
	Size   int            // UDP payload bytes, default 64, at least 14
	Netns  string         // optional: open the socket inside this named netns
	// Drain is how long Stop waits without a new reply before it gives the
	// unanswered packets up as lost (default 500ms). Stop waits while
	// replies keep coming, however late, until every packet is answered or
	// DrainMax has passed.
	Drain time.Duration
	// DrainMax caps Stop's whole wait for late replies (default 30s).
	DrainMax time.Duration
}

func (c *Config) defaults() {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Drain == 0 {
		c.Drain = DefaultDrain
	}
	if c.DrainMax == 0 {
		c.DrainMax = DefaultDrainMax
	}
}

func (c Config) validate() error {
	switch {
	case !c.Target.IsValid() || c.Target.Port() == 0:
		return errors.New("no target address:port")
	case c.Rate < 1 || c.Rate > maxRate:
		return fmt.Errorf("rate %d pps: want 1..%d", c.Rate, maxRate)
	case c.Size < twamp.SenderHeaderLen || c.Size > maxSize:
		return fmt.Errorf("size %d bytes: want %d..%d", c.Size, twamp.SenderHeaderLen, maxSize)
	case c.Drain < 0:
		return fmt.Errorf("drain %v: want >= 0", c.Drain)
	case c.DrainMax < 0:
		return fmt.Errorf("drain max %v: want >= 0", c.DrainMax)
	}
	return nil
}

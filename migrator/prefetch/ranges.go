package prefetch

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseRanges reads "BLOCK:START:LEN[,BLOCK:START:LEN…]", numbers in Go's
// syntax (0x… hex), e.g. "pc.ram:0:0x1000000" (a fixed working set for
// tests; validation happens against QEMU's blocks, in Start).
func ParseRanges(s string) ([]Range, error) {
	var rs []Range
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		i := strings.LastIndex(f, ":")
		j := strings.LastIndex(f[:max(i, 0)], ":")
		if j <= 0 {
			return nil, fmt.Errorf("range %q: want BLOCK:START:LEN", f)
		}
		start, err := strconv.ParseUint(f[j+1:i], 0, 64)
		if err != nil {
			return nil, fmt.Errorf("range %q: start: %w", f, err)
		}
		n, err := strconv.ParseUint(f[i+1:], 0, 64)
		if err != nil {
			return nil, fmt.Errorf("range %q: length: %w", f, err)
		}
		rs = append(rs, Range{Block: f[:j], Start: start, Len: n})
	}
	return rs, nil
}

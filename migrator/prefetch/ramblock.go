package prefetch

import (
	"fmt"
	"strconv"
	"strings"
)

// QueryRAMBlock is QEMU's QMP command listing its RAM blocks (7.0 on):
// its reply is {"human-readable-text": ParseRAMBlocks's input}.
const QueryRAMBlock = "x-query-ramblock"

// RAMBlockText is x-query-ramblock's reply.
type RAMBlockText struct {
	Text string `json:"human-readable-text"`
}

// ParseRAMBlocks reads x-query-ramblock's table (QEMU 7.2's
// ram_block_format: name, page size as "4 KiB", then offset, used and
// total lengths in hex), e.g.
//
//	Block Name    PSize              Offset               Used              Total
//	    pc.ram    4 KiB  0x0000000000000000 0x0000000004000000 0x0000000004000000
func ParseRAMBlocks(text string) ([]Block, error) {
	var blocks []Block
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || i == 0 && f[0] == "Block" {
			continue
		}
		if len(f) < 6 || len(f) > 64 {
			return nil, fmt.Errorf("ram block line %q: want name, page size, offset, used, total", line)
		}
		n := len(f)
		used, err := strconv.ParseUint(strings.TrimPrefix(f[n-2], "0x"), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("ram block line %q: used length: %w", line, err)
		}
		ps, err := parsePageSize(f[n-5], f[n-4])
		if err != nil {
			return nil, fmt.Errorf("ram block line %q: %w", line, err)
		}
		blocks = append(blocks, Block{Name: strings.Join(f[:n-5], " "), Used: used, PageSize: ps})
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("no ram blocks in %q", text)
	}
	return blocks, nil
}

// parsePageSize reads QEMU's size_to_str of a page size ("4 KiB").
func parsePageSize(num, unit string) (uint64, error) {
	v, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("page size %s %s: %w", num, unit, err)
	}
	shift, ok := map[string]uint{"B": 0, "KiB": 10, "MiB": 20, "GiB": 30}[unit]
	if !ok || v == 0 || v<<shift%TargetPage != 0 {
		return 0, fmt.Errorf("page size %s %s", num, unit)
	}
	return v << shift, nil
}

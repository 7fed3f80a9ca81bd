package vnf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
)

// memoryReserveMin is the least the vnf leaves of the guest's available
// memory to the guest kernel (socket buffers, slab growing with traffic)
// when it limits its own; the reserve is an eighth of it when that is more.
const memoryReserveMin = 8 << 20

// LimitMemory sets the Go runtime's soft memory limit to the memory the
// guest has available now (MemAvailable in /proc/meminfo) less a reserve
// for its kernel, unless GOMEMLIMIT sets one. Why: the collector lets the
// heap grow to twice what is live before collecting, and a vnf with a
// 32 MiB working set in a 128 MiB guest (47 MiB available after the kernel
// and the initramfs) grew with its garbage past what was left, and the
// guest's OOM killer ended it. Call it first: what the vnf allocates later
// is not available now. It returns the limit and what was available (both
// 0 when it set none: GOMEMLIMIT, or no /proc/meminfo).
func LimitMemory() (limit, available int64, err error) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, 0, nil
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, nil
	}
	available, err = memAvailable(b)
	if err != nil {
		return 0, 0, err
	}
	limit = available - max(memoryReserveMin, available/8)
	if limit <= 0 {
		return 0, available, fmt.Errorf("%d bytes available: too little to set a memory limit", available)
	}
	debug.SetMemoryLimit(limit)
	return limit, available, nil
}

// memAvailable is the MemAvailable line of /proc/meminfo, in bytes.
func memAvailable(meminfo []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) != 3 || string(f[0]) != "MemAvailable:" || string(f[2]) != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("/proc/meminfo: MemAvailable %q", f[1])
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc/meminfo has no MemAvailable line")
}

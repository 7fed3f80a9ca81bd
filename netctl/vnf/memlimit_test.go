package vnf

import "testing"

func TestMemAvailable(t *testing.T) {
	got, err := memAvailable([]byte("MemTotal:          81644 kB\nMemFree:           41636 kB\nMemAvailable:      47480 kB\nBuffers:               0 kB\n"))
	if err != nil || got != 47480<<10 {
		t.Fatalf("memAvailable = %d, %v; want %d", got, err, 47480<<10)
	}
	for _, bad := range []string{"MemTotal: 1 kB\n", "MemAvailable: -3 kB\n", "MemAvailable: x kB\n", ""} {
		if n, err := memAvailable([]byte(bad)); err == nil {
			t.Errorf("memAvailable(%q) = %d, want an error", bad, n)
		}
	}
}

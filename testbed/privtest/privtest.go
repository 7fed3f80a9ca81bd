package privtest

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/cilium/ebpf"
)

// Unavailable ends tb because something it needs is missing: it skips, or,
// with CI set in the environment, fails, so that a skipped tier can never be
// the reason CI is green (.ci/run sets CI).
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format, args...)
}

// RequireRoot ends tb (see Unavailable) unless it runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Unavailable(tb, "needs root")
	}
}

// RequireCommand ends tb (see Unavailable) unless every command in names
// is on PATH.
func RequireCommand(tb testing.TB, names ...string) {
	tb.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Unavailable(tb, "needs %s", n)
		}
	}
}

// SkipOnOldKernel runs probe and skips tb when it reports that this kernel
// lacks feature (an error wrapping ebpf.ErrNotSupported, as the
// cilium/ebpf/features probes return); any other probe error fails tb.
func SkipOnOldKernel(tb testing.TB, feature string, probe func() error) {
	tb.Helper()
	err := probe()
	if errors.Is(err, ebpf.ErrNotSupported) {
		tb.Skipf("%s not supported by this kernel: %v", feature, err)
	}
	if err != nil {
		tb.Fatalf("probing %s: %v", feature, err)
	}
}

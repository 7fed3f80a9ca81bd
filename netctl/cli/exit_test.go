package cli

import (
	"errors"
	"testing"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), ExitFailure},
		{&ExitError{Code: ExitUsage, Err: errors.New("x")}, ExitUsage},
		{failed(errors.New("x")), ExitFailure},
		{failed(usageErrorf("x")), ExitUsage},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestExitStatus runs this test binary as netctl and checks the process
// exit status for success, failure and usage errors.
func TestExitStatus(t *testing.T) {
	if args, ok := os.LookupEnv("NFH_NETCTL_ARGS"); ok {
		os.Args = append([]string{"netctl"}, strings.Fields(args)...)
		main()
		return
	}
	for args, want := range map[string]int{
		"--help":     0,
		"frobnicate": 2,
		"--host /nonexistent/nfh/api.sock health": 1,
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExitStatus$")
		cmd.Env = append(os.Environ(), "NFH_NETCTL_ARGS="+args, "NFH_RUN_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		got := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("netctl %s: exit status %d, want %d\n%s", args, got, want, out)
		}
	}
}

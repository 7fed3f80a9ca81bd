package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPickNetns stands files in for namespace handles: os.SameFile decides
// "same namespace" for both.
func TestPickNetns(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "self")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := pickNetns(dir, outside); got != "" {
		t.Errorf("without %s: picked %q", clientNetns, got)
	}
	client := filepath.Join(dir, clientNetns)
	hostA := filepath.Join(dir, "nfh-hostA")
	for _, f := range []string{client, hostA} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := pickNetns(dir, outside); got != clientNetns {
		t.Errorf("outside the testbed with %s: picked %q", clientNetns, got)
	}
	if got := pickNetns(dir, client); got != "" {
		t.Errorf("inside %s: picked %q, want netctl's own", clientNetns, got)
	}
	if got := pickNetns(dir, hostA); got != "" {
		t.Errorf("inside nfh-hostA: picked %q, want netctl's own", got)
	}
	if got := pickNetns(dir, filepath.Join(dir, "missing")); got != "" {
		t.Errorf("when our namespace cannot be read: picked %q", got)
	}
}

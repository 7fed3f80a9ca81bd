package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPickNetns(t *testing.T) {
	dir := t.TempDir()
	self, other := filepath.Join(dir, "self"), filepath.Join(dir, "other")
	for _, f := range []string{self, other} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := pickNetns(dir, self, self); got != "" {
		t.Errorf("without %s: picked %q", clientNetns, got)
	}
	if err := os.WriteFile(filepath.Join(dir, clientNetns), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := pickNetns(dir, self, self); got != clientNetns {
		t.Errorf("in the root namespace with %s: picked %q", clientNetns, got)
	}
	if got := pickNetns(dir, self, other); got != "" {
		t.Errorf("outside the root namespace: picked %q", got)
	}
	if got := pickNetns(dir, self, filepath.Join(dir, "missing")); got != "" {
		t.Errorf("when the root namespace cannot be read: picked %q", got)
	}
}

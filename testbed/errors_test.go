package testbed

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// badRequests starts guests that must be refused (fw1 runs already) and
// checks each refusal names the problem and leaves no tap, QEMU or record.
func badRequests(ctx context.Context, t *testing.T, env Env, client *api.Client) {
	t.Helper()
	base := api.VMSpec{Name: "fw2", MAC: "52:54:00:aa:00:02", Address: "198.18.0.102/24", Gateway: gateway}
	broken := "broken-test"
	brokenDir := filepath.Join(env.ImageDir, broken)
	if err := os.MkdirAll(brokenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(brokenDir) })
	// Not a kernel: QEMU refuses to load it and exits at once.
	os.WriteFile(filepath.Join(brokenDir, "vmlinuz"), []byte("not a kernel\n"), 0o644)
	os.WriteFile(filepath.Join(brokenDir, "initrd.img"), []byte("not an initrd\n"), 0o644)

	fw1, err := client.GetVM(ctx, "fw1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		edit    func(*api.VMSpec)
		want    error
		mention string
	}{
		{"duplicate name", func(s *api.VMSpec) { s.Name = "fw1" }, api.ErrExists, "fw1"},
		{"mac in use", func(s *api.VMSpec) { s.MAC = fw1.Spec.MAC }, api.ErrAddressInUse, "fw1"},
		{"ip in use", func(s *api.VMSpec) { s.Address = guestAddr }, api.ErrAddressInUse, "fw1"},
		{"bad spec", func(s *api.VMSpec) { s.Address = "198.18.0.300/24" }, api.ErrInvalidSpec, "address"},
		{"missing image", func(s *api.VMSpec) { s.Image = "nosuchimage" }, api.ErrNoImage, "nosuchimage"},
		{"qemu fails to start", func(s *api.VMSpec) { s.Image = broken }, api.ErrQEMU, "qemu"},
	}
	before := taps(t)
	for _, c := range cases {
		spec := base
		c.edit(&spec)
		_, err := client.StartVM(ctx, spec)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			continue
		}
		if !strings.Contains(strings.ToLower(err.Error()), c.mention) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.mention)
		}
		t.Logf("%s: refused: %v", c.name, err)
		var ae *api.Error
		if c.want == api.ErrQEMU && (!errors.As(err, &ae) || ae.Detail == "") {
			t.Errorf("%s: no QEMU stderr in the error detail: %v", c.name, err)
		}
	}
	vms, err := client.ListVMs(ctx)
	if err != nil || len(vms) != 1 || vms[0].Spec.Name != "fw1" {
		t.Errorf("after refused starts: list %+v (err %v), want only fw1", vms, err)
	}
	if after := taps(t); after != before {
		t.Errorf("taps before %q, after %q: a refused start left a tap", before, after)
	}
	if pids, _ := QEMUProcesses(); len(pids) != 1 {
		t.Errorf("qemu processes %v, want only fw1's", pids)
	}
	if _, err := os.Stat(filepath.Join(env.RunDir, "hostA", "state", "vms", "fw2")); !os.IsNotExist(err) {
		t.Errorf("a refused start left its vm dir")
	}
}

// taps lists the tap links on hostA.
func taps(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", "nfh-hostA", "-o", "link", "show", "type", "tun").CombinedOutput()
	if err != nil {
		t.Fatalf("listing taps: %v: %s", err, out)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			names = append(names, strings.TrimSuffix(f[1], ":"))
		}
	}
	return strings.Join(names, ",")
}

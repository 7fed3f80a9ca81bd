package agent

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
)

var (
	_ Instance = (*vm.Instance)(nil)
	_ detacher = (*vm.Instance)(nil)
	_ tapper   = (*vm.Instance)(nil) // else re-adopted guests go unattached, silently
)

func TestVMRuntimeAdoptGone(t *testing.T) {
	l, err := vm.NewLauncher(vm.Config{StateDir: t.TempDir(), ImageDir: t.TempDir(), Accel: vm.AccelTCG,
		Networks: map[string]string{"dmz": "br-dmz", "core": "nfh-core"}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rt := VMRuntime(l)
	if got := rt.Networks(); !slices.Equal(got, []string{"core", "dmz"}) {
		t.Errorf("networks %q, want the launcher's", got)
	}
	// No pid recorded: the guest cannot be running.
	_, err = rt.Adopt(context.Background(), api.VM{Spec: api.VMSpec{Name: "fw1"}, State: api.StateRunning})
	if !errors.Is(err, ErrGone) || !errors.Is(err, vm.ErrGone) {
		t.Fatalf("adopting a guest without a pid: %v, want ErrGone", err)
	}
	// A missing image is refused before anything is made.
	s := spec("fw1", 1)
	s.Defaults()
	if _, err := rt.Start(context.Background(), s, nil); !errors.Is(err, api.ErrNoImage) {
		t.Fatalf("start without an image: %v, want ErrNoImage", err)
	}
}

package cli

import (
	"net"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestDeriveMAC(t *testing.T) {
	a, b := DeriveMAC("fw1"), DeriveMAC("fw2")
	if a != DeriveMAC("fw1") {
		t.Error("DeriveMAC is not deterministic")
	}
	if a == b {
		t.Errorf("fw1 and fw2 both get %s", a)
	}
	// Golden (FNV-32a("fw1") = 0x7fdfb501): changing the derivation changes every VM's MAC; do it knowingly.
	if want := "52:54:00:df:b5:01"; a != want {
		t.Errorf("DeriveMAC(fw1) = %s, want %s", a, want)
	}
	for _, name := range []string{"fw1", "nat1", "a", "x-very-long-name-0123456789abcde"} {
		m := DeriveMAC(name)
		hw, err := net.ParseMAC(m)
		if err != nil || len(hw) != 6 {
			t.Fatalf("DeriveMAC(%q) = %q: not a MAC (%v)", name, m, err)
		}
		if hw[0]&1 != 0 || hw[0]&2 == 0 {
			t.Errorf("DeriveMAC(%q) = %s: want unicast, locally administered", name, m)
		}
		spec := api.VMSpec{Name: name, MAC: m, Address: "198.18.0.100/24"}
		spec.Defaults()
		if err := spec.Validate(); err != nil {
			t.Errorf("spec with derived MAC: %v", err)
		}
	}
}

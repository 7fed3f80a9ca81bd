package main

import (
	"strings"
	"testing"
)

func TestParsePID(t *testing.T) {
	for in, want := range map[string]int{"1234\n": 1234, " 77 ": 77, "": 0, "x": 0, "1": 0, "-5": 0} {
		got, err := parsePID(in)
		if got != want || (err == nil) != (want != 0) {
			t.Errorf("parsePID(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// --libvirt has guests and methods of its own by default, and refuses
// what only the bench's own topology has.
func TestParseLibvirt(t *testing.T) {
	o, err := parse([]string{"--libvirt"})
	if err != nil {
		t.Fatal(err)
	}
	if g, m := strings.Join(o.guests, ","), strings.Join(o.methods, ","); g != "lvvnf-256M" || m != "libvirt-tcp,libvirt-tls,nfhandoff-libvirt" {
		t.Errorf("--libvirt: guests %s, methods %s", g, m)
	}
	o, err = parse(nil)
	if err != nil || strings.Join(o.methods, ",") != "qemu-tcp,qemu-tls,nfhandoff" || o.libvirt {
		t.Errorf("no flags: methods %v, libvirt %v (%v)", o.methods, o.libvirt, err)
	}
	for _, args := range [][]string{{"--libvirt", "--link-rate", "1gbit"}, {"--libvirt", "--cpu-profile", "x"}} {
		if _, err := parse(args); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	// Every libvirt method is known by its name, and is one.
	for _, name := range strings.Split(defaultMethods[true], ",") {
		found := false
		for _, m := range methods(o) {
			if _, lv := m.(*lvMethod); m.Name() == name {
				found = lv
			}
		}
		if !found {
			t.Errorf("method %s: not a libvirt method", name)
		}
	}
}

package main

import (
	"io"
	"testing"

	"github.com/nfhandoff/nfhandoff/netctl/vnf"
)

// --flow-lookups leaves the reflector as it is: the in-kernel one does
// the lookups too.
func TestParseFlagsFlowLookups(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		lookups int
		kern    vnf.KernelReflectorMode
	}{
		{nil, 0, vnf.KernelReflectorAuto},
		{[]string{"--flow-lookups", "4"}, 4, vnf.KernelReflectorAuto},
		{[]string{"--kernel-reflector", "off", "--flow-lookups", "2"}, 2, vnf.KernelReflectorOff},
	} {
		cfg, _, err := parseFlags(tc.args, io.Discard)
		if err != nil || cfg.FlowLookups != tc.lookups || cfg.KernelReflector != tc.kern {
			t.Errorf("%q: lookups %d, kernel reflector %q, %v; want %d, %q", tc.args, cfg.FlowLookups, cfg.KernelReflector, err, tc.lookups, tc.kern)
		}
	}
}

package main

import (
	"io"
	"testing"

	"github.com/nfhandoff/nfhandoff/netctl/vnf/wsguest"
)

// Reports are on by default (the port the host's QEMU gives the guest);
// "" turns them off.
func TestParseFlagsWSReportPort(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, wsguest.DefaultPort},
		{[]string{"--ws-report-port", wsguest.DefaultPort}, wsguest.DefaultPort},
		{[]string{"--ws-report-port="}, ""},
		{[]string{"--ws-report-port", "org.example.ws"}, "org.example.ws"},
	} {
		cfg, _, err := parseFlags(tc.args, io.Discard)
		if err != nil || cfg.WSReportPort != tc.want {
			t.Errorf("%q: port %q, %v; want %q", tc.args, cfg.WSReportPort, err, tc.want)
		}
	}
}

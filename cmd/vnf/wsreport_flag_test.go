package main

import (
	"io"
	"testing"

	"github.com/nfhandoff/nfhandoff/netctl/vnf/wsguest"
)

// Reports are off by default (see the flag); a name turns them on.
func TestParseFlagsWSReportPort(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
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

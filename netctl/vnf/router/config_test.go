package router

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Config
		wantErr string
	}{
		{in: "eth0:eth1", want: Config{In: "eth0", Out: "eth1"}},
		{in: "eth0,eth1", want: Config{In: "eth0", Out: "eth1"}},
		{in: "ens3:eth1.100", want: Config{In: "ens3", Out: "eth1.100"}},
		{in: "eth0", wantErr: "want IN:OUT"},
		{in: "", wantErr: "want IN:OUT"},
		{in: ":eth1", wantErr: "access interface: empty name"},
		{in: "eth0:", wantErr: "core interface: empty name"},
		{in: "eth0:eth0", wantErr: "both"},
		{in: "eth0:eth1:eth2", wantErr: "not allowed"},
		{in: "eth0,eth1,eth2", wantErr: "not allowed"},
		{in: "eth0:a234567890123456", wantErr: "longer than 15"},
		{in: `eth0:e"1`, wantErr: "not allowed"},
		{in: "..:eth1", wantErr: "not a name"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if !got.Enabled() {
			t.Errorf("Parse(%q) not enabled", tt.in)
		}
	}
	if (Config{}).Enabled() {
		t.Error("the zero Config is a router")
	}
}

func TestSetDefaults(t *testing.T) {
	c := Config{In: "eth0", Out: "eth1", Nft: "/sbin/nft"}
	c.setDefaults()
	want := Config{In: "eth0", Out: "eth1", ModuleList: DefaultModuleList, ModuleDir: DefaultModuleDir,
		Nft: "/sbin/nft", ProcSys: DefaultProcSys}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}

package main

import (
	"bytes"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/session"
)

func TestParseFlagsDefaults(t *testing.T) {
	t.Setenv("NFH_RUN_DIR", "/tmp/nfhrun")
	o, err := parseFlags([]string{"--name", "hostA"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := options{name: "hostA", api: "/tmp/nfhrun/hostA/api.sock", stateDir: "/var/lib/nfhandoff/hostA",
		imageDir: "/var/lib/nfhandoff/images", bridge: "nfh-br", qemu: "qemu-system-x86_64", accel: "auto",
		accelCache: "/var/cache/nfhandoff/accel.json", logLevel: "info", logFormat: "text", libvirtRunDir: "/run/libvirt",
		handoff: handoffOptions{pinDir: "/sys/fs/bpf/nfhandoff/hostA", tunnelDev: "nfhvx0", ringBytes: 8 << 20,
			bufferBytes: 64 << 20, garpCount: 5, garpInterval: 20 * time.Millisecond, forwardGrace: 10 * time.Second,
			replayBurst: 256}}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("got %+v\nwant %+v", o, want)
	}
	t.Setenv("NFH_RUN_DIR", "")
	if o, _ := parseFlags([]string{"-name=hostB"}, io.Discard); o.api != "/run/nfhandoff/hostB/api.sock" {
		t.Fatalf("api default without NFH_RUN_DIR: %s", o.api)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--name", "a/b"},
		{"--name", "hostA", "extra"},
		{"--nosuch"},
		{"--name", "hostA", "--quic-listen", "198.18.0.11:7443"},
		{"--name", "hostA", "--ca", "ca.pem", "--cert", "a.pem", "--key", "a-key.pem", "--peers", "peers"},
		{"--name", "hostA", "--ring-bytes", "5000"},
		{"--name", "hostA", "--buffer-bytes", "lots"},
		{"--name", "hostA", "--buffer-bytes", "0"},
		{"--name", "hostA", "--garp-count", "-1"},
		{"--name", "hostA", "--replay-rate", "-5"},
		{"--name", "hostA", "--replay-burst", "0"},
		{"--name", "hostA", "--debug-switchover-delay", "-1s"},
		{"--name", "hostA", "--network", "core"},
		{"--name", "hostA", "--network", "Core=nfh-core"},
		{"--name", "hostA", "--network", "core=a-very-long-bridge"},
		{"--name", "hostA", "--network", "core="},
		{"--name", "hostA", "--network", "=nfh-core"},
		{"--name", "hostA", "--network", "core=nfh-core", "--network", "core=nfh-core2"},
		{"--name", "hostA", "--network", "core=nfh-core,"},
		{"--name", "hostA", "--network", "core=nfh-core,a-very-long-uplink"},
		{"--name", "hostA", "--libvirt-uri", "qemu+tls://198.18.0.12/system"}, // without --libvirt-socket
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if o, err := parseFlags([]string{"--name", "hostA", "--libvirt-socket", "/run/libvirt/libvirt-sock",
		"--libvirt-uri", "qemu+tls://198.18.0.12/system"}, io.Discard); err != nil || o.libvirtURI != "qemu+tls://198.18.0.12/system" {
		t.Errorf("--libvirt-uri with --libvirt-socket: %+v, %v", o, err)
	}
	if o, err := parseFlags([]string{"--version"}, io.Discard); err != nil || !o.version {
		t.Errorf("--version without --name: %+v, %v", o, err)
	}
}

// --network NAME=BRIDGE[,UPLINK] repeats, one per further host network.
func TestParseFlagsNetworks(t *testing.T) {
	o, err := parseFlags([]string{"--name", "hostA", "--network", "core=nfh-core,nfh-cup", "--network=dmz=br-dmz"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"core": "nfh-core", "dmz": "br-dmz"}; !reflect.DeepEqual(o.networks, want) {
		t.Errorf("networks %v, want %v", o.networks, want)
	}
	if want := map[string]string{"core": "nfh-cup"}; !reflect.DeepEqual(o.handoff.networkUplinks, want) {
		t.Errorf("uplinks %v, want %v", o.handoff.networkUplinks, want)
	}
	if c := o.handoff.dataplaneConfig(slogDiscard()); c.NetworkUplinks["core"] != "nfh-cup" {
		t.Errorf("dataplane uplinks %v", c.NetworkUplinks)
	}
	if s := (networksValue{&o.networks, &o.handoff.networkUplinks}).String(); s != "core=nfh-core,nfh-cup dmz=br-dmz" {
		t.Errorf("String() = %q", s)
	}
	var b bytes.Buffer
	parseFlags([]string{"--help"}, &b)
	if !strings.Contains(b.String(), "-network NAME=BRIDGE[,UPLINK]") {
		t.Errorf("--help lacks --network:\n%s", b.String())
	}
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	log, err := newLogger(&b, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	if s := b.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Fatalf("log output %q", s)
	}
	if _, err := newLogger(&b, "loud", "text"); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := newLogger(&b, "info", "xml"); err == nil {
		t.Error("bad format accepted")
	}
}

func TestParseFlagsQUIC(t *testing.T) {
	o, err := parseFlags([]string{"--name", "hostA", "--quic-listen", "198.18.0.11:7443", "--peers", "p",
		"--ca", "ca.pem", "--cert", "a.pem", "--key", "a-key.pem"}, io.Discard)
	if err != nil || o.quicListen != "198.18.0.11:7443" || o.key != "a-key.pem" {
		t.Fatalf("%+v %v", o, err)
	}
	_, err = parseFlags([]string{"--name", "hostA", "--quic-listen", "x:1", "--cert", "a.pem"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "without --peers, --ca, --key") {
		t.Fatalf("partial quic flags: %v", err)
	}
}

func TestParseFlagsHandoff(t *testing.T) {
	o, err := parseFlags([]string{"--name", "hostA", "--uplink", "nfh-up", "--bpf-pin-dir", "/run/x/bpffs/hostA",
		"--buffer-bytes", "4096", "--ring-bytes", "1MiB", "--garp-count", "3", "--garp-interval", "10ms",
		"--forward-grace", "2s", "--tunnel-dev", "vx1", "--debug-switchover-delay", "300ms", "--no-dataplane",
		"--debug-store-fail-writes-after-arrival",
		"--replay-rate", "2500", "--replay-burst", "64"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := handoffOptions{noDataplane: true, uplink: "nfh-up", pinDir: "/run/x/bpffs/hostA", tunnelDev: "vx1",
		ringBytes: 1 << 20, bufferBytes: 4096, garpCount: 3, garpInterval: 10 * time.Millisecond,
		forwardGrace: 2 * time.Second, replayRate: 2500, replayBurst: 64}
	if !reflect.DeepEqual(o.handoff, want) {
		t.Fatalf("got %+v\nwant %+v", o.handoff, want)
	}
	if o.debug != (session.Debug{SwitchoverDelay: 300 * time.Millisecond}) || !o.debugStoreFailAfterArrival {
		t.Errorf("debug knobs %+v, store fails after an arrival: %v", o.debug, o.debugStoreFailAfterArrival)
	}
	c := o.handoff.dataplaneConfig(slogDiscard())
	if c.PinDir != want.pinDir || c.Uplink != "nfh-up" || c.QueueBytes != 4096 || c.RingBytes != 1<<20 ||
		c.GARPCount != 3 || c.ForwardGrace != 2*time.Second || c.TunnelDev != "vx1" {
		t.Errorf("dataplane config %+v", c)
	}
}

// --help lists the dataplane's flags (the testbed looks for
// --bpf-pin-dir) but not the test knob.
func TestHelpHidesDebugFlags(t *testing.T) {
	var b bytes.Buffer
	parseFlags([]string{"--help"}, &b)
	help := b.String()
	for _, f := range []string{"-bpf-pin-dir", "-uplink", "-buffer-bytes", "-no-dataplane", "-garp-interval", "-forward-grace", "-replay-rate", "-replay-burst"} {
		if !strings.Contains(help, f) {
			t.Errorf("--help lacks %s:\n%s", f, help)
		}
	}
	if strings.Contains(help, "debug-") {
		t.Errorf("--help shows a hidden test knob:\n%s", help)
	}
	if !strings.Contains(help, "(default 64MiB)") {
		t.Errorf("--help lacks --buffer-bytes' default:\n%s", help)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "64K": 64 << 10, "64KiB": 64 << 10, "8M": 8 << 20, "8MiB": 8 << 20,
		"1GiB": 1 << 30, "512B": 512} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5M", "M", "1TiB", "99999999999G"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestParseFlagsDefaults(t *testing.T) {
	t.Setenv("NFH_RUN_DIR", "/tmp/nfhrun")
	o, err := parseFlags([]string{"--name", "hostA"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := options{name: "hostA", api: "/tmp/nfhrun/hostA/api.sock", stateDir: "/var/lib/nfhandoff/hostA",
		imageDir: "/var/lib/nfhandoff/images", bridge: "nfh-br", qemu: "qemu-system-x86_64", accel: "auto",
		accelCache: "/var/cache/nfhandoff/accel.json", logLevel: "info", logFormat: "text"}
	if o != want {
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
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if o, err := parseFlags([]string{"--version"}, io.Discard); err != nil || !o.version {
		t.Errorf("--version without --name: %+v, %v", o, err)
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

package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/vnf"
)

func TestParseFlagsFromKernelCmdline(t *testing.T) {
	// The initramfs splits nfh.vnf=--wss,64,--dirty-rate,2 at the commas.
	args := strings.Split("--wss,64,--dirty-rate,2,--fill,pattern,--status-port,19862,--listen,127.0.0.1,--log-level,debug", ",")
	cfg, log, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WSSMB != 64 || cfg.DirtyRate != 2 || cfg.Fill != vnf.FillPattern || log == nil {
		t.Fatalf("cfg %+v", cfg)
	}
	if cfg.StatusAddr != "127.0.0.1:19862" || cfg.TWAMPAddr != "127.0.0.1:862" || cfg.EchoAddr != "127.0.0.1:7" {
		t.Fatalf("addrs %s %s %s", cfg.TWAMPAddr, cfg.EchoAddr, cfg.StatusAddr)
	}
	if cfg.VerifyRate != vnf.DefaultVerifyRate || cfg.VerifyPass != vnf.DefaultVerifyPass {
		t.Fatalf("verify defaults %v %v", cfg.VerifyRate, cfg.VerifyPass)
	}
	if cfg.KernelReflector != vnf.KernelReflectorAuto {
		t.Fatalf("kernel reflector %q by default, want auto", cfg.KernelReflector)
	}
	for flag, want := range map[string]vnf.KernelReflectorMode{"on": vnf.KernelReflectorOn, "off": vnf.KernelReflectorOff} {
		cfg, _, err := parseFlags([]string{"--kernel-reflector", flag}, io.Discard)
		if err != nil || cfg.KernelReflector != want {
			t.Errorf("--kernel-reflector %s: %q, %v", flag, cfg.KernelReflector, err)
		}
	}
}

func TestParseFlagsExplicitZeroes(t *testing.T) {
	cfg, _, err := parseFlags([]string{"--verify-rate", "0", "--verify-pass", "0s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.VerifyRate >= 0 || cfg.VerifyPass != time.Nanosecond {
		t.Fatalf("verify-rate %v verify-pass %v: zero must mean off / no minimum", cfg.VerifyRate, cfg.VerifyPass)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--fill", "ones"},
		{"--log-level", "loud"},
		{"--wss", "x"},
		{"--kernel-reflector", "xdp"},
		{"stray"},
	} {
		if _, _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

package main

import (
	"os"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// A command name with a space and a parenthesis, as the kernel prints it.
	line := "4242 (qemu (x) 86) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 30 12 20 0 5 0 999 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	got, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := (procTimes{Self: 1750 * time.Millisecond, Reaped: 420 * time.Millisecond}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "1 (x S 1", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u 0 0 0 0"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := readProcTimes(os.Getpid()); err != nil {
		t.Fatalf("own stat: %v", err)
	}
}

func TestParseMachineCPU(t *testing.T) {
	got, err := parseMachineCPU("cpu  200 10 100 3000 5 1 40 7 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	if err != nil {
		t.Fatal(err)
	}
	s := time.Second / userHZ
	if want := (MachineCPU{Busy: 351 * s, Idle: 3005 * s, Steal: 7 * s}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "cpu 1 2 3", "intr 1 2 3 4 5 6 7 8", "cpu 1 2 3 4 5 6 7 x"} {
		if _, err := parseMachineCPU(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := readMachineCPU(); err != nil {
		t.Error(err)
	}
}

func TestParseSchedstat(t *testing.T) {
	if w, err := parseSchedstat("4425747 3739017 9\n"); err != nil || w != 3739017 {
		t.Errorf("got %v, %v; want 3739017ns", w, err)
	}
	for _, bad := range []string{"", "1", "1 x 2"} {
		if _, err := parseSchedstat(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := readRunWait(os.Getpid()); err != nil {
		t.Error(err)
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPU is the processor time (user + system) one move cost each process
// that carried it, from the request until the guest ran at the
// destination. Agents are zero for the plain methods, the libvirt daemons
// for every method but the libvirt ones.
type CPU struct {
	SrcQEMU   time.Duration `json:"src_qemu_ns"`
	DstQEMU   time.Duration `json:"dst_qemu_ns"`
	SrcAgent  time.Duration `json:"src_agent_ns"`
	DstAgent  time.Duration `json:"dst_agent_ns"`
	SrcDaemon time.Duration `json:"src_libvirtd_ns,omitempty"`
	DstDaemon time.Duration `json:"dst_libvirtd_ns,omitempty"`
	// The agents' threads' time runnable but waiting for a processor
	// (schedstat), not CPU time: what the scheduler held them back.
	SrcAgentWait time.Duration `json:"src_agent_wait_ns"`
	DstAgentWait time.Duration `json:"dst_agent_wait_ns"`
}

// Total is the CPU time of every process of the move.
func (c CPU) Total() time.Duration {
	return c.SrcQEMU + c.DstQEMU + c.SrcAgent + c.DstAgent + c.SrcDaemon + c.DstDaemon
}

// userHZ is the unit of /proc/PID/stat's times (USER_HZ, 100 on every
// architecture Go runs Linux on but alpha).
const userHZ = 100

// procTimes is one /proc/PID/stat reading: the process's own CPU time and
// that of its children it has waited for (an agent's QEMU that quit).
type procTimes struct {
	Self, Reaped time.Duration
}

// readProcTimes reads pid's CPU times.
func readProcTimes(pid int) (procTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procTimes{}, err
	}
	return parseProcStat(string(b))
}

// parseProcStat reads utime, stime, cutime and cstime (fields 14-17) from
// a /proc/PID/stat line; the command name (field 2) may hold spaces and
// parentheses, so fields are counted from its last ')'.
func parseProcStat(s string) (procTimes, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procTimes{}, fmt.Errorf("proc stat %q: no command name", s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 15 {
		return procTimes{}, fmt.Errorf("proc stat: %d fields after the command name, want at least 15", len(f))
	}
	var t [4]time.Duration
	for k := range t {
		v, err := strconv.ParseUint(f[11+k], 10, 64)
		if err != nil {
			return procTimes{}, fmt.Errorf("proc stat field %d: %w", 14+k, err)
		}
		t[k] = time.Duration(v) * time.Second / userHZ
	}
	return procTimes{Self: t[0] + t[1], Reaped: t[2] + t[3]}, nil
}

// plus is c and d added, process by process.
func (c CPU) plus(d CPU) CPU {
	return CPU{SrcQEMU: c.SrcQEMU + d.SrcQEMU, DstQEMU: c.DstQEMU + d.DstQEMU,
		SrcAgent: c.SrcAgent + d.SrcAgent, DstAgent: c.DstAgent + d.DstAgent,
		SrcDaemon: c.SrcDaemon + d.SrcDaemon, DstDaemon: c.DstDaemon + d.DstDaemon,
		SrcAgentWait: c.SrcAgentWait + d.SrcAgentWait, DstAgentWait: c.DstAgentWait + d.DstAgentWait}
}

// readRunWait is how long pid's threads have been runnable but waiting
// for a processor, summed over the threads alive now
// (/proc/PID/task/*/schedstat: run, wait, timeslices, in ns).
func readRunWait(pid int) (time.Duration, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("schedstat of %d: no threads (%v)", pid, err)
	}
	var sum time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		w, err := parseSchedstat(string(b))
		if err != nil {
			return 0, err
		}
		sum += w
	}
	return sum, nil
}

// parseSchedstat reads the wait (the second field) of a schedstat line.
func parseSchedstat(s string) (time.Duration, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, fmt.Errorf("schedstat %q: want run, wait and timeslices", s)
	}
	v, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("schedstat wait: %w", err)
	}
	return time.Duration(v), nil
}

// MachineCPU is what the whole machine's processors did over an interval,
// summed over them (/proc/stat): busy (user, nice, system, irq and softirq,
// whoever it was for), idle (with iowait) and stolen by the hypervisor of
// this VM.
type MachineCPU struct {
	Busy  time.Duration `json:"busy_ns"`
	Idle  time.Duration `json:"idle_ns"`
	Steal time.Duration `json:"steal_ns"`
}

// readMachineCPU reads the machine's processor times so far.
func readMachineCPU() (MachineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, err
	}
	return parseMachineCPU(string(b))
}

// parseMachineCPU reads /proc/stat's first line: cpu user nice system
// idle iowait irq softirq steal ...
func parseMachineCPU(s string) (MachineCPU, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return MachineCPU{}, fmt.Errorf("proc stat: first line %q, want cpu and at least 8 times", line)
	}
	var t [8]time.Duration
	for k := range t {
		v, err := strconv.ParseUint(f[1+k], 10, 64)
		if err != nil {
			return MachineCPU{}, fmt.Errorf("proc stat cpu field %d: %w", 1+k, err)
		}
		t[k] = time.Duration(v) * time.Second / userHZ
	}
	return MachineCPU{Busy: t[0] + t[1] + t[2] + t[5] + t[6], Idle: t[3] + t[4], Steal: t[7]}, nil
}

// since is m minus an earlier reading.
func (m MachineCPU) since(m0 MachineCPU) MachineCPU {
	return MachineCPU{Busy: m.Busy - m0.Busy, Idle: m.Idle - m0.Idle, Steal: m.Steal - m0.Steal}
}

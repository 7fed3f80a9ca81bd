package main

import (
	"fmt"
	"time"
)

// lvCPU is what the processes of a libvirt move had used at its start:
// the source QEMU (watched until libvirt takes it down), both hosts'
// libvirtd and, for nfhandoff-libvirt, both agents.
type lvCPU struct {
	src     *procWatch
	src0    procTimes
	daemons [2]int // source's, destination's
	d0      [2]procTimes
	agents  [2]int // 0: no agents in the move
	a0      [2]procTimes
}

// cpuStart reads the CPU times of domain's move from host from to to.
func (m *lvMethod) cpuStart(from, to, domain string) (lvCPU, error) {
	var c lvCPU
	pid, err := m.qemuPID(from, domain)
	if err != nil {
		return c, fmt.Errorf("source qemu: %w", err)
	}
	if c.src0, err = readProcTimes(pid); err != nil {
		return c, fmt.Errorf("source qemu %d's cpu time: %w", pid, err)
	}
	c.src = watchProc(pid)
	for i, h := range []string{from, to} {
		if c.daemons[i], err = m.daemonPID(h); err == nil {
			c.d0[i], err = readProcTimes(c.daemons[i])
		}
		if err == nil && m.agents {
			if c.agents[i], err = m.agentPID(h); err == nil {
				c.a0[i], err = readProcTimes(c.agents[i])
			}
		}
		if err != nil {
			c.src.stop()
			return c, fmt.Errorf("%s's cpu times: %w", h, err)
		}
	}
	return c, nil
}

// end is the move's CPU time, with the destination QEMU (started within
// the move) at dstPID (0: the move failed, only the watch is stopped).
// The source QEMU's is up to its last reading (procWatchEvery before it
// ended at the latest).
func (c lvCPU) end(dstPID int) (CPU, error) {
	last, _ := c.src.stop()
	if dstPID == 0 {
		return CPU{}, nil
	}
	cpu := CPU{SrcQEMU: last.Self - c.src0.Self}
	d, err := readProcTimes(dstPID)
	if err != nil {
		return CPU{}, fmt.Errorf("destination qemu's cpu time: %w", err)
	}
	cpu.DstQEMU = d.Self
	if cpu.SrcDaemon, cpu.DstDaemon, err = since(c.daemons, c.d0, "libvirtd"); err != nil {
		return CPU{}, err
	}
	if cpu.SrcAgent, cpu.DstAgent, err = since(c.agents, c.a0, "migratord"); err != nil {
		return CPU{}, err
	}
	return cpu, nil
}

// since is the CPU time the source's and the destination's process of a
// kind (pids; 0: none) used since their readings at the start.
func since(pids [2]int, start [2]procTimes, kind string) (src, dst time.Duration, err error) {
	var used [2]time.Duration
	for i, pid := range pids {
		if pid == 0 {
			continue
		}
		p, err := readProcTimes(pid)
		if err != nil {
			return 0, 0, fmt.Errorf("%s %d's cpu time: %w", kind, pid, err)
		}
		used[i] = p.Self - start[i].Self
	}
	return used[0], used[1], nil
}

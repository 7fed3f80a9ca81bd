package main

import (
	"context"
	"fmt"
	"time"
)

// agentCPU is what the processes of an agent move (or gang) had used at
// its start.
type agentCPU struct {
	src, dst *agent
	srcPIDs  []int // the source QEMUs
	a, b     procTimes
	qemus    []procTimes
	aw, bw   time.Duration // the agents' run-queue waits
}

// cpuStart reads the agents' and the source QEMUs' CPU times before a move
// of the guests named.
func (n *nfhandoff) cpuStart(ctx context.Context, src, dst *agent, names []string) (agentCPU, error) {
	c := agentCPU{src: src, dst: dst}
	for _, name := range names {
		v, err := src.client.GetVM(ctx, name)
		if err != nil {
			return agentCPU{}, fmt.Errorf("%s on %s: %w", name, src.host.Name, err)
		}
		c.srcPIDs = append(c.srcPIDs, v.PID)
	}
	var err error
	if c.a, err = readProcTimes(src.cmd.Process.Pid); err == nil {
		c.b, err = readProcTimes(dst.cmd.Process.Pid)
	}
	if err == nil {
		c.aw, c.bw, err = agentWaits(src, dst)
	}
	for _, pid := range c.srcPIDs {
		if err != nil {
			break
		}
		var q procTimes
		q, err = readProcTimes(pid)
		c.qemus = append(c.qemus, q)
	}
	if err != nil {
		return agentCPU{}, fmt.Errorf("cpu times before the move: %w", err)
	}
	return c, nil
}

// end is the move's CPU time, with the destination QEMUs (started by
// their agent within the move) at dstPIDs. The source agent has quit and
// reaped its QEMUs: the whole life of one gone is in that agent's reaped
// time.
func (c agentCPU) end(dstPIDs []int) (CPU, error) {
	// The source QEMUs first: one reaped after this read is counted here;
	// one gone before it is in the agent's reaped time read next.
	var cpu CPU
	var gone []procTimes
	for i, pid := range c.srcPIDs {
		if q, err := readProcTimes(pid); err == nil {
			cpu.SrcQEMU += q.Self - c.qemus[i].Self
		} else {
			gone = append(gone, c.qemus[i])
		}
	}
	a, err := readProcTimes(c.src.cmd.Process.Pid)
	if err != nil {
		return CPU{}, fmt.Errorf("source agent's cpu time: %w", err)
	}
	b, err := readProcTimes(c.dst.cmd.Process.Pid)
	if err != nil {
		return CPU{}, fmt.Errorf("destination agent's cpu time: %w", err)
	}
	cpu.SrcAgent, cpu.DstAgent = a.Self-c.a.Self, b.Self-c.b.Self
	if len(gone) > 0 {
		cpu.SrcQEMU += a.Reaped - c.a.Reaped
		for _, q := range gone {
			cpu.SrcQEMU -= q.Self
		}
	}
	aw, bw, err := agentWaits(c.src, c.dst)
	if err != nil {
		return CPU{}, err
	}
	cpu.SrcAgentWait, cpu.DstAgentWait = aw-c.aw, bw-c.bw
	for _, pid := range dstPIDs {
		d, err := readProcTimes(pid)
		if err != nil {
			return CPU{}, fmt.Errorf("destination qemu's cpu time: %w", err)
		}
		cpu.DstQEMU += d.Self
	}
	return cpu, nil
}

// agentWaits reads both agents' run-queue waits.
func agentWaits(src, dst *agent) (time.Duration, time.Duration, error) {
	a, err := readRunWait(src.cmd.Process.Pid)
	if err != nil {
		return 0, 0, fmt.Errorf("source agent's wait: %w", err)
	}
	b, err := readRunWait(dst.cmd.Process.Pid)
	if err != nil {
		return 0, 0, fmt.Errorf("destination agent's wait: %w", err)
	}
	return a, b, nil
}

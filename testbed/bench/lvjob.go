package main

// libvirt's own account of a migration: the completed job's statistics,
// as the destination's daemon keeps them (the source's domain is gone).

import (
	"fmt"
	"io"
	"slices"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// LibvirtJob is a completed migration job's statistics (virsh domjobinfo
// --completed): libvirt's, for every libvirt method.
type LibvirtJob struct {
	// Elapsed is libvirt's time from the job's start to its end.
	Elapsed time.Duration `json:"time_elapsed_ns"`
	// Downtime is libvirt's: from the source's stop of the guest to its
	// resume at the destination (a guest the migration left paused:
	// until the destination's finish).
	Downtime time.Duration `json:"downtime_ns"`
	Setup    time.Duration `json:"setup_time_ns"`
	// MemoryBytes is the RAM QEMU transferred; DataBytes all it sent.
	MemoryBytes uint64 `json:"memory_processed"`
	DataBytes   uint64 `json:"data_processed"`
	// Iterations are QEMU's passes over the guest's memory.
	Iterations uint64 `json:"memory_iteration"`
}

// parseJobStats reads a completed job's typed parameters (libvirt's
// VIR_DOMAIN_JOB_* fields). A job without an elapsed time or a memory
// count is no migration's: an error.
func parseJobStats(params []golibvirt.TypedParam) (LibvirtJob, error) {
	var j LibvirtJob
	var elapsed, memory bool
	for _, p := range params {
		v, ok := p.Value.I.(uint64)
		if !ok {
			continue // the fields read here are all unsigned long long
		}
		ms := time.Duration(v) * time.Millisecond
		switch p.Field {
		case golibvirt.DomainJobTimeElapsed:
			j.Elapsed, elapsed = ms, true
		case golibvirt.DomainJobDowntime:
			j.Downtime = ms
		case golibvirt.DomainJobSetupTime:
			j.Setup = ms
		case golibvirt.DomainJobMemoryProcessed:
			j.MemoryBytes, memory = v, true
		case golibvirt.DomainJobDataProcessed:
			j.DataBytes = v
		case golibvirt.DomainJobMemoryIteration:
			j.Iterations = v
		}
	}
	if !elapsed || !memory {
		return j, fmt.Errorf("libvirt's job statistics have no %s or %s: not a completed migration (%d fields)",
			golibvirt.DomainJobTimeElapsed, golibvirt.DomainJobMemoryProcessed, len(params))
	}
	return j, nil
}

// LibvirtRow summarises libvirt's job statistics of one guest and method.
type LibvirtRow struct {
	ElapsedMS  Stat `json:"time_elapsed_ms"`
	DowntimeMS Stat `json:"downtime_ms"`
	MemoryMiB  Stat `json:"memory_mib"`
	Iterations Stat `json:"iterations"`
}

// summariseLibvirt fills the rows' libvirt summaries from the runs that
// have libvirt's statistics.
func summariseLibvirt(rows []Row, runs []Run) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for i := range rows {
		var v [4][]float64
		for _, r := range runs {
			if j := r.Libvirt; j != nil && r.Guest == rows[i].Guest && r.Method == rows[i].Method {
				v[0], v[1] = append(v[0], ms(j.Elapsed)), append(v[1], ms(j.Downtime))
				v[2], v[3] = append(v[2], float64(j.MemoryBytes)/(1<<20)), append(v[3], float64(j.Iterations))
			}
		}
		if len(v[0]) > 0 {
			rows[i].Libvirt = &LibvirtRow{ElapsedMS: stat(v[0]), DowntimeMS: stat(v[1]), MemoryMiB: stat(v[2]), Iterations: stat(v[3])}
		}
	}
}

// printLibvirt writes libvirt's own account of the moves, if any row has it.
func printLibvirt(w io.Writer, rows []Row) {
	if !slices.ContainsFunc(rows, func(r Row) bool { return r.Libvirt != nil }) {
		return
	}
	fmt.Fprintln(w, "\nlibvirt's job statistics, from the destination's daemon: time = libvirt's job from start to end (without the request's way in and the confirm step after it), "+
		"downtime = the source's stop to the destination's resume (nfhandoff-libvirt: to libvirt's finish, the domain left paused for the agent), memory = RAM QEMU sent, passes = QEMU's iterations over it")
	tw := newTable(w)
	fmt.Fprintln(tw, "guest\tmethod\tlibvirt time ms\tlibvirt downtime ms\tmemory MiB\tpasses")
	for _, r := range rows {
		if l := r.Libvirt; l != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Guest, r.Method, rng(l.ElapsedMS, "%.0f"), rng(l.DowntimeMS, "%.0f"),
				rng(l.MemoryMiB, "%.1f"), rng(l.Iterations, "%.0f"))
		}
	}
	tw.Flush()
}

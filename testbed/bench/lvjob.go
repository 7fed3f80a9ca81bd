package main

// libvirt's own account of a migration: the completed job's statistics,
// as the destination's daemon keeps them (the source's domain is gone).

import (
	"fmt"
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
		}
	}
	if !elapsed || !memory {
		return j, fmt.Errorf("libvirt's job statistics have no %s or %s: not a completed migration (%d fields)",
			golibvirt.DomainJobTimeElapsed, golibvirt.DomainJobMemoryProcessed, len(params))
	}
	return j, nil
}

package main

import (
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
)

func ullong(field string, v uint64) golibvirt.TypedParam {
	return golibvirt.TypedParam{Field: field, Value: *golibvirt.NewTypedParamValueUllong(v)}
}

func TestParseJobStats(t *testing.T) {
	params := []golibvirt.TypedParam{
		{Field: golibvirt.DomainJobOperationStr, Value: *golibvirt.NewTypedParamValueInt(3)},
		ullong(golibvirt.DomainJobTimeElapsed, 1834),
		ullong(golibvirt.DomainJobDowntime, 61),
		ullong(golibvirt.DomainJobSetupTime, 12),
		ullong(golibvirt.DomainJobMemoryProcessed, 87<<20),
		ullong(golibvirt.DomainJobDataProcessed, 88<<20),
		ullong(golibvirt.DomainJobMemoryTotal, 257<<20),
		ullong(golibvirt.DomainJobMemoryIteration, 4),
	}
	j, err := parseJobStats(params)
	if err != nil {
		t.Fatal(err)
	}
	want := LibvirtJob{Elapsed: 1834 * time.Millisecond, Downtime: 61 * time.Millisecond, Setup: 12 * time.Millisecond,
		MemoryBytes: 87 << 20, DataBytes: 88 << 20, Iterations: 4}
	if j != want {
		t.Errorf("parseJobStats = %+v, want %+v", j, want)
	}
}

func TestParseJobStatsNotAMigration(t *testing.T) {
	for name, params := range map[string][]golibvirt.TypedParam{
		"none":      nil,
		"no memory": {ullong(golibvirt.DomainJobTimeElapsed, 10)},
		"no time":   {ullong(golibvirt.DomainJobMemoryProcessed, 10)},
		"wrong type": {{Field: golibvirt.DomainJobTimeElapsed, Value: *golibvirt.NewTypedParamValueInt(10)},
			ullong(golibvirt.DomainJobMemoryProcessed, 10)},
	} {
		if _, err := parseJobStats(params); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

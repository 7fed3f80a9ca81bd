package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// Move is one migration for a method to carry out: the guest described by
// Spec runs as Src on From and must end up running on To.
type Move struct {
	Spec     api.VMSpec
	From, To *Host
	Src      Running // as booted or moved by a method of the same family
	Port     int     // a port no earlier move used
	Settings Settings
}

// Settings are the knobs every method uses alike.
type Settings struct {
	MaxBandwidth uint64        // bytes/s
	Downtime     time.Duration // QEMU downtime-limit
	TrafficRate  int           // test packets/s during each migration (0: none)
	// TrafficTail is how long the test traffic runs on after each
	// migration (0: trafficTail).
	TrafficTail time.Duration
	// Probe, if set, chooses TrafficRate once, on the first guest booted,
	// for every method (Guest.ProbeRate).
	Probe *RateProbe
	// TrafficReports is where each move's test traffic is written as
	// netctl migrate --verify --report would ("": nowhere).
	TrafficReports string
	// Client is the network namespace the test traffic comes from (the
	// topology's client).
	Client string
}

// tail is s's TrafficTail or the default.
func (s Settings) tail() time.Duration {
	if s.TrafficTail > 0 {
		return s.TrafficTail
	}
	return trafficTail
}

// Running is a guest as the family of methods that booted it holds it.
type Running interface {
	// Stop stops the guest and removes what was made for it; a guest
	// that already left (migrated away) is not an error.
	Stop(ctx context.Context) error
}

// Outcome is what a method reports of one move.
type Outcome struct {
	Summary policy.Summary // QEMU's, at the source, at the end
	Dst     Running        // the guest, running on To
	// Record is the agent's record of the migration (nfhandoff only).
	Record *api.Migration
	CPU    CPU       // what the move cost each process
	Asked  time.Time // when the move was asked for (set for the moves of a gang)
	// Started and Resumed, for a method without a record that measures
	// them (qemu-postcopy): when the source QEMU was asked to migrate and
	// when the guest ran at the destination. Postcopy: QEMU was told to
	// start post-copy.
	Started, Resumed time.Time
	Postcopy         bool
	// Libvirt is libvirt's account of the move (the libvirt methods).
	Libvirt *LibvirtJob
}

// GangOutcome is what moving several guests at once reports.
type GangOutcome struct {
	// Outcomes are the moves', in order; one that did not complete is
	// zero (no Dst).
	Outcomes []Outcome
	// Time is from the first move asked for until the last guest ran at
	// its destination and its source QEMU had quit.
	Time time.Duration
	// CPU is every process's of the moves, each counted once (the
	// Outcomes' CPU is zero where a process served several moves).
	CPU CPU
}

// gangMethod is a method that moves several guests as one gang itself
// (the agents' gang); the harness moves the others' guests together and
// one after another with Migrate (gang.go).
type gangMethod interface {
	GangName() string // its row's label
	MigrateGang(ctx context.Context, mvs []Move) (GangOutcome, error)
}

// Method is one way of migrating. Methods of one Family share a guest:
// the harness boots it with the family's first method and moves it with
// each method of the family in turn. Migrate must leave the guest running
// on To (Dst) and may leave Src for the harness to stop; on error it stops
// whatever destination it started.
type Method interface {
	Name() string
	Family() string
	Setup(ctx context.Context, runDir string, hosts []*Host) error // once, before any move
	Boot(ctx context.Context, spec api.VMSpec, h *Host) (Running, error)
	Migrate(ctx context.Context, mv Move) (Outcome, error)
	Close() error // once, after the last move (also after a failed Setup)
}

// queryMigrate reads query-migrate's return object.
func queryMigrate(ctx context.Context, inst *vm.Instance) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := inst.Execute(ctx, qmpcmd.QueryMigrate, nil, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", qmpcmd.QueryMigrate, err)
	}
	return raw, nil
}

// waitMigration polls query-migrate on inst until the migration ends (on
// the source: and QEMU has computed its times).
func waitMigration(ctx context.Context, inst *vm.Instance, limit time.Duration, source bool) (policy.Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		raw, err := queryMigrate(ctx, inst)
		if err != nil {
			return policy.Summary{}, err
		}
		s, err := policy.ParseSummary(raw)
		if err != nil {
			return s, err
		}
		switch s.Status {
		case "completed":
			// QEMU 7.2 reports completed a moment before it computes
			// total-time and downtime (migration_calculate_complete).
			if !source || s.TotalTime > 0 {
				return s, nil
			}
		case "failed", "cancelled":
			return s, fmt.Errorf("migration %s: %s", s.Status, s.Error)
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("waiting for migration (status %s): %w", s.Status, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// capabilities sets migration capabilities on inst.
func capabilities(ctx context.Context, inst *vm.Instance, caps map[string]bool) error {
	if err := inst.Execute(ctx, qmpcmd.MigrateSetCapabilities, qmpcmd.Capabilities(caps), nil); err != nil {
		return fmt.Errorf("%s: %w", qmpcmd.MigrateSetCapabilities, err)
	}
	return nil
}

// parameters sets migration parameters on inst.
func parameters(ctx context.Context, inst *vm.Instance, p map[string]any) error {
	if err := inst.Execute(ctx, qmpcmd.MigrateSetParameters, p, nil); err != nil {
		return fmt.Errorf("%s: %w", qmpcmd.MigrateSetParameters, err)
	}
	return nil
}

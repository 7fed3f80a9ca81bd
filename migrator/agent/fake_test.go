package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
)

// fakeRuntime is an in-memory Runtime: "guests" are fakeInstances that
// live until stopped or killed, across agents sharing the fake.
type fakeRuntime struct {
	mu       sync.Mutex
	live     map[string]*fakeInstance // by VM name; survives agents
	startErr error
	adoptErr error // returned by Adopt for any record not in live
	cleaned  []string
	pid      int
	started  chan string // receives the name of each started guest (optional)
	block    chan struct{}
	networks []string // besides the default
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{live: make(map[string]*fakeInstance), pid: 1000}
}

func (f *fakeRuntime) Accel(ctx context.Context, image string) (string, error) { return "tcg", nil }

func (f *fakeRuntime) Networks() []string { return f.networks }

// fakeTapName is the fake's tap of NIC nic: "nfht" + the VM's name, then
// "n" + nic after the first.
func fakeTapName(vm string, nic int) string {
	if nic == 0 {
		return "nfht" + vm
	}
	return fmt.Sprintf("nfht%sn%d", vm, nic)
}

func (f *fakeRuntime) Start(ctx context.Context, spec api.VMSpec, onTap handoff.TapHook) (Instance, error) {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var more []string // nil for one NIC, as vm records it
	for i := range spec.NICs {
		more = append(more, fakeTapName(spec.Name, i+1))
	}
	taps := append([]string{fakeTapName(spec.Name, 0)}, more...)
	if onTap != nil {
		f.mu.Lock()
		pid := f.pid + 1
		f.mu.Unlock()
		for i, tap := range taps {
			if err := onTap(ctx, handoff.Tap{NIC: i, Name: tap, Ifindex: pid + 1000*i}); err != nil {
				return nil, fmt.Errorf("starting %s: %w", spec.Name, err)
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.pid++
	inst := &fakeInstance{f: f, done: make(chan struct{}), qemu: &fakeQEMU{}, rec: api.VM{
		Spec: spec, State: api.StateRunning, PID: f.pid, Tap: taps[0], Taps: more,
		Accel: "tcg", QMPSocket: "/x/" + spec.Name + "/qmp.sock", ConsoleLog: "/x/" + spec.Name + "/console.log",
	}}
	f.live[spec.Name] = inst
	return inst, nil
}

func (f *fakeRuntime) Adopt(ctx context.Context, rec api.VM) (Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inst, ok := f.live[rec.Spec.Name]
	if !ok {
		if f.adoptErr != nil {
			return nil, f.adoptErr
		}
		return nil, fmt.Errorf("adopting %s: pid %d: %w", rec.Spec.Name, rec.PID, ErrGone)
	}
	// A new agent gets a fresh connection to the same guest.
	n := &fakeInstance{f: f, done: inst.done, qemu: inst.qemu, rec: inst.rec}
	n.reason = inst.reason
	f.live[rec.Spec.Name] = n
	return n, nil
}

func (f *fakeRuntime) Cleanup(ctx context.Context, rec api.VM) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleaned = append(f.cleaned, rec.Spec.Name)
	return nil
}

func (f *fakeRuntime) cleanedNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cleaned...)
}

// kill makes the named guest exit on its own.
func (f *fakeRuntime) kill(name, reason string) {
	f.mu.Lock()
	inst := f.live[name]
	delete(f.live, name)
	f.mu.Unlock()
	inst.exit(reason)
}

type fakeInstance struct {
	f        *fakeRuntime
	qemu     *fakeQEMU // shared by the instances of one guest
	rec      api.VM
	mu       sync.Mutex
	done     chan struct{}
	reason   string
	detached bool
}

func (i *fakeInstance) Record() api.VM { return i.rec }

func (i *fakeInstance) QueryStatus(ctx context.Context) (string, error) {
	select {
	case <-i.done:
		return "", fmt.Errorf("qmp: connection closed")
	default:
	}
	i.qemu.mu.Lock()
	defer i.qemu.mu.Unlock()
	if i.qemu.paused {
		return qmpcmd.RunStatePaused, nil
	}
	return qmpcmd.RunStateRunning, nil
}

func (i *fakeInstance) Stop(ctx context.Context) error {
	i.f.mu.Lock()
	delete(i.f.live, i.rec.Spec.Name)
	i.f.mu.Unlock()
	i.exit("stopped")
	return nil
}

func (i *fakeInstance) exit(reason string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	select {
	case <-i.done:
	default:
		i.reason = reason
		close(i.done)
	}
}

func (i *fakeInstance) Done() <-chan struct{} { return i.done }

// Taps makes fakeInstance a tapper: NIC n's "ifindex" is pid+1000n.
func (i *fakeInstance) Taps() []handoff.Tap {
	var taps []handoff.Tap
	for n, name := range i.rec.AllTaps() {
		taps = append(taps, handoff.Tap{NIC: n, Name: name, Ifindex: i.rec.PID + 1000*n})
	}
	return taps
}

func (i *fakeInstance) ExitReason() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.reason
}

func (i *fakeInstance) Detach() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.detached = true
	return nil
}

// fakeGuest answers guest status queries for addresses in up.
type fakeGuest struct {
	mu sync.Mutex
	up map[netip.Addr]api.GuestStatus
}

func (g *fakeGuest) query(ctx context.Context, addr netip.AddrPort) (api.GuestStatus, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st, ok := g.up[addr.Addr()]; ok && addr.Port() == 9862 {
		return st, nil
	}
	return api.GuestStatus{}, fmt.Errorf("read udp %s: i/o timeout", addr)
}

// fakeQEMU is the state of a fake guest's QEMU that QMP shows: the run
// state and the outgoing migration's status.
type fakeQEMU struct {
	mu        sync.Mutex
	paused    bool
	migration string // query-migrate's status
	cmds      []string
}

func (q *fakeQEMU) set(paused bool, migration string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.paused, q.migration = paused, migration
}

func (q *fakeQEMU) commands() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.cmds...)
}

// Execute and Events make fakeInstance a session.Guest. Its QMP knows what
// an agent settling a migration asks: query-status, query-migrate,
// migrate_cancel and cont.
func (i *fakeInstance) Execute(ctx context.Context, cmd string, args, out any) error {
	q := i.qemu
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cmds = append(q.cmds, cmd)
	var reply any
	switch cmd {
	case qmpcmd.QueryStatus:
		st := qmpcmd.RunStateRunning
		if q.paused {
			st = qmpcmd.RunStatePaused
		}
		reply = qmpcmd.StatusInfo{Status: st}
	case qmpcmd.QueryMigrate:
		reply = qmpcmd.MigrateInfo{Status: q.migration}
	case qmpcmd.MigrateCancel:
		q.migration = qmpcmd.MigrationCancelled
		return nil
	case qmpcmd.Cont:
		q.paused = false
		return nil
	default:
		return fmt.Errorf("fake instance: no qmp for %s", cmd)
	}
	b, err := json.Marshal(reply)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func (i *fakeInstance) Events(ctx context.Context) <-chan qmpx.Event {
	ch := make(chan qmpx.Event)
	close(ch)
	return ch
}

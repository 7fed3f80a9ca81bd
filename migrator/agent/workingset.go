package agent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
	"github.com/nfhandoff/nfhandoff/migrator/wswatch"
)

// wsPorter is implemented by instances with a working-set report port
// (*vm.Instance): its socket, "" if none.
type wsPorter interface {
	WSSocket() string
}

// watchWorkingSet starts reading the guest's working-set reports for as
// long as the agent watches inst; nil if it has no port.
func (a *Agent) watchWorkingSet(e *entry, inst Instance) *wswatch.Watcher {
	p, ok := inst.(wsPorter)
	if !ok || p.WSSocket() == "" {
		return nil
	}
	a.mu.Lock()
	name, mib := e.rec.Spec.Name, e.rec.Spec.MemoryMiB
	a.mu.Unlock()
	w := wswatch.Start(context.Background(), wswatch.Config{
		Socket: p.WSSocket(), RAMBytes: uint64(mib) << 20, Logger: a.log.With("vm", name),
	})
	a.mu.Lock()
	old := e.ws
	e.ws = w
	a.mu.Unlock()
	if old != nil {
		old.Stop() // an earlier instance's (not expected)
	}
	return w
}

// unwatchWorkingSet stops e's reader, if any, and forgets its reports.
func (a *Agent) unwatchWorkingSet(e *entry) {
	a.mu.Lock()
	w := e.ws
	e.ws = nil
	a.mu.Unlock()
	if w != nil {
		w.Stop()
	}
}

// startReports starts asking VM name for its reports once an incoming
// migration has completed here, or an outgoing one ended with the guest
// here. Not before: while a guest runs here in post-copy, a connection the
// agent opens or (dying) closes on the port's socket makes QEMU's main
// thread tell the guest through a virtqueue whose pages may still be at
// the source, and a main thread blocked on a page of a broken stream
// cannot answer the next agent's QMP; and while it is stopped for a move
// away, QEMU would write that news into memory already sent.
func (a *Agent) startReports(name string) {
	a.mu.Lock()
	e := a.vms[name]
	var inst Instance
	var ws *wswatch.Watcher
	if e != nil && !e.stopped && !e.gone {
		inst, ws = e.inst, e.ws
	}
	a.mu.Unlock()
	if ws != nil {
		ws.Resume() // quieted by a migration that left the guest here
		return
	}
	if inst == nil {
		return
	}
	select {
	case <-inst.Done():
		return // its watch has ended: nothing would stop the reader
	default:
	}
	a.watchWorkingSet(e, inst)
}

// migrationUnfinished reports whether the store holds an unfinished
// migration of VM name, either way (a restarted agent's adoption: its
// reports wait for startReports).
func (a *Agent) migrationUnfinished(name string) bool {
	raws, err := a.cfg.Store.ListMigrations()
	if err != nil {
		return true // not known: wait, the reports are not needed to run
	}
	for _, r := range raws {
		var m api.Migration
		if json.Unmarshal(r.Data, &m) == nil && m.VM == name && !api.Ended(m.State) {
			return true
		}
	}
	return false
}

// quietTimeout bounds the wait for a guest's answer in flight when a
// migration quiets its port: the guest still runs meanwhile.
const quietTimeout = 250 * time.Millisecond

// quietReports is the session's hook to let go of VM name's report port
// (see wswatch.Watcher.Quiet): before QEMU's first pass if the agent holds
// a fresh report (else it keeps asking during pre-copy, for one), and in
// any case (final) before the guest is stopped.
func (a *Agent) quietReports(name string) func(context.Context, bool) {
	return func(ctx context.Context, final bool) {
		w := a.watcher(name)
		if w == nil {
			return
		}
		if l, ok := w.Latest(); !final && (!ok || l.Staleness(time.Now()) > workingSetFresh) {
			return
		}
		ctx, cancel := context.WithTimeout(ctx, quietTimeout)
		defer cancel()
		w.Quiet(ctx)
	}
}

// WorkingSet returns the named VM's latest working-set report, checked
// against its RAM (ranges disjoint, inside RAM, hottest first), and its
// age; ok is false without one (no such VM running here, or no report
// yet).
func (a *Agent) WorkingSet(name string) (wsreport.Checked, time.Duration, bool) {
	l, ok := a.latestReport(name)
	if !ok {
		return wsreport.Checked{}, 0, false
	}
	return l.Checked, time.Since(l.At), true
}

// latestReport is VM name's reader's latest report; ok false without one.
func (a *Agent) latestReport(name string) (wswatch.Latest, bool) {
	w := a.watcher(name)
	if w == nil {
		return wswatch.Latest{}, false
	}
	return w.Latest()
}

// workingSetStatus is the API's view of w; nil for no reader.
func workingSetStatus(w *wswatch.Watcher) *api.WorkingSetStatus {
	if w == nil {
		return nil
	}
	l, ok := w.Latest()
	st := &api.WorkingSetStatus{Connected: l.Connected, Quiet: l.Quiet, Asked: l.Asked, Unanswered: l.Unanswered,
		Received: l.Received, Rejected: l.Rejected}
	if !ok {
		return st
	}
	c := l.Checked
	st.Seq, st.Age = l.Seq, time.Since(l.At)
	st.Ranges, st.Pages, st.HotRanges = len(c.Ranges), c.Pages, c.Hot
	for _, r := range c.Ranges[:c.Hot] {
		st.HotPages += uint64(r.Count)
	}
	st.Dropped, st.Clipped = c.Dropped, c.Clipped
	st.Truncated = l.Flags&wsreport.Truncated != 0
	return st
}

// watcher is VM name's report reader, nil if none.
func (a *Agent) watcher(name string) *wswatch.Watcher {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.vms[name]; e != nil {
		return e.ws
	}
	return nil
}

package libvirt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// fakeDaemon is a libvirt daemon's domains as a conn shows them.
type fakeDaemon struct {
	mu     sync.Mutex
	states map[string]golibvirt.DomainState
	events chan golibvirt.DomainEventLifecycleMsg
	gone   chan struct{}
}

func newFakeDaemon(running ...string) *fakeDaemon {
	d := &fakeDaemon{states: map[string]golibvirt.DomainState{}, events: make(chan golibvirt.DomainEventLifecycleMsg), gone: make(chan struct{})}
	for _, n := range running {
		d.states[n] = golibvirt.DomainRunning
	}
	return d
}

func (d *fakeDaemon) ConnectListAllDomains(_ int32, flags golibvirt.ConnectListAllDomainsFlags) ([]golibvirt.Domain, uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []golibvirt.Domain
	for n, s := range d.states {
		if flags&golibvirt.ConnectListDomainsActive == 0 || active(s) {
			out = append(out, golibvirt.Domain{Name: n})
		}
	}
	return out, uint32(len(out)), nil
}

func (d *fakeDaemon) DomainGetState(dom golibvirt.Domain, _ uint32) (int32, int32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.states[dom.Name]
	if !ok {
		return 0, 0, errors.New("Domain not found")
	}
	return int32(s), 0, nil
}

// DomainGetXMLDesc: every domain has one NIC on tap vnet-<name>.
func (d *fakeDaemon) DomainGetXMLDesc(dom golibvirt.Domain, _ golibvirt.DomainXMLFlags) (string, error) {
	return fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='KiB'>262144</memory><vcpu>1</vcpu>
<devices><interface type='bridge'><mac address='52:54:00:00:00:01'/><target dev='vnet-%[1]s'/></interface></devices></domain>`, dom.Name), nil
}

func (d *fakeDaemon) LifecycleEvents(context.Context) (<-chan golibvirt.DomainEventLifecycleMsg, error) {
	return d.events, nil
}

func (d *fakeDaemon) Disconnected() <-chan struct{} { return d.gone }
func (d *fakeDaemon) Disconnect() error             { return nil }

// set changes a domain's state (absent: undefined) and sends its event.
func (d *fakeDaemon) set(name string, s golibvirt.DomainState, ev golibvirt.DomainEventType) {
	d.mu.Lock()
	if s == -1 {
		delete(d.states, name)
	} else {
		d.states[name] = s
	}
	d.mu.Unlock()
	d.events <- golibvirt.DomainEventLifecycleMsg{Dom: golibvirt.Domain{Name: name}, Event: int32(ev)}
}

// TestWatcherFollowsDomains: the running domains are reported up when the
// watcher connects, a started or paused domain with its event, a stopped
// one down; after the connection is lost (and a dial refused) the domains
// are listed anew, the one gone meanwhile reported down.
func TestWatcherFollowsDomains(t *testing.T) {
	first, second := newFakeDaemon("lv1"), newFakeDaemon("lv3")
	var dials int
	w := &Watcher{log: slog.New(slog.DiscardHandler), retry: time.Millisecond, dial: func(context.Context) (conn, error) {
		dials++
		switch dials {
		case 1:
			return first, nil
		case 2:
			return nil, errors.New("connection refused")
		}
		return second, nil
	}}
	reports := make(chan string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- w.Watch(ctx, func(rec api.VM, st string) {
			reports <- fmt.Sprintf("up %s %s %s %s", rec.Spec.Name, st, rec.Tap, rec.Source)
		}, func(name string) { reports <- "down " + name })
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-reports:
			if got != want {
				t.Fatalf("report %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no report, want %q", want)
		}
	}
	expect("up lv1 running vnet-lv1 libvirt")
	first.set("lv2", golibvirt.DomainRunning, golibvirt.DomainEventStarted)
	expect("up lv2 running vnet-lv2 libvirt")
	first.set("lv1", golibvirt.DomainPaused, golibvirt.DomainEventSuspended)
	expect("up lv1 paused vnet-lv1 libvirt")
	first.set("lv1", -1, golibvirt.DomainEventStopped) // transient: gone with its QEMU
	expect("down lv1")
	first.set("lv9", golibvirt.DomainShutoff, golibvirt.DomainEventDefined) // never up: no report
	close(first.gone)
	expect("down lv2")
	expect("up lv3 running vnet-lv3 libvirt")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch: %v", err)
	}
	if dials != 3 {
		t.Errorf("%d dials, want 3 (one refused)", dials)
	}
	select {
	case r := <-reports:
		t.Errorf("unexpected report %q", r)
	default:
	}
}

func TestStateNames(t *testing.T) {
	for s, want := range map[golibvirt.DomainState]string{golibvirt.DomainRunning: "running", golibvirt.DomainPaused: "paused", 42: "state 42"} {
		if got := stateName(s); !strings.EqualFold(got, want) {
			t.Errorf("state %d: %q, want %q", s, got, want)
		}
	}
}

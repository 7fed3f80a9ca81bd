package dataplane

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

func bedEnv(b *bed) []string { return []string{"DPT_BPFFS=" + b.bpffs, "DPT_CLIENT=" + b.client} }

func waitCaptured(t *testing.T, d *Dataplane, n uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, _ := d.maps.capturedOf(keyOf(vmMAC)); c >= n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	c, _ := d.maps.capturedOf(keyOf(vmMAC))
	t.Fatalf("captured %d, want %d", c, n)
}

// waitConsumed waits until the ring reader has taken n records of the VM
// (queued, or dropped and counted): captured by the program is not enough,
// the records may still be in the ring.
func waitConsumed(t *testing.T, d *Dataplane, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if consumedBy(t, d) >= n {
			return
		}
	}
	t.Fatalf("ring reader took %d records, want %d", consumedBy(t, d), n)
}

// consumedBy is the number of ring records d took for the test VM.
func consumedBy(t *testing.T, d *Dataplane) uint64 {
	t.Helper()
	v := d.handoff.byKey(keyOf(vmMAC))
	if v == nil {
		t.Fatal("no vm entry")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.consumed()
}

// HOLD, then Flushed while the client keeps sending: the tap sees the
// flushed frames, then every client frame in order, none lost.
func TestPrivHoldFlushRelease(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, r, h, s := holding(t, Config{}, 20)
	if got := r.frames(); len(got) != 0 {
		t.Fatalf("frames reached the tap during HOLD: %v", got)
	}
	stop := s.background(t, 200*time.Microsecond)
	if err := h.Flushed(ctx, testSpec, flushStream(5)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // more traffic after the release
	waitMode(t, d, modePass, nil)
	last := stop()
	want := append(seqs(tagFlush, 1, 5), seqs(tagClient, 1, last)...)
	wantSeq(t, r.waitFor(t, len(want)), want)
	st := h.Stats(testSpec)
	t.Logf("stats: %+v", st)
	if st.Flushed != 5 || st.Released < 20 || st.Held != st.Released || st.DroppedTotal() != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if st.Modes["hold"] <= 0 || st.Modes["release"] <= 0 {
		t.Fatalf("modes: %v", st.Modes)
	}
}

// HOLD, then Flushed with no traffic after it: once every held frame is
// in, the release ends by itself (PASS, the release over) instead of
// waiting for a frame that would let the program flip it, and the frames
// reach the tap in order, and Unwatch, which a post-copy's end calls and
// which waits for the release, returns.
func TestPrivReleaseEndsWithoutTraffic(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, r, h, _ := holding(t, Config{}, 20)
	if err := h.Flushed(ctx, testSpec, flushStream(5)); err != nil {
		t.Fatal(err)
	}
	waitMode(t, d, modePass, nil) // no frame sent since
	uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.Unwatch(uctx, testSpec); err != nil { // what a post-copy's end waits on
		t.Fatalf("the release did not end without traffic: %v", err)
	}
	want := append(seqs(tagFlush, 1, 5), seqs(tagClient, 1, 20)...)
	wantSeq(t, r.waitFor(t, len(want)), want)
	if c, _ := d.maps.countersOf(keyOf(vmMAC)); c.ReleasedPass != 0 {
		t.Errorf("released_pass %d: the program passed a frame, none was sent after the hold", c.ReleasedPass)
	}
	if st := h.Stats(testSpec); st.Released != 20 || st.DroppedTotal() != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// MIRROR, the guest stops (reader paused: residue stays in the tap),
// BUFFER, then Rollback after the guest resumed, with the client still
// sending: every frame reaches the tap once, in order.
func TestPrivBufferRollback(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, _, r, h, s := childHandoff(t, Config{})
	if err := h.Begin(ctx, testSpec, netip.MustParseAddr("198.18.0.2")); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 10)
	r.waitFor(t, 10)
	r.pause(true)
	s.mustSend(t, 5) // residue: stays in the tap queue
	if err := h.Switchover(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 10) // buffered
	waitCaptured(t, d, 25)
	r.pause(false) // the guest runs again at the source
	stop := s.background(t, 200*time.Microsecond)
	if err := h.Rollback(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	waitMode(t, d, modePass, nil)
	last := stop()
	wantSeq(t, r.waitFor(t, last), seqs(tagClient, 1, last))
	st := h.Stats(testSpec)
	t.Logf("stats: %+v", st)
	if st.Mirrored < 15 || st.Buffered < 10 || st.Returned < 10 || st.DroppedTotal() != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// A queue of five frames: the others are dropped and counted as
// queue_full; every frame sent is either received or counted.
func TestPrivTinyQueue(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, r, h, s := holding(t, Config{QueueBytes: 5 * 60}, 20)
	waitConsumed(t, d, 20) // the five queued and 15 dropped before the release makes room
	if err := h.Flushed(ctx, testSpec, nil); err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(testSpec); st.Dropped[dropQueueFull] != 15 || st.Released != 5 || st.HighWaterBytes != 300 {
		t.Fatalf("after the release of the first 20: %+v", st)
	}
	waitMode(t, d, modePass, func() { s.send(1) })
	s.mustSend(t, 3)
	// Every frame sent is received or counted (pokes while RELEASE too).
	st := h.Stats(testSpec)
	got := r.waitFor(t, s.seq-int(st.DroppedTotal()))
	t.Logf("stats: %+v, got %v", st, got)
	if uint64(len(got))+st.DroppedTotal() != uint64(s.seq) {
		t.Fatalf("sent %d, received %d, dropped %d", s.seq, len(got), st.DroppedTotal())
	}
	wantSeq(t, got[:5], seqs(tagClient, 1, 5))
}

// waitPinnedCaptured waits until the pinned counters under pin (no process
// reading them) say n frames of the VM were captured.
func waitPinnedCaptured(t *testing.T, pin string, n uint64) {
	t.Helper()
	captured, err := ebpf.LoadPinnedMap(filepath.Join(pin, "captured"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer captured.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		c, _ := count(captured, keyOf(vmMAC))
		if c >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("captured %d without a process, want %d", c, n)
		}
	}
}

// restarted is the dataplane a restarted agent makes over the pins under
// pin, attached to tap, whose adopted entry it checks is in mode want.
func restarted(ctx context.Context, t *testing.T, pin string, tap handoff.Tap, want mode) (*Dataplane, *Handoff) {
	t.Helper()
	d, err := New(ctx, Config{PinDir: pin, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	h := d.Handoff()
	if err := h.Attach(ctx, testSpec, tap); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := d.maps.state(keyOf(vmMAC)); st.Mode != want {
		t.Fatalf("mode after restart: %s, want %s", st.Mode, want)
	}
	return d, h
}

// The agent restarts during HOLD: the frames the old process had taken are
// lost and counted (dropped "restart"); while no process runs, the pinned
// tap link still captures; the new process adopts the pinned maps, re-uses
// the link with its own program, releases the frames in order, and RELEASE
// ends although the lost ones are never re-injected.
func TestPrivRestart(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	pin := filepath.Join(os.Getenv("DPT_BPFFS"), "host")
	d1, tap, r := childSetup(t, Config{PinDir: pin})
	s := newSender(t, os.Getenv("DPT_CLIENT"), "vc")
	if err := d1.Handoff().Prepare(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 2)
	waitConsumed(t, d1, 2) // in d1's queue: they die with it
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	// What d1 took: the two test frames, and any frame of the bed's own for
	// the VM (an ARP request from the client) that came with them.
	took := func() uint64 {
		v := d1.handoff.byKey(keyOf(vmMAC))
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.consumed()
	}()
	s.mustSend(t, 3) // no process holds the program now
	waitPinnedCaptured(t, pin, took+3)
	d2, h := restarted(ctx, t, pin, tap, modeHold)
	l, err := link.LoadPinnedLink(filepath.Join(pin, "links", "dt0-tap_egress"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	pinfo, _ := d2.objs.TapEgress.Info()
	if id, _ := pinfo.ID(); info.Program != id {
		t.Fatalf("pinned link runs program %d, want the new one %d", info.Program, id)
	}
	if err := h.Flushed(ctx, testSpec, nil); err != nil {
		t.Fatal(err)
	}
	// RELEASE ends although two captured frames never come back.
	waitMode(t, d2, modePass, func() { s.send(1) })
	s.mustSend(t, 2)
	wantSeq(t, r.waitFor(t, s.seq-2), seqs(tagClient, 3, s.seq))
	if st := h.Stats(testSpec); st.Dropped[dropRestart] != took || st.DroppedTotal() != took || st.Released < 3 {
		t.Fatalf("stats after the restart: %+v, want the %d frames the first run took dropped", st, took)
	}
}

// The destination's agent dies while a post-copy runs (Watch): with a live
// agent frames pass; from the first frame after its guard socket closed the
// program holds them (no frame reaches the tap of a guest nobody can
// recover); the new process adopts the entry in HOLD, disarmed, and
// Pause/Unpause (the resumed post-copy's) release them in order before new
// frames pass.
func TestPrivGuardHoldsWhenAgentGone(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	pin := filepath.Join(os.Getenv("DPT_BPFFS"), "host")
	d1, tap, r := childSetup(t, Config{PinDir: pin})
	s := newSender(t, os.Getenv("DPT_CLIENT"), "vc")
	if err := d1.Handoff().Watch(ctx, testSpec, nil); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := d1.maps.state(keyOf(vmMAC)); st.GuardPort == 0 {
		t.Fatal("Watch left the guard disarmed")
	}
	s.mustSend(t, 3) // the agent lives: they pass
	wantSeq(t, r.waitFor(t, 3), seqs(tagClient, 1, 3))
	if err := d1.Close(); err != nil { // its guard socket goes, as at its death
		t.Fatal(err)
	}
	s.mustSend(t, 3)
	waitPinnedCaptured(t, pin, 3)
	if got := r.frames(); len(got) != 3 {
		t.Fatalf("the tap got %d frames, want 3: the guard let frames through", len(got))
	}
	d2, h := restarted(ctx, t, pin, tap, modeHold)
	if st, _, _ := d2.maps.state(keyOf(vmMAC)); st.GuardPort != 0 {
		t.Fatalf("adopted entry still armed with port %d", st.GuardPort)
	}
	if ctr, _ := d2.maps.countersOf(keyOf(vmMAC)); ctr.GuardTripped != 1 {
		t.Fatalf("guard_tripped %d, want 1", ctr.GuardTripped)
	}
	resumeTakenOver(ctx, t, d2, h, s)
	wantSeq(t, r.waitFor(t, s.seq), seqs(tagClient, 1, s.seq))
	if st := h.Stats(testSpec); st.DroppedTotal() != 0 {
		t.Fatalf("stats after the restart: %+v, want nothing dropped", st)
	}
}

// resumeTakenOver is what the run that takes a paused post-copy over does
// once it resumes (Pause, Unpause), then PASS, and two frames after it.
func resumeTakenOver(ctx context.Context, t *testing.T, d *Dataplane, h *Handoff, s *sender) {
	t.Helper()
	if err := h.Pause(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	if err := h.Unpause(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	waitMode(t, d, modePass, func() { s.send(1) })
	s.mustSend(t, 2)
}

// The destination's agent dies while it releases what a paused post-copy
// held (RELEASE): the program keeps capturing, the new process adopts the
// entry in RELEASE, and the resumed post-copy's Pause/Unpause finish the
// release in order before new frames pass.
func TestPrivRestartDuringRelease(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	pin := filepath.Join(os.Getenv("DPT_BPFFS"), "host")
	d1, tap, r := childSetup(t, Config{PinDir: pin})
	s := newSender(t, os.Getenv("DPT_CLIENT"), "vc")
	s.mustSend(t, 2)
	wantSeq(t, r.waitFor(t, 2), seqs(tagClient, 1, 2))
	// Held, then a release that had injected nothing when its agent died:
	// the two frames it had taken die with it.
	setMode := func(m mode) {
		if err := d1.maps.update(keyOf(vmMAC), func(st *vmState) { st.Mode = m }); err != nil {
			t.Fatal(err)
		}
	}
	setMode(modeHold)
	s.mustSend(t, 2)
	waitConsumed(t, d1, 2)
	setMode(modeRelease)
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	// What d1 took: the client's 2, and any frame of another sender that
	// reached the tap for the VM's MAC meanwhile (seen once, under load:
	// 3 taken, the client's sequence intact).
	taken := consumedBy(t, d1)
	s.mustSend(t, 3) // released 0 < captured 2: RELEASE captures them
	waitPinnedCaptured(t, pin, taken+3)
	d2, h := restarted(ctx, t, pin, tap, modeRelease)
	resumeTakenOver(ctx, t, d2, h, s)
	want := append(seqs(tagClient, 1, 2), seqs(tagClient, 5, s.seq)...)
	wantSeq(t, r.waitFor(t, len(want)), want)
	if st := h.Stats(testSpec); st.Dropped[dropRestart] != taken || st.DroppedTotal() != taken {
		t.Fatalf("stats after the restart: %+v, want the %d frames the first run took dropped", st, taken)
	}
}

// The source's agent dies in BUFFER (it had stopped the guest): the frames
// it had taken are lost and counted (dropped "restart"); while no process
// runs the program still captures; the new process adopts the entry and,
// once the restarted agent has resumed the guest, Rollback returns what was
// captured since to the tap, in order, and PASS follows.
func TestPrivRestartDuringBuffer(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	pin := filepath.Join(os.Getenv("DPT_BPFFS"), "host")
	d1, tap, r := childSetup(t, Config{PinDir: pin})
	h1 := d1.Handoff()
	s := newSender(t, os.Getenv("DPT_CLIENT"), "vc")
	if err := h1.Begin(ctx, testSpec, netip.MustParseAddr("198.18.0.2")); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 3) // mirrored: they reach the tap
	r.waitFor(t, 3)
	if err := h1.Switchover(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 2) // buffered in d1's queue: they die with it
	waitConsumed(t, d1, 5)
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 3) // no process holds the program now
	waitPinnedCaptured(t, pin, 8)
	d2, h := restarted(ctx, t, pin, tap, modeBuffer)
	if err := h.Rollback(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	waitMode(t, d2, modePass, func() { s.send(1) })
	s.mustSend(t, 2)
	want := append(seqs(tagClient, 1, 3), seqs(tagClient, 6, s.seq)...)
	wantSeq(t, r.waitFor(t, len(want)), want)
	st := h.Stats(testSpec)
	t.Logf("stats after the restart: %+v", st)
	if st.Dropped[dropRestart] < 2 || st.Returned < 3 {
		t.Fatalf("stats after the restart: %+v, want the 2 frames the first run held dropped, 3 returned", st)
	}
}

// A Detach during HOLD (the incoming VM goes): the frames queued and those
// still in the ring are counted as dropped "detached".
func TestPrivDetachDuringHold(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	_, _, h, _ := holding(t, Config{}, 4)
	if err := h.Detach(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(testSpec); st.Dropped[dropDetached] != 4 || st.DroppedTotal() != 4 || st.Held != 4 {
		t.Fatalf("stats: %+v", st)
	}
}

// A destination in HOLD answers the client's ARP for the guest once the
// guest runs here (Started), with the reply coming back through the tap
// and the bridge; before that the request is held with the traffic.
func TestPrivHoldAnswersARPOnTap(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		run(t, "ip", "-n", b.client, "addr", "add", "198.18.7.1/24", "dev", "vc")
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	_, _, _, h, _ := childHandoff(t, Config{})
	if err := h.Prepare(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	client := os.Getenv("DPT_CLIENT")
	neigh := func() string {
		out, _ := exec.Command("ip", "-n", client, "neigh", "show", "198.18.7.10", "dev", "vc").CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	// ping's echo request is held too: it is only the trigger of the ARP.
	exec.Command("ip", "netns", "exec", client, "ping", "-c", "1", "-W", "1", "198.18.7.10").Run()
	if n := neigh(); strings.Contains(n, vmMAC.String()) {
		t.Fatalf("client resolved the guest before it ran here: %s", n)
	}
	if st := h.Stats(testSpec); st.ARPAnswered != 0 {
		t.Fatalf("answered %d ARP requests before the guest ran here", st.ARPAnswered)
	}
	if err := h.Started(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	exec.Command("ip", "-n", client, "neigh", "flush", "dev", "vc").Run()
	exec.Command("ip", "netns", "exec", client, "ping", "-c", "1", "-W", "1", "198.18.7.10").Run()
	if n := neigh(); !strings.Contains(n, "lladdr "+vmMAC.String()) || !strings.Contains(n, "REACHABLE") {
		t.Fatalf("client's entry for the guest after Started: %q, want REACHABLE at %s", n, vmMAC)
	}
	st := h.Stats(testSpec)
	t.Logf("stats: %+v", st)
	if st.ARPAnswered == 0 || st.Held == 0 {
		t.Fatalf("stats %+v: want ARP answered and the echo request held", st)
	}
}

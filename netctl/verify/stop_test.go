package verify

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// Replies held through sending (a blackout) and returned after Stop begins,
// paced like a rollback's re-injection: together they take many times
// Drain (60 replies, 3/4 Drain apart, on Stop's clock), but no gap reaches
// it, so every one counts as received.
func TestSenderStopWaitsForTrickle(t *testing.T) {
	h, addr := startHeldReflector(t)
	const drain = 250 * time.Millisecond
	clk := &fakeClock{now: time.Now()}
	s, err := start(t.Context(), Config{Target: addr, Rate: 200, Drain: drain}, nil, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	waitSent(t, s, 60) // none answered yet
	samples := trickle(t, h, s, clk, -1, drain*3/4)
	if n := lostCount(samples); n != 0 {
		t.Fatalf("%d of %d late replies counted as lost", n, len(samples))
	}
	for i, x := range samples {
		if x.Copies != 1 || x.Arrival < 0 {
			t.Fatalf("sample %d: %+v", i, x)
		}
	}
}

// Replies stop for good: Stop gives the rest up after Drain of silence,
// long before DrainMax, and counts exactly the replies that came.
func TestSenderStopGivesUpWhenIdle(t *testing.T) {
	h, addr := startHeldReflector(t)
	s, err := Start(t.Context(), Config{Target: addr, Rate: 200, Drain: 100 * time.Millisecond, DrainMax: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const answered = 10
	stop := make(chan struct{})
	defer close(stop)
	released := make(chan struct{})
	go func() { h.release(answered, stop); close(released) }()
	waitSent(t, s, 4*answered)
	<-released
	samples := stopWithin(t, s, stopGuard)
	if got := len(samples) - lostCount(samples); got != answered {
		t.Fatalf("%d received, want %d", got, answered)
	}
	for i, x := range samples[:answered] {
		if x.Lost() {
			t.Fatalf("answered sample %d counted as lost", i)
		}
	}
}

// Replies that would never stop coming, but not for every packet: DrainMax
// ends the wait; what had not come back by then is lost. Stop's clock
// reaches DrainMax with the fourth reply, 1/4 DrainMax apart.
func TestSenderStopDrainMax(t *testing.T) {
	h, addr := startHeldReflector(t)
	const drainMax = 200 * time.Millisecond
	clk := &fakeClock{now: time.Now()}
	s, err := start(t.Context(), Config{Target: addr, Rate: 500, Drain: time.Hour, DrainMax: drainMax}, nil, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	waitSent(t, s, 100)
	const answered = 4
	samples := trickle(t, h, s, clk, answered, drainMax/answered)
	if got := len(samples) - lostCount(samples); got != answered {
		t.Fatalf("%d of %d received, want %d", got, len(samples), answered)
	}
}

// A reply that came while this process did not run (a busy machine) waits
// in the socket: by the clock the sender is idle, but Stop must not give up
// on a reply that has arrived.
func TestSenderDrainWaitsForQueuedReply(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("queued: not implemented on " + runtime.GOOS)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := peer.Write([]byte("a reply")); err != nil {
		t.Fatal(err)
	}
	if !queued(conn) {
		t.Fatal("queued: false with a datagram waiting")
	}
	clk := &fakeClock{now: time.Now()}
	s := &Sender{cfg: Config{Drain: time.Second, DrainMax: time.Hour}, conn: conn, now: clk.Now, recs: make([]record, 1)}
	t0 := clk.Now()
	clk.Advance(2 * time.Second) // idle by the clock
	why := make(chan string, 1)
	go func() { why <- s.drain(t0) }()
	select {
	case w := <-why:
		t.Fatalf("drain ended (%s) with a reply waiting in the socket", w)
	case <-time.After(100 * time.Millisecond): // time to fail, not to pass
	}
	// The receiver reads it (without a match: only the queue held Stop).
	if _, err := conn.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	select {
	case w := <-why:
		if w != "idle" {
			t.Fatalf("drain ended: %s, want idle", w)
		}
	case <-time.After(stopGuard):
		t.Fatalf("drain still waiting after %v with the socket empty", stopGuard)
	}
}

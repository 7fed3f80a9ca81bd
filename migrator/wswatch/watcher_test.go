package wswatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

const ram = 64 << 20 // 16384 frames

// serve listens on a socket, as QEMU does, and hands each connection to
// the test.
func serve(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ws.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			conns <- c
		}
	}()
	return sock, conns
}

func enc(t *testing.T, r wsreport.Report) []byte {
	t.Helper()
	b, err := wsreport.Encode(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wait polls w until ok holds.
func wait(t *testing.T, w *Watcher, what string, ok func(Latest) bool) Latest {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, _ := w.Latest()
		if ok(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: latest %+v", what, l)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func start(t *testing.T, sock string) *Watcher {
	w := Start(context.Background(), Config{Socket: sock, RAMBytes: ram, Redial: 10 * time.Millisecond,
		Interval: 10 * time.Millisecond, MinInterval: time.Millisecond})
	t.Cleanup(w.Stop)
	return w
}

// requests returns the ids of the requests read from c, until c closes.
func requests(c net.Conn) <-chan uint32 {
	ids := make(chan uint32, 64)
	go func() {
		defer close(ids)
		var carry []byte
		buf := make([]byte, 256)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			id, ok, tail := wsreport.LastRequest(append(carry, buf[:n]...))
			carry = append([]byte(nil), tail...)
			if ok {
				ids <- id
			}
		}
	}()
	return ids
}

// answer waits for a request on c and writes reply(id).
func answer(t *testing.T, ids <-chan uint32, c net.Conn, reply func(id uint32) []byte) uint32 {
	t.Helper()
	select {
	case id := <-ids:
		c.Write(reply(id))
		return id
	case <-time.After(5 * time.Second):
		t.Fatal("no request")
	}
	return 0
}

// Good reports are kept, validated against the RAM; garbage, a bad
// checksum, a huge header and a full-size lying report are counted and
// cost nothing else; the reports after them still arrive.
func TestWatcherGoodGarbageHuge(t *testing.T) {
	sock, conns := serve(t)
	w := start(t, sock)
	if _, ok := w.Latest(); ok {
		t.Fatal("a report before any was sent")
	}
	c := <-conns
	ids := requests(c)
	id := answer(t, ids, c, func(id uint32) []byte {
		return enc(t, wsreport.Report{Seq: uint64(id), Hot: 1, Ranges: []wsreport.Range{{Start: 100, Count: 50}, {Start: 16380, Count: 100}}})
	})
	l := wait(t, w, "first report", func(l Latest) bool { return l.Seq == uint64(id) })
	if l.Checked.Pages != 54 || l.Checked.Clipped != 1 || !l.Connected || l.Received != 1 || l.Asked < 1 {
		t.Errorf("first report: %+v, want 54 pages (one range clipped at the RAM's end)", l)
	}

	id = answer(t, ids, c, func(id uint32) []byte {
		var junk []byte
		junk = append(junk, bytes.Repeat([]byte("garbage!"), 1000)...)
		bad := enc(t, wsreport.Report{Seq: uint64(id), Ranges: []wsreport.Range{{Start: 1, Count: 1}}})
		bad[len(bad)-1] ^= 1 // checksum
		junk = append(junk, bad...)
		huge := enc(t, wsreport.Report{Seq: uint64(id)})
		binary.BigEndian.PutUint32(huge[8:], 1<<31) // a length to allocate
		junk = append(junk, huge...)
		lying := wsreport.Report{Seq: uint64(id), Ranges: make([]wsreport.Range, wsreport.MaxRanges), Hot: 10}
		for i := range lying.Ranges {
			lying.Ranges[i] = wsreport.Range{Start: uint64(i % 3), Count: 1<<32 - 1} // all of RAM, many times
		}
		return append(junk, enc(t, lying)...)
	})
	l = wait(t, w, "lying report", func(l Latest) bool { return l.Seq == uint64(id) })
	if l.Checked.Pages != ram/wsreport.FrameSize || l.Rejected < 3 || l.Received != 2 {
		t.Errorf("after the junk: pages %d (want the RAM's %d), rejected %d, received %d", l.Checked.Pages, ram/wsreport.FrameSize, l.Rejected, l.Received)
	}
	id = answer(t, ids, c, func(id uint32) []byte {
		return enc(t, wsreport.Report{Seq: uint64(id), Ranges: []wsreport.Range{{Start: 7, Count: 1}}})
	})
	wait(t, w, "report after the junk", func(l Latest) bool { return l.Seq == uint64(id) && l.Checked.Pages == 1 })
}

// A guest that does not answer is asked again on a new connection.
func TestWatcherUnanswered(t *testing.T) {
	sock, conns := serve(t)
	w := Start(context.Background(), Config{Socket: sock, RAMBytes: ram, Redial: 10 * time.Millisecond,
		Interval: 10 * time.Millisecond, ReplyTimeout: 50 * time.Millisecond})
	t.Cleanup(w.Stop)
	c := <-conns
	<-requests(c) // and no answer
	c = <-conns
	ids := requests(c)
	id := answer(t, ids, c, func(id uint32) []byte { return enc(t, wsreport.Report{Seq: uint64(id)}) })
	l := wait(t, w, "answer on the new connection", func(l Latest) bool { return l.Seq == uint64(id) })
	if l.Unanswered < 1 || l.Asked < 2 {
		t.Errorf("%+v: want one unanswered of at least two asked", l)
	}
}

// Quiet closes the connection once the request in flight is answered and
// asks nothing more; Resume connects again. The report is kept.
func TestWatcherQuietResume(t *testing.T) {
	sock, conns := serve(t)
	w := start(t, sock)
	c := <-conns
	ids := requests(c)
	answer(t, ids, c, func(id uint32) []byte { return enc(t, wsreport.Report{Seq: uint64(id)}) })
	id := <-ids // in flight, from a guest that answers
	quiet := make(chan struct{})
	go func() { w.Quiet(context.Background()); close(quiet) }()
	select {
	case <-quiet:
		t.Fatal("Quiet returned before the answer in flight")
	case <-time.After(50 * time.Millisecond):
	}
	c.Write(enc(t, wsreport.Report{Seq: uint64(id)}))
	select {
	case <-quiet:
	case <-time.After(5 * time.Second):
		t.Fatal("Quiet hangs after the answer")
	}
	if _, ok := <-ids; ok {
		t.Error("a request after Quiet")
	}
	l, _ := w.Latest()
	if l.Connected || !l.Quiet || l.Seq != uint64(id) {
		t.Errorf("quiet: %+v", l)
	}
	select {
	case <-conns:
		t.Fatal("connected while quiet")
	case <-time.After(50 * time.Millisecond):
	}
	w.Resume()
	c = <-conns
	ids = requests(c)
	id = answer(t, ids, c, func(id uint32) []byte { return enc(t, wsreport.Report{Seq: uint64(id)}) })
	wait(t, w, "report after Resume", func(l Latest) bool { return l.Seq == uint64(id) && !l.Quiet && l.Connected })
}

// Quiet's ctx bounds the wait for an answer that does not come.
func TestWatcherQuietBounded(t *testing.T) {
	sock, conns := serve(t)
	w := start(t, sock)
	c := <-conns
	<-requests(c) // never answered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { w.Quiet(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Quiet hangs past its ctx")
	}
	if l, _ := w.Latest(); l.Connected {
		t.Error("still connected")
	}
}

// The Watcher reconnects when the port's socket closes (QEMU keeps
// serving it; a new QEMU at the destination serves a new one).
func TestWatcherReconnects(t *testing.T) {
	sock, conns := serve(t)
	w := start(t, sock)
	c := <-conns
	id := answer(t, requests(c), c, func(id uint32) []byte { return enc(t, wsreport.Report{Seq: uint64(id)}) })
	wait(t, w, "first", func(l Latest) bool { return l.Seq == uint64(id) })
	c.Close()
	c = <-conns
	id = answer(t, requests(c), c, func(id uint32) []byte { return enc(t, wsreport.Report{Seq: uint64(id)}) })
	wait(t, w, "after reconnecting", func(l Latest) bool { return l.Seq == uint64(id) && l.Connected })
}

// Stop returns while a guest holds a report half-written.
func TestWatcherStopsMidReport(t *testing.T) {
	sock, conns := serve(t)
	w := Start(context.Background(), Config{Socket: sock, RAMBytes: ram})
	c := <-conns
	c.Write(enc(t, wsreport.Report{Seq: 1, Ranges: make([]wsreport.Range, 0)})[:wsreport.HeaderLen-3])
	done := make(chan struct{})
	go func() { w.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop hangs on a half-written report")
	}
}

// Without a socket the Watcher keeps trying and reports nothing.
func TestWatcherNoSocket(t *testing.T) {
	w := start(t, filepath.Join(t.TempDir(), "none.sock"))
	time.Sleep(50 * time.Millisecond)
	if l, ok := w.Latest(); ok || l.Connected {
		t.Errorf("latest %+v without a socket", l)
	}
}

// A guest that never answers is asked ever more rarely: the pause before
// reconnecting doubles up to MaxRedial (a lower bound on time only).
func TestWatcherBacksOff(t *testing.T) {
	sock, conns := serve(t)
	w := Start(context.Background(), Config{Socket: sock, RAMBytes: ram, Redial: 5 * time.Millisecond,
		MaxRedial: 80 * time.Millisecond, ReplyTimeout: 10 * time.Millisecond})
	t.Cleanup(w.Stop)
	var last time.Time
	for i := range 6 {
		select {
		case <-conns:
		case <-time.After(5 * time.Second):
			t.Fatalf("connection %d never came", i)
		}
		// Redials 10, 20, 40, 80, 80 ms after the 10 ms reply wait.
		if now := time.Now(); i == 5 && now.Sub(last) < 80*time.Millisecond {
			t.Errorf("sixth connection %v after the fifth, want at least MaxRedial", now.Sub(last))
		} else {
			last = now
		}
	}
}

// A report's staleness is its age when the Watcher went quiet, if it did.
func TestLatestStaleness(t *testing.T) {
	at := time.Now()
	l := Latest{At: at}
	if s := l.Staleness(at.Add(time.Minute)); s != time.Minute {
		t.Errorf("not quiet: %v", s)
	}
	l.Quiet, l.QuietAt = true, at.Add(time.Second)
	if s := l.Staleness(at.Add(time.Hour)); s != time.Second {
		t.Errorf("quiet: %v, want the age at the quiet", s)
	}
	// The answer in flight at the quiet, which Quiet waited for: new then.
	l.At = l.QuietAt.Add(40 * time.Millisecond)
	if s := l.Staleness(at.Add(time.Hour)); s != 0 {
		t.Errorf("answer after the quiet: %v, want 0", s)
	}
}

// Quiet does not wait for a guest that has never answered: it lets go at
// once, whatever its ctx allows.
func TestWatcherQuietSilentGuest(t *testing.T) {
	sock, conns := serve(t)
	w := start(t, sock)
	c := <-conns
	<-requests(c) // in flight, and the guest never answers
	done := make(chan struct{})
	go func() { w.Quiet(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Quiet waits for a guest that never answered")
	}
	if l, _ := w.Latest(); l.Connected || !l.Quiet {
		t.Errorf("%+v: want quiet, not connected", l)
	}
}

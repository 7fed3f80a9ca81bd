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
	w := Start(context.Background(), Config{Socket: sock, RAMBytes: ram, Redial: 10 * time.Millisecond, MinInterval: time.Millisecond})
	t.Cleanup(w.Stop)
	return w
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
	c.Write(enc(t, wsreport.Report{Seq: 1, Hot: 1, Ranges: []wsreport.Range{{Start: 100, Count: 50}, {Start: 16380, Count: 100}}}))
	l := wait(t, w, "first report", func(l Latest) bool { return l.Seq == 1 })
	if l.Checked.Pages != 54 || l.Checked.Clipped != 1 || !l.Connected || l.Received != 1 {
		t.Errorf("first report: %+v, want 54 pages (one range clipped at the RAM's end)", l)
	}

	var junk []byte
	junk = append(junk, bytes.Repeat([]byte("garbage!"), 1000)...)
	bad := enc(t, wsreport.Report{Seq: 2, Ranges: []wsreport.Range{{Start: 1, Count: 1}}})
	bad[len(bad)-1] ^= 1 // checksum
	junk = append(junk, bad...)
	huge := enc(t, wsreport.Report{Seq: 3})
	binary.BigEndian.PutUint32(huge[8:], 1<<31) // a length to allocate
	junk = append(junk, huge...)
	lying := wsreport.Report{Seq: 4, Ranges: make([]wsreport.Range, wsreport.MaxRanges), Hot: 10}
	for i := range lying.Ranges {
		lying.Ranges[i] = wsreport.Range{Start: uint64(i % 3), Count: 1<<32 - 1} // all of RAM, many times
	}
	junk = append(junk, enc(t, lying)...)
	c.Write(junk)
	l = wait(t, w, "lying report", func(l Latest) bool { return l.Seq == 4 })
	if l.Checked.Pages != ram/wsreport.FrameSize || l.Rejected < 3 || l.Received != 2 {
		t.Errorf("after the junk: pages %d (want the RAM's %d), rejected %d, received %d", l.Checked.Pages, ram/wsreport.FrameSize, l.Rejected, l.Received)
	}
	c.Write(enc(t, wsreport.Report{Seq: 5, Ranges: []wsreport.Range{{Start: 7, Count: 1}}}))
	wait(t, w, "report after the junk", func(l Latest) bool { return l.Seq == 5 && l.Checked.Pages == 1 })
}

// The Watcher reconnects when the port's socket closes (QEMU keeps
// serving it; a new QEMU at the destination serves a new one).
func TestWatcherReconnects(t *testing.T) {
	sock, conns := serve(t)
	w := start(t, sock)
	c := <-conns
	c.Write(enc(t, wsreport.Report{Seq: 1}))
	wait(t, w, "first", func(l Latest) bool { return l.Seq == 1 })
	c.Close()
	c = <-conns
	c.Write(enc(t, wsreport.Report{Seq: 2}))
	wait(t, w, "after reconnecting", func(l Latest) bool { return l.Seq == 2 && l.Connected })
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

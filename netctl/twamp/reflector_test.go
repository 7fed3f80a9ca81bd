package twamp

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

func TestReflectorLoopback(t *testing.T) {
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReflector(nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, rc) }()

	sc, err := net.DialUDP("udp4", nil, rc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := ipv4.NewConn(sc).SetTTL(42); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	const n = 5
	for i := range uint32(n) {
		t1 := NewTimestamp(time.Now())
		pad := make([]byte, 100)
		pad[99] = byte(i)
		if _, err := sc.Write(AppendSender(nil, SenderPacket{Seq: 1000 + i, Timestamp: t1, ErrorEstimate: DefaultErrorEstimate, Padding: pad})); err != nil {
			t.Fatal(err)
		}
		sc.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, err := sc.Read(buf)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		t4 := NewTimestamp(time.Now())
		// A status read after the reply arrived counts it (the vnf's
		// status query is answered by another goroutine).
		if r.Seq() != i+1 || r.Reflected() != uint64(i+1) {
			t.Errorf("after reply %d: seq %d reflected %d, want %d", i, r.Seq(), r.Reflected(), i+1)
		}
		rp, err := DecodeReflector(buf[:m])
		if err != nil {
			t.Fatal(err)
		}
		if m != SenderHeaderLen+100 {
			t.Errorf("reply %d octets, want symmetric %d", m, SenderHeaderLen+100)
		}
		if rp.Seq != i || rp.SenderSeq != 1000+i || rp.SenderTimestamp != t1 {
			t.Errorf("packet %d: seq %d sender seq %d", i, rp.Seq, rp.SenderSeq)
		}
		if rp.SenderTTL != 42 {
			t.Errorf("sender TTL = %d, want 42", rp.SenderTTL)
		}
		if rp.Padding[len(rp.Padding)-1] != byte(i) {
			t.Errorf("padding not mirrored")
		}
		if rtt := rp.RoundTrip(t4); rtt < 0 || rp.ReflectorDelay() < 0 {
			t.Errorf("negative rtt %v or reflector delay %v", rtt, rp.ReflectorDelay())
		}
	}
	// A runt is dropped without consuming a sequence number.
	sc.Write([]byte{1, 2, 3})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.Seq() != n || r.Reflected() != n {
		t.Fatalf("seq %d reflected %d, want %d", r.Seq(), r.Reflected(), n)
	}
}

// SetWork's function sees every test packet before it is answered.
func TestReflectorWork(t *testing.T) {
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReflector(nil)
	seen := make(chan uint32, 10)
	r.SetWork(func(p []byte) {
		sp, err := DecodeSender(p)
		if err != nil {
			t.Errorf("work got %d octets: %v", len(p), err)
			return
		}
		seen <- sp.Seq
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, rc) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	sc, err := net.DialUDP("udp4", nil, rc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	buf := make([]byte, 2048)
	for i := range uint32(3) {
		if _, err := sc.Write(AppendSender(nil, SenderPacket{Seq: 7 + i, ErrorEstimate: DefaultErrorEstimate})); err != nil {
			t.Fatal(err)
		}
		sc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := sc.Read(buf); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		select {
		case s := <-seen:
			if s != 7+i {
				t.Errorf("work saw sender seq %d, want %d", s, 7+i)
			}
		default:
			t.Errorf("reply %d came before its work", i)
		}
	}
}

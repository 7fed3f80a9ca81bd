package vnf

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
)

// lineWriter sends each Write to a channel.
type lineWriter chan string

func (w lineWriter) Write(b []byte) (int, error) { w <- string(b); return len(b), nil }

func exchange(t *testing.T, addr netip.AddrPort, msg []byte) []byte {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no answer from %s: %v", addr, err)
	}
	return buf[:n]
}

func TestLoopbackEndToEnd(t *testing.T) {
	ready := make(lineWriter, 1)
	v, err := New(Config{
		TWAMPAddr: "127.0.0.1:0", EchoAddr: "127.0.0.1:0", StatusAddr: "127.0.0.1:0",
		WSSMB: 1, DirtyRate: 1, VerifyRate: 16, VerifyPass: 10 * time.Millisecond,
		Ready: ready,
	}, discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	select {
	case line := <-ready:
		if line != "vnf: ready\n" {
			t.Fatalf("ready line %q", line)
		}
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("vnf not ready")
	}
	tw, echo, status := v.Addrs()

	for i := range uint32(3) {
		in := twamp.AppendSender(nil, twamp.SenderPacket{Seq: 100 + i, Timestamp: twamp.NewTimestamp(time.Now()), Padding: make([]byte, 27)})
		rp, err := twamp.DecodeReflector(exchange(t, tw, in))
		if err != nil {
			t.Fatal(err)
		}
		if rp.Seq != i || rp.SenderSeq != 100+i {
			t.Fatalf("reflector seq %d sender seq %d", rp.Seq, rp.SenderSeq)
		}
	}
	msg := []byte("hello, echo")
	if got := exchange(t, echo, msg); !bytes.Equal(got, msg) {
		t.Fatalf("echo returned %q", got)
	}

	qctx, qcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer qcancel()
	var s vnfproto.Status
	for {
		if s, err = vnfproto.Query(qctx, status); err != nil {
			t.Fatal(err)
		}
		if s.VerifyPasses >= 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.BootID != v.boot || s.BootID == ([16]byte{}) {
		t.Errorf("boot id %x", s.BootID)
	}
	if s.PacketsReflected != 3 || s.ReflectorSeq != 3 || s.EchoPackets != 1 {
		t.Errorf("reflected %d seq %d echo %d", s.PacketsReflected, s.ReflectorSeq, s.EchoPackets)
	}
	if s.WSSPages != 256 || s.PagesWritten < 256 || s.PagesVerified < 256 {
		t.Errorf("wss %d written %d verified %d", s.WSSPages, s.PagesWritten, s.PagesVerified)
	}
	if s.CorruptPages != 0 || s.StalePages != 0 || s.Uptime <= 0 {
		t.Errorf("corrupt %d stale %d uptime %v", s.CorruptPages, s.StalePages, s.Uptime)
	}
	// The host's kernel stands in for the guest's: its UDP counters are read.
	if _, err := os.Stat("/proc/net/snmp"); err == nil && s.Reported&vnfproto.HasUDPRcvbufErrors == 0 {
		t.Errorf("udp counters not reported: %+v", s)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{
		{WSSMB: -1},
		{DirtyRate: -1},
		{Fill: Fill(9)},
		{WSSMB: 2, Mix: Mix{Unique: 1}},
		{Fill: FillZero, Mix: Mix{Unique: 1}},
		{TWAMPAddr: "127.0.0.1:notaport"},
	} {
		if v, err := New(c, nil); err == nil {
			v.Close()
			t.Errorf("accepted %+v", c)
		}
	}
}

func TestNewFailsOnBusyPort(t *testing.T) {
	busy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = New(Config{TWAMPAddr: "127.0.0.1:0", EchoAddr: busy.LocalAddr().String(), StatusAddr: "127.0.0.1:0"}, nil)
	if err == nil || !strings.Contains(err.Error(), "listening") {
		t.Fatalf("err = %v", err)
	}
}

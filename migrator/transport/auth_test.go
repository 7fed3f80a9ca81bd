package transport

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/pki"
)

func wantPeerErr(t *testing.T, err error, kind error, subs ...string) {
	t.Helper()
	t.Logf("dial error: %v", err)
	var pe *PeerError
	if !errors.Is(err, kind) || !errors.As(err, &pe) {
		t.Fatalf("error %v, want a *PeerError wrapping %v", err, kind)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

// A client whose certificate comes from another CA is refused by the
// server, which logs why; the client says the peer refused it.
func TestClientFromOtherCA(t *testing.T) {
	p, rogue := newPKI(t), newPKI(t)
	peers := peersPath(t)
	b := startNode(t, p.identity(t, "hostB"), peers)
	id := rogue.identity(t, "hostA")
	id.CA = p.identity(t, "hostA").CA // trusts the real CA, so it accepts hostB
	a := startNode(t, id, peers)
	writePeers(t, peers, map[string]*testNode{"hostB": b})
	_, err := a.Dial(ctxT(t), "hostB")
	wantPeerErr(t, err, ErrPeerAuth, "peer hostB ("+b.Addr().String()+") refused our certificate", "bad certificate")
	b.log.waitLog(t, "refused peer", "remote=127.0.0.1:", `certificate of \"hostA\"`, "unknown authority")
	t.Logf("server log:\n%s", b.log)
	select {
	case c := <-b.conns:
		t.Fatalf("connection from %s accepted", c.Peer())
	default:
	}
}

// A server whose certificate comes from another CA is refused by the client.
func TestServerFromOtherCA(t *testing.T) {
	p, rogue := newPKI(t), newPKI(t)
	peers := peersPath(t)
	id := rogue.identity(t, "hostB")
	id.CA = p.identity(t, "hostB").CA
	b := startNode(t, id, peers)
	a := startNode(t, p.identity(t, "hostA"), peers)
	writePeers(t, peers, map[string]*testNode{"hostB": b})
	_, err := a.Dial(ctxT(t), "hostB")
	wantPeerErr(t, err, ErrPeerAuth, "peer hostB (", ") presented a certificate we refuse: tls: failed to verify certificate: x509: certificate signed by unknown authority")
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Errorf("error %v does not wrap x509.UnknownAuthorityError", err)
	}
}

// A server that presents a good certificate for another host is refused.
func TestServerNamesAnotherHost(t *testing.T) {
	p := newPKI(t)
	peers := peersPath(t)
	c := startNode(t, p.identity(t, "hostC"), peers)
	a := startNode(t, p.identity(t, "hostA"), peers)
	writePeers(t, peers, map[string]*testNode{"hostB": c})
	_, err := a.Dial(ctxT(t), "hostB")
	wantPeerErr(t, err, ErrPeerAuth, "peer hostB (", "presented a certificate we refuse", "certificate is valid for hostC, not hostB")
}

func TestUnknownPeer(t *testing.T) {
	p := newPKI(t)
	peers := peersPath(t)
	a := startNode(t, p.identity(t, "hostA"), peers)
	_, err := a.Dial(ctxT(t), "hostB")
	wantPeerErr(t, err, ErrUnknownPeer, "peer hostB unknown", "no such file")
	writePeers(t, peers, map[string]*testNode{"hostA": a})
	_, err = a.Dial(ctxT(t), "hostB")
	wantPeerErr(t, err, ErrUnknownPeer, "peer hostB unknown: not in "+peers)
	os.WriteFile(peers, []byte("hostB\n"), 0o644)
	_, err = a.Dial(ctxT(t), "hostB")
	wantPeerErr(t, err, ErrUnknownPeer, "line 1: want \"HOST ADDR:PORT\"")

	n, err := New(Config{Identity: p.identity(t, "hostD")})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	_, err = n.Dial(ctxT(t), "hostA")
	wantPeerErr(t, err, ErrUnknownPeer, "no peers file configured")
}

func TestUnreachable(t *testing.T) {
	p := newPKI(t)
	peers := peersPath(t)
	a := startNode(t, p.identity(t, "hostA"), peers, idle(time.Second))
	dead, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.LocalAddr().String()
	dead.Close()
	os.WriteFile(peers, []byte("hostB "+addr+"\n"), 0o644)
	_, err = a.Dial(ctxT(t), "hostB")
	wantPeerErr(t, err, ErrPeerUnreachable, "peer hostB ("+addr+") not answering")
}

func TestConfigValidation(t *testing.T) {
	id := newPKI(t).identity(t, "hostA")
	for _, cfg := range []Config{
		{},
		{Identity: id, IdleTimeout: time.Second, KeepAlive: 2 * time.Second},
		{Identity: id, Listen: "127.0.0.1:0"},
		{Identity: id, Listen: "nonsense:x", Accept: func(context.Context, *Conn) {}},
	} {
		if n, err := New(cfg); err == nil {
			n.Close()
			t.Errorf("config %+v accepted", cfg)
		}
	}
	n, err := New(Config{Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Serve(ctxT(t)); err == nil {
		t.Error("Serve without a listen address")
	}
}

func TestDialCanceled(t *testing.T) {
	p := newPKI(t)
	peers := peersPath(t)
	a := startNode(t, p.identity(t, "hostA"), peers)
	os.WriteFile(peers, []byte("hostB 127.0.0.1:9\n"), 0o644)
	ctx, cancel := context.WithTimeout(ctxT(t), 200*time.Millisecond)
	defer cancel()
	_, err := a.Dial(ctx, "hostB")
	wantPeerErr(t, err, ErrPeerUnreachable, "peer hostB (127.0.0.1:9)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not wrap the ctx error", err)
	}
	ctx, cancel = context.WithCancel(ctxT(t))
	cancel()
	_, err = a.Dial(ctx, "hostB")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%v does not wrap context.Canceled", err)
	}
}

// expiredIdentity is host's identity from p's CA, loaded while valid and
// expired by the time it returns (as in an agent that ran past it).
func expiredIdentity(t *testing.T, p *testPKI, host string) *pki.Identity {
	t.Helper()
	if err := pki.Issue(p.dir, host, nil, time.Second); err != nil {
		t.Fatal(err)
	}
	id := p.identity(t, host)
	time.Sleep(time.Until(id.Cert.Leaf.NotAfter) + 50*time.Millisecond)
	return id
}

// A peer whose certificate has expired is refused, client or server.
func TestExpiredPeerCertificate(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		p := newPKI(t)
		peers := peersPath(t)
		b := startNode(t, p.identity(t, "hostB"), peers)
		a := startNode(t, expiredIdentity(t, p, "hostA"), peers)
		writePeers(t, peers, map[string]*testNode{"hostB": b})
		_, err := a.Dial(ctxT(t), "hostB")
		wantPeerErr(t, err, ErrPeerAuth, "refused our certificate")
		b.log.waitLog(t, "refused peer", `certificate of \"hostA\"`, "expired")
		select {
		case c := <-b.conns:
			t.Fatalf("connection from %s accepted", c.Peer())
		default:
		}
	})
	t.Run("server", func(t *testing.T) {
		p := newPKI(t)
		peers := peersPath(t)
		b := startNode(t, expiredIdentity(t, p, "hostB"), peers)
		a := startNode(t, p.identity(t, "hostA"), peers)
		writePeers(t, peers, map[string]*testNode{"hostB": b})
		_, err := a.Dial(ctxT(t), "hostB")
		wantPeerErr(t, err, ErrPeerAuth, "presented a certificate we refuse", "expired")
	})
}

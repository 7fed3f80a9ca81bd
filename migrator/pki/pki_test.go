package pki

import (
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

func newCA(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := NewCA(dir, "nfhandoff test CA", 30*day); err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(dir, ca, host, keyHost string) (*Identity, error) {
	return LoadIdentity(filepath.Join(ca, CAFile), filepath.Join(dir, CertFile(host)), filepath.Join(dir, KeyFile(keyHost)))
}

func wantErr(t *testing.T, what string, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want one containing %q", what, subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: error %q does not contain %q", what, err, s)
		}
	}
}

func TestIssueAndLoad(t *testing.T) {
	dir := newCA(t)
	ip := net.ParseIP("198.18.0.11")
	if err := Issue(dir, "hostA", []net.IP{ip}, 10*day); err != nil {
		t.Fatal(err)
	}
	id, err := load(dir, dir, "hostA", "hostA")
	if err != nil {
		t.Fatal(err)
	}
	leaf := id.Cert.Leaf
	if id.Name != "hostA" || leaf.Subject.CommonName != "hostA" || len(leaf.DNSNames) != 1 ||
		len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(ip) {
		t.Errorf("identity %q: CN %q DNS %v IP %v", id.Name, leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
	}
	// libvirt's TLS (issue 14) wants both key usages, and both
	// extended ones since a daemon is a client in a p2p migration.
	if ku := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; leaf.KeyUsage&ku != ku {
		t.Errorf("key usage %#x, want digital signature and key encipherment", leaf.KeyUsage)
	}
	if eku := leaf.ExtKeyUsage; len(eku) != 2 || eku[0] != x509.ExtKeyUsageServerAuth || eku[1] != x509.ExtKeyUsageClientAuth {
		t.Errorf("extended key usage %v, want server and client auth", eku)
	}
	if left := time.Until(leaf.NotAfter); left < 9*day || left > 10*day {
		t.Errorf("certificate valid for %v more, want about 10 days", left)
	}
	for f, want := range map[string]os.FileMode{CAFile: 0o644, CAKeyFile: 0o600, "hostA.pem": 0o644, "hostA-key.pem": 0o600} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", f, st.Mode().Perm(), err, want)
		}
	}
}

func TestLeafNeverOutlivesCA(t *testing.T) {
	dir := newCA(t)
	if err := Issue(dir, "hostA", nil, 365*day); err != nil {
		t.Fatal(err)
	}
	id, err := load(dir, dir, "hostA", "hostA")
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(id.Cert.Leaf.NotAfter); left > 30*day {
		t.Errorf("leaf valid %v more, past its CA's 30 days", left)
	}
}

func TestRefuseOverwrite(t *testing.T) {
	dir := newCA(t)
	before, _ := os.ReadFile(filepath.Join(dir, CAFile))
	err := NewCA(dir, "other", day)
	wantErr(t, "second CA", err, filepath.Join(dir, CAFile), "already exists: refusing to overwrite")
	if !errors.Is(err, ErrExists) {
		t.Errorf("%v does not wrap ErrExists", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CAFile))
	if string(before) != string(after) {
		t.Error("CA certificate changed")
	}
	if err := Issue(dir, "hostA", nil, day); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "second issue", Issue(dir, "hostA", nil, day), "hostA.pem already exists")
	os.Remove(filepath.Join(dir, "hostA.pem"))
	wantErr(t, "issue over a key", Issue(dir, "hostA", nil, day), "hostA-key.pem already exists")
}

func TestWrongCA(t *testing.T) {
	dir, other := newCA(t), newCA(t)
	if err := Issue(dir, "hostA", nil, day); err != nil {
		t.Fatal(err)
	}
	_, err := load(dir, other, "hostA", "hostA")
	wantErr(t, "cert from another CA", err, "hostA.pem", "not accepted by the CA", "unknown authority")
}

func TestKeyMismatch(t *testing.T) {
	dir := newCA(t)
	for _, h := range []string{"hostA", "hostB"} {
		if err := Issue(dir, h, nil, day); err != nil {
			t.Fatal(err)
		}
	}
	_, err := load(dir, dir, "hostA", "hostB")
	wantErr(t, "mismatched key", err, "hostA.pem", "hostB-key.pem", "private key does not match public key")
}

func TestExpired(t *testing.T) {
	dir := newCA(t)
	now := time.Now()
	if err := issue(dir, "hostA", nil, now.Add(-3*day), now.Add(-day)); err != nil {
		t.Fatal(err)
	}
	_, err := load(dir, dir, "hostA", "hostA")
	wantErr(t, "expired cert", err, `certificate of "hostA" expired at`)
}

func TestMissingFiles(t *testing.T) {
	dir := newCA(t)
	_, err := load(dir, dir, "hostA", "hostA")
	wantErr(t, "missing cert", err, "hostA.pem", "no such file")
	_, err = LoadIdentity(filepath.Join(dir, "nope.pem"), "x", "y")
	wantErr(t, "missing CA", err, "nope.pem", "no such file")
	wantErr(t, "issue without CA", Issue(t.TempDir(), "hostA", nil, day), "ca.pem", "no such file")
}

func TestBadArguments(t *testing.T) {
	dir := newCA(t)
	for _, h := range []string{"", "-x", "a/b", "../x", "a b", strings.Repeat("h", 64)} {
		if err := Issue(dir, h, nil, day); err == nil {
			t.Errorf("Issue accepted host %q", h)
		}
	}
	wantErr(t, "zero validity", Issue(dir, "hostA", nil, 0), "validity")
	wantErr(t, "empty CN", NewCA(t.TempDir(), "", day), "common name")
	for _, h := range []string{"hostA", "a", "node-1.example"} {
		if err := ValidHost(h); err != nil {
			t.Errorf("ValidHost(%q): %v", h, err)
		}
	}
}

package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Identity is what an agent presents and trusts: its own certificate and
// key, the host name the certificate names, and the CA pool peers must
// chain to.
type Identity struct {
	Name string
	Cert tls.Certificate
	CA   *x509.CertPool
}

// LoadIdentity reads a CA file and a host's certificate and key. It fails
// with a clear error when a file is missing or unreadable, the key does not
// match the certificate, the certificate is expired or not yet valid, or it
// does not chain to the CA for both server and client authentication. Name
// is the certificate's first SAN DNS name.
func LoadIdentity(caFile, certFile, keyFile string) (*Identity, error) {
	cas, err := readCerts(caFile)
	if err != nil {
		return nil, fmt.Errorf("loading CA: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading %s and %s: %w", certFile, keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", certFile, err)
		}
		pair.Leaf = leaf
	}
	if err := check(leaf, pair.Certificate[1:], pool, time.Now()); err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	return &Identity{Name: leaf.DNSNames[0], Cert: pair, CA: pool}, nil
}

// check verifies that leaf is valid at now, names a host in its first SAN
// DNS name, and chains (through intermediates, DER) to pool for server and
// client authentication.
func check(leaf *x509.Certificate, intermediates [][]byte, pool *x509.CertPool, now time.Time) error {
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("certificate of %q expired at %s", leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("certificate of %q not valid before %s", leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if len(leaf.DNSNames) == 0 {
		return errors.New("certificate has no SAN DNS name (the host name)")
	}
	inter := x509.NewCertPool()
	for _, der := range intermediates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("intermediate certificate: %w", err)
		}
		inter.AddCert(c)
	}
	for _, use := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{use}})
		if err != nil {
			return fmt.Errorf("certificate of %q not accepted by the CA: %w", leaf.DNSNames[0], err)
		}
	}
	return nil
}

package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names inside a PKI directory.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

// CertFile and KeyFile name a host's certificate and key inside a PKI directory.
func CertFile(host string) string { return host + ".pem" }
func KeyFile(host string) string  { return host + "-key.pem" }

// backdate lets certificates be used at once by hosts whose clocks lag a little.
const backdate = time.Hour

// NewCA creates a CA in dir (made if missing): ca.pem and ca-key.pem (0600),
// valid for validity from now. It refuses to overwrite either file.
func NewCA(dir, commonName string, validity time.Duration) error {
	if commonName == "" {
		return errors.New("creating CA: empty common name")
	}
	if validity <= 0 {
		return fmt.Errorf("creating CA: validity %v, want > 0", validity)
	}
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	if err := absent(certPath, keyPath); err != nil {
		return fmt.Errorf("creating CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	key, der, err := sign(tmpl, nil, nil)
	if err != nil {
		return fmt.Errorf("creating CA: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating CA: %w", err)
	}
	return writePair(certPath, keyPath, der, key)
}

// Issue writes <host>.pem and <host>-key.pem in dir: a certificate for host
// (CN and SAN DNS name, plus ips as SAN IP addresses) for server and client
// authentication, signed by dir's CA and valid for validity from now. It
// refuses to overwrite either file.
func Issue(dir, host string, ips []net.IP, validity time.Duration) error {
	if validity <= 0 {
		return fmt.Errorf("issuing %s: validity %v, want > 0", host, validity)
	}
	now := time.Now()
	return issue(dir, host, ips, now.Add(-backdate), now.Add(validity))
}

func issue(dir, host string, ips []net.IP, notBefore, notAfter time.Time) error {
	if err := ValidHost(host); err != nil {
		return fmt.Errorf("issuing certificate: %w", err)
	}
	certPath, keyPath := filepath.Join(dir, CertFile(host)), filepath.Join(dir, KeyFile(host))
	if err := absent(certPath, keyPath); err != nil {
		return fmt.Errorf("issuing %s: %w", host, err)
	}
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return fmt.Errorf("issuing %s: %w", host, err)
	}
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter // a leaf outliving its CA would fail verification anyway
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: host},
		DNSNames:    []string{host},
		IPAddresses: ips,
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		// Key encipherment too: libvirt 9.0 (its TLS, issue 14) refuses a
		// certificate whose critical key usage (Go always marks it so)
		// lacks it, even for an ECDSA key; Go's TLS ignores the bit.
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	key, der, err := sign(tmpl, ca, caKey)
	if err != nil {
		return fmt.Errorf("issuing %s: %w", host, err)
	}
	return writePair(certPath, keyPath, der, key)
}

// ValidHost checks a host name used as certificate name and file name:
// letters, digits, '-' and '.', starting with a letter or digit, at most 63
// characters.
func ValidHost(host string) error {
	if host == "" || len(host) > 63 {
		return fmt.Errorf("host name %q: want 1..63 characters", host)
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || i > 0 && (c == '-' || c == '.')
		if !ok {
			return fmt.Errorf("host name %q: character %q at %d not allowed (letters, digits, '-', '.')", host, c, i)
		}
	}
	return nil
}

// sign makes a new P-256 key and a certificate for it from tmpl, signed by
// parent/parentKey (self-signed when parent is nil).
func sign(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generating serial: %w", err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate: %w", err)
	}
	return key, der, nil
}

// ErrExists is wrapped by the errors of NewCA and Issue when a file they
// would write exists already.
var ErrExists = errors.New("already exists")

// absent fails when any of paths exists.
func absent(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s %w: refusing to overwrite it", p, ErrExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

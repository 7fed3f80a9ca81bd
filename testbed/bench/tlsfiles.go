package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/pki"
)

// qemuCreds is a host's directory of QEMU x509 credentials, one
// subdirectory per endpoint, named as QEMU expects: ca-cert.pem and
// server-cert.pem/server-key.pem or client-cert.pem/client-key.pem.
type qemuCreds string

// Dir is the directory for endpoint "server" or "client".
func (c qemuCreds) Dir(endpoint string) string { return filepath.Join(string(c), endpoint) }

// makeQEMUCreds makes a CA and a certificate per host (CN and SAN DNS name
// = host name, SAN IP = its address) with migrator/pki, the same kind the
// agents use, and lays them out for QEMU under runDir/qemu-tls.
func makeQEMUCreds(runDir string, hosts []*Host) (map[string]qemuCreds, error) {
	dir := filepath.Join(runDir, "qemu-tls")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	ca := filepath.Join(dir, "pki")
	if err := pki.NewCA(ca, "nfb bench CA", 24*time.Hour); err != nil {
		return nil, err
	}
	out := make(map[string]qemuCreds)
	for _, h := range hosts {
		if err := pki.Issue(ca, h.Name, []net.IP{h.Addr.AsSlice()}, 24*time.Hour); err != nil {
			return nil, err
		}
		c := qemuCreds(filepath.Join(dir, h.Name))
		for _, ep := range []string{"server", "client"} {
			files := map[string]string{
				"ca-cert.pem":    pki.CAFile,
				ep + "-cert.pem": pki.CertFile(h.Name),
				ep + "-key.pem":  pki.KeyFile(h.Name),
			}
			if err := os.MkdirAll(c.Dir(ep), 0o700); err != nil {
				return nil, err
			}
			for to, from := range files {
				b, err := os.ReadFile(filepath.Join(ca, from))
				if err != nil {
					return nil, err
				}
				if err := os.WriteFile(filepath.Join(c.Dir(ep), to), b, 0o600); err != nil {
					return nil, fmt.Errorf("writing qemu credentials: %w", err)
				}
			}
		}
		out[h.Name] = c
	}
	return out, nil
}

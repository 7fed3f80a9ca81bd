package cli

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/pki"
	"github.com/spf13/cobra"
)

// CertsResult is what "netctl certs init|issue -o json" prints.
type CertsResult struct {
	Subject  string    `json:"subject"`
	Names    []string  `json:"names,omitempty"` // SAN DNS names and IP addresses
	NotAfter time.Time `json:"not_after"`
	Files    []string  `json:"files"`
}

const certDay = 24 * time.Hour

func newCertsCmd(g *globals) *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "certs",
		Short: "Make the CA and host certificates agents authenticate each other with",
		Long: `Agents migrate guests to each other over QUIC with mutual TLS: each host
has an ECDSA P-256 certificate naming it (CN and SAN DNS name, plus its
addresses), signed by a CA every agent trusts (migratord --ca, --cert, --key).

"certs init" makes the CA, "certs issue" one host's certificate. Files go to
--dir (default $NFH_RUN_DIR/pki): ca.pem, ca-key.pem, <host>.pem and
<host>-key.pem; keys are written mode 0600. Existing files are never
overwritten: remove them first to start over.`,
		Example: `  netctl certs init --dir /run/nfhandoff/pki
  netctl certs issue --dir /run/nfhandoff/pki hostA --ip 198.18.0.11`,
	})
	var dir string
	cmd.PersistentFlags().StringVar(&dir, "dir", filepath.Join(g.runDir(), "pki"), "directory of the CA and certificates")
	cmd.AddCommand(newCertsInitCmd(g, &dir), newCertsIssueCmd(g, &dir))
	return cmd
}

func newCertsInitCmd(g *globals, dir *string) *cobra.Command {
	var name string
	var days int
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a CA (ca.pem, ca-key.pem) in --dir",
		Long: `Create a new certificate authority in --dir (made if missing): ca.pem, the
certificate agents trust, and ca-key.pem, the key "certs issue" signs
with. Fails when either file exists already.`,
		Example: `  netctl certs init --dir /run/nfhandoff/pki
  netctl certs init --dir ./pki --name "lab CA" --days 30`,
		Args: cobra.NoArgs,
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			if days <= 0 {
				return usageErrorf("--days %d: want a positive number of days", days)
			}
			if err := pki.NewCA(*dir, name, time.Duration(days)*certDay); err != nil {
				return certsHint(err, *dir)
			}
			return printCerts(g, *dir, pki.CAFile, pki.CAKeyFile)
		}),
	}
	cmd.Flags().StringVar(&name, "name", "nfhandoff CA", "common name of the CA")
	cmd.Flags().IntVar(&days, "days", 3650, "validity in days")
	return cmd
}

func newCertsIssueCmd(g *globals, dir *string) *cobra.Command {
	var ips []net.IP
	var days int
	cmd := &cobra.Command{
		Use:   "issue HOST",
		Short: "Issue HOST's certificate (<host>.pem, <host>-key.pem), signed by the CA in --dir",
		Long: `Issue a certificate for agent HOST, signed by the CA in --dir, for both
server and client authentication: CN=HOST, SAN DNS:HOST and one SAN IP per
--ip; key usages digital signature and key encipherment (libvirt's TLS
wants both). It is never valid longer than the CA. Fails when the files exist
already or --dir holds no CA.`,
		Example: `  netctl certs issue --dir /run/nfhandoff/pki hostA --ip 198.18.0.11
  netctl certs issue hostB --ip 198.18.0.12 --days 30`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			host := args[0]
			if err := pki.ValidHost(host); err != nil {
				return usageErrorf("%v", err)
			}
			if days <= 0 {
				return usageErrorf("--days %d: want a positive number of days", days)
			}
			if err := pki.Issue(*dir, host, ips, time.Duration(days)*certDay); err != nil {
				return certsHint(err, *dir)
			}
			return printCerts(g, *dir, pki.CertFile(host), pki.KeyFile(host))
		}),
	}
	cmd.Flags().IPSliceVar(&ips, "ip", nil, "an address of the host, put in the certificate (repeatable)")
	cmd.Flags().IntVar(&days, "days", 365, "validity in days")
	return cmd
}

// certsHint adds advice to the two common failures.
func certsHint(err error, dir string) error {
	switch {
	case errors.Is(err, pki.ErrExists):
		return withHint(err, "Remove the old files first, or use another --dir.")
	case errors.Is(err, fs.ErrNotExist):
		return withHint(err, "Create the CA first: netctl certs init --dir %s", dir)
	}
	return err
}

// printCerts reports a certificate and key just written in dir.
func printCerts(g *globals, dir, certFile, keyFile string) error {
	certPath, keyPath := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	b, err := os.ReadFile(certPath)
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return fmt.Errorf("%s: no PEM block", certPath)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return fmt.Errorf("%s: %w", certPath, err)
	}
	r := CertsResult{Subject: c.Subject.CommonName, NotAfter: c.NotAfter.UTC(), Files: []string{certPath, keyPath}}
	for _, n := range c.DNSNames {
		r.Names = append(r.Names, "DNS:"+n)
	}
	for _, ip := range c.IPAddresses {
		r.Names = append(r.Names, "IP:"+ip.String())
	}
	if g.jsonOut() {
		return g.printJSON(r)
	}
	desc := "CN=" + r.Subject
	if len(r.Names) > 0 {
		desc += ", " + strings.Join(r.Names, ", ")
	}
	g.infof("wrote %s (%s, valid until %s)", certPath, desc, r.NotAfter.Format("2006-01-02"))
	g.infof("wrote %s (private key, mode 0600)", keyPath)
	return nil
}

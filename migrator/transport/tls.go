package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
)

// serverTLS requires a client certificate chaining to our CA and offers
// alpn (ALPN for QUIC, LaneALPN for lanes). The chain is verified in
// VerifyConnection rather than by crypto/tls itself so that a refusal is
// logged with the remote address and the reason.
func (n *Node) serverTLS(alpn string) *tls.Config {
	base := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{alpn},
		Certificates: []tls.Certificate{n.cfg.Identity.Cert},
		ClientAuth:   tls.RequireAnyClientCert,
		// A lane reads ahead only whole records of application data
		// (batchConn): no tickets after the handshake. Lanes never resume.
		SessionTicketsDisabled: alpn == LaneALPN,
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{alpn},
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			var remote net.Addr
			if hi.Conn != nil {
				remote = hi.Conn.RemoteAddr()
			}
			c := base.Clone()
			c.VerifyConnection = func(cs tls.ConnectionState) error {
				name, err := verifyPeer(cs, n.cfg.Identity.CA, x509.ExtKeyUsageClientAuth)
				if err != nil {
					n.log.Warn("refused peer", "remote", remote, "reason", err)
					return err
				}
				n.log.Debug("peer certificate accepted", "remote", remote, "peer", name)
				return nil
			}
			return c, nil
		},
	}
}

// clientTLS verifies that the server's certificate chains to our CA and
// names host (standard hostname verification), and presents ours.
func (n *Node) clientTLS(host, alpn string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{alpn},
		Certificates: []tls.Certificate{n.cfg.Identity.Cert},
		RootCAs:      n.cfg.Identity.CA,
		ServerName:   host,
	}
}

// verifyPeer checks the peer's certificate chain against pool for usage and
// returns the peer's host name: the leaf's first SAN DNS name.
func verifyPeer(cs tls.ConnectionState, pool *x509.CertPool, usage x509.ExtKeyUsage) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", errors.New("no certificate presented")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return "", fmt.Errorf("certificate of %q: %w", leaf.Subject.CommonName, err)
	}
	if len(leaf.DNSNames) == 0 {
		return "", fmt.Errorf("certificate of %q has no SAN DNS name", leaf.Subject.CommonName)
	}
	return leaf.DNSNames[0], nil
}

// peerName is the verified peer host name of an established connection.
func peerName(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 || len(cs.PeerCertificates[0].DNSNames) == 0 {
		return ""
	}
	return cs.PeerCertificates[0].DNSNames[0]
}

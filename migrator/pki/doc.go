// Package pki makes and loads the certificates agents authenticate each
// other with: a small CA per deployment (testbed) and one ECDSA P-256
// certificate per host, whose CN and only SAN DNS name is the host name
// (plus its IP addresses). The same certificate serves both as a QUIC
// server certificate and as a client certificate.
//
// Files in a PKI directory: ca.pem, ca-key.pem, <host>.pem, <host>-key.pem.
// Keys are written 0600; nothing is ever overwritten.
package pki

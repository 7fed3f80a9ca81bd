package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/quic-go/quic-go"
)

// The welcome is one unidirectional stream the server opens once it has
// accepted a connection. In TLS 1.3 the client finishes its handshake
// before the server has checked the client's certificate, so a client
// waits for the welcome to know it was accepted; a refusal arrives instead
// as the connection's close.
var welcome = []byte("NFHW\x01")

func sendWelcome(qc *quic.Conn) error {
	s, err := qc.OpenUniStream()
	if err != nil {
		return err
	}
	if _, err := s.Write(welcome); err != nil {
		return err
	}
	return s.Close()
}

func awaitWelcome(ctx context.Context, qc *quic.Conn) error {
	s, err := qc.AcceptUniStream(ctx)
	if err != nil {
		return err
	}
	b := make([]byte, len(welcome))
	if _, err := io.ReadFull(s, b); err != nil {
		return err
	}
	if !bytes.Equal(b, welcome) {
		return fmt.Errorf("unexpected greeting %q", b)
	}
	return nil
}

package libvirt

import (
	"context"
	"fmt"
	"net"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// URI is the libvirt URI of the qemu driver behind the daemon socket sock,
// for virsh and for a migration's destination.
func URI(sock string) string { return "qemu+unix:///system?socket=" + sock }

// socketDialer dials a daemon's UNIX socket within ctx (go-libvirt's
// dialers take only a timeout).
type socketDialer struct {
	ctx  context.Context
	path string
}

func (d socketDialer) Dial() (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(d.ctx, "unix", d.path)
}

// Dial connects to the qemu driver (qemu:///system) of the libvirt daemon
// listening on the UNIX socket sock. ctx bounds the dial only; the caller
// disconnects.
func Dial(ctx context.Context, sock string) (*golibvirt.Libvirt, error) {
	l := golibvirt.NewWithDialer(socketDialer{ctx: ctx, path: sock})
	if err := l.ConnectToURI(golibvirt.QEMUSystem); err != nil {
		return nil, fmt.Errorf("connecting to libvirt at %s: %w", sock, err)
	}
	return l, nil
}

package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/session"
	"github.com/nfhandoff/nfhandoff/migrator/transport"
)

// OperatorEngine is an Engine that can tell which of its guests is
// migrating out (libvirt's job statistics), so that an operator's own
// migration through the agents' pipe gets the hand-off too.
type OperatorEngine interface {
	Outgoing(ctx context.Context) (string, error)
}

// outgoingWait bounds the search for the guest whose migration connected
// to a standing socket (its job is under way by then).
const outgoingWait = 5 * time.Second

// listenOperators serves, for every peer in the peers file, a standing
// socket in the engine's socket directory (session.PeerSocketName) until
// the agent stops: an operator who points their engine's migration at it
// (virsh migrate --p2p ... --migrateuri unix:///run/libvirt/nfhandoff/to-HOST.sock)
// has the agents carry the stream and hand the guest's traffic off.
func (a *Agent) listenOperators(base context.Context) {
	oe, ok := a.cfg.Engine.(OperatorEngine)
	if !ok || a.cfg.Peers == "" || a.cfg.Dial == nil {
		return
	}
	data, err := os.ReadFile(a.cfg.Peers)
	if err != nil {
		a.log.Warn("no standing sockets for operators' migrations: reading the peers file", "err", err)
		return
	}
	peers, err := transport.ParsePeers(data)
	if err != nil {
		a.log.Warn("no standing sockets for operators' migrations: the peers file", "err", err)
		return
	}
	for peer := range peers {
		if peer == a.cfg.Host {
			continue
		}
		view, path, err := a.cfg.Engine.Socket(session.PeerSocketName(peer))
		if err != nil {
			a.log.Warn("standing socket for operators' migrations", "to", peer, "err", err)
			continue
		}
		os.Remove(path) // a previous run's
		ln, err := net.Listen("unix", path)
		if err != nil {
			a.log.Warn("standing socket for operators' migrations", "to", peer, "err", err)
			continue
		}
		a.log.Info("operators' migrations to a peer go through the agents with --migrateuri unix://"+view, "to", peer)
		a.watchers.Add(1)
		go func() {
			defer a.watchers.Done()
			<-base.Done()
			ln.Close()
			os.Remove(path)
		}()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go a.operatorMigration(base, oe, c, peer)
			}
		}()
	}
}

// operatorMigration takes c, an engine's migration stream on the standing
// socket to peer: it finds the guest that is migrating out and carries
// the stream in a session of its own (migrateForeign), or closes c (the
// operator's migration then fails, the guest stays) when it cannot.
func (a *Agent) operatorMigration(ctx context.Context, oe OperatorEngine, c net.Conn, peer string) {
	var name string
	var err error
	deadline := time.Now().Add(outgoingWait)
	for {
		if name, err = oe.Outgoing(ctx); err == nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			err = errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
			continue
		}
		break
	}
	if err != nil {
		c.Close()
		a.log.Error("an operator's migration on the standing socket refused: which guest is unknown", "to", peer, "err", err)
		return
	}
	req := api.MigrateRequest{VM: name, To: peer}
	req.Defaults()
	m, err := a.migrateForeign(ctx, req, c)
	if err != nil {
		a.log.Error("an operator's migration refused: the guest's stream is cut, the engine keeps it here", "vm", name, "to", peer, "err", err)
		return
	}
	a.log.Info("an operator's migration carried through the agents", "vm", name, "to", peer, "migration", m.ID)
}

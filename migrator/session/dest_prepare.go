package session

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// prepare holds the VM's packets, starts QEMU waiting for the stream and
// answers Ready.
func (d *dest) prepare(ctx, pctx context.Context) error {
	d.enter(destPrepared, "") // before Prepare: a failed Prepare rolls back too
	h := d.hello
	err := bounded(ctx, 10*time.Second, func(ctx context.Context) error {
		return d.cfg.Handoff.Prepare(ctx, h.Spec)
	})
	if err != nil {
		return fmt.Errorf("%w: hand-off prepare: %w", api.ErrMigration, err)
	}
	g, dir, err := d.cfg.Agent.Launch(ctx, h.Spec)
	if err != nil {
		return err
	}
	d.guest, d.dir = g, dir
	if h.Capabilities[qmpcmd.CapPostcopyRAM] {
		// Now, while QEMU's main thread is free (see dialOOB).
		d.oob = dialOOB(ctx, g, d.log)
	}
	if err := setCapabilities(ctx, g, h.Capabilities); err != nil {
		return fmt.Errorf("%w: %w", api.ErrQEMU, err)
	}
	if h.MultifdChannels > 0 {
		if err := g.Execute(ctx, qmpcmd.MigrateSetParameters, qmpcmd.Parameters{MultifdChannels: new(h.MultifdChannels)}, nil); err != nil {
			return fmt.Errorf("%w: setting multifd channels: %w", api.ErrQEMU, err)
		}
	}
	sock := filepath.Join(dir, "incoming.sock")
	if err := g.Execute(ctx, qmpcmd.MigrateIncoming, qmpcmd.UnixURI(sock), nil); err != nil {
		return fmt.Errorf("%w: migrate-incoming: %w", api.ErrQEMU, err)
	}
	go d.connectChannels(pctx, sock)
	if err := wire.WriteMessage(d.ctl, wire.Ready{}); err != nil {
		return fmt.Errorf("%w: sending ready: %w", api.ErrPeer, err)
	}
	d.rec.phase("precopy", time.Now().UTC())
	d.rec.update(true, func(m *api.Migration) { m.State = api.MigrationActive })
	return nil
}

// connectChannels connects the QEMU streams to the incoming socket
// strictly in channel order: QEMU 7.2 takes the first connection as the
// main channel.
func (d *dest) connectChannels(ctx context.Context, sock string) {
	pending := make(map[uint16]channel)
	defer func() {
		for _, c := range pending {
			c.st.Close()
		}
	}()
	var next uint16
	for {
		select {
		case c := <-d.chans:
			if _, dup := pending[c.index]; dup || c.index < next {
				d.log.Warn("duplicate qemu channel", "channel", c.index)
				c.st.Close()
				continue
			}
			pending[c.index] = c
		case <-ctx.Done():
			return
		}
		for {
			c, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			var dialer net.Dialer
			conn, err := dialer.DialContext(ctx, "unix", sock)
			if err != nil {
				d.log.Warn("connecting qemu channel", "channel", next, "err", err)
				c.st.Close()
				next++
				continue
			}
			d.log.Debug("qemu channel connected", "channel", next)
			go func(i uint16, st Stream) {
				sent, recv, err := pipe(ctx, conn, st, nil)
				d.log.Debug("qemu channel done", "channel", i, "sent", sent, "received", recv, "err", err)
			}(next, d.decode(c))
			next++
		}
	}
}

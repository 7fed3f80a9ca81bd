package session

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// run does the destination's part: prepare, receive, start the guest on
// Commit, take the flush.
func (d *dest) run(ctx context.Context) {
	h := d.hello
	now := time.Now().UTC()
	d.rec = newRecord(api.Migration{
		ID: h.ID, VM: h.Spec.Name, From: h.Source, To: d.cfg.Host, Role: "destination",
		State: api.MigrationSetup, Request: h.Request, Started: now,
	}, d.cfg.Agent.Record)
	d.rec.phase("setup", now)
	defer d.ctl.Close()
	if peer := d.conn.Peer(); peer != h.Source {
		d.refuse(fmt.Errorf("%w: certificate names %q but hello claims source %q", api.ErrPeer, peer, h.Source))
		return
	}
	if h.Request.To != d.cfg.Host {
		d.refuse(fmt.Errorf("%w: request is for host %q, this is %q", api.ErrInvalidRequest, h.Request.To, d.cfg.Host))
		return
	}
	if err := d.cfg.Agent.Admit(h.Spec); err != nil {
		d.refuse(err)
		return
	}
	d.enter(destAdmitted, "")
	d.log.Info("incoming migration")

	pctx, stopPipes := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPipes()
	d.pipes = pctx
	defer func() {
		if d.oob != nil { // not handed to a post-copy
			releaseOOB(ctx, d.oob, d.log)
		}
	}()
	if err := d.prepare(ctx, pctx); err != nil {
		d.fail(ctx, err)
		return
	}
	if err := d.receive(ctx); err != nil {
		d.fail(ctx, err)
		return
	}
	d.running(ctx)
}

// refuse answers a Hello this host will not take.
func (d *dest) refuse(err error) {
	d.log.Warn("migration refused", "err", err)
	d.enter(destFailed, err.Error())
	wire.WriteMessage(d.ctl, wire.Abort{Reason: truncate(err.Error())}) // the source names us
	d.ctl.CloseWrite()
	d.rec.finish(api.MigrationFailed, "refused: "+err.Error())
}

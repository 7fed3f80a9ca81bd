package vnf

import (
	"context"

	"github.com/nfhandoff/nfhandoff/netctl/vnf/router"
)

// setupRouter makes the guest a router when the config asks for one. A
// failed setup does not stop the vnf: it goes on serving, and its status
// says which step failed, so the host sees a router that is not up rather
// than a guest that quietly forwards nothing.
func (v *VNF) setupRouter(ctx context.Context) {
	if !v.cfg.Router.Enabled() {
		return
	}
	log := v.log.With("part", "router")
	r, err := router.Setup(ctx, v.cfg.Router, log)
	v.router = r
	if err != nil {
		log.Error("ROUTER NOT UP: the guest does not forward", "err", err)
	}
}

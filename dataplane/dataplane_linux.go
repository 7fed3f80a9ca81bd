package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/dataplane/tchook"
)

// Dataplane is the eBPF hand-off dataplane of one host: the programs and
// their pinned maps, the hooks on the uplink and the tunnel device, the ring
// reader, and the VMs it knows.
type Dataplane struct {
	cfg       Config
	log       *slog.Logger
	objs      handoffObjects
	maps      *bpfMaps
	peersMu   sync.Mutex // serializes SetTunnelPeers
	tunIndex  int
	hooks     []*tchook.Hook // uplink and tunnel
	rd        *ringbuf.Reader
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	handoff   *Handoff
	orphans   atomic.Uint64 // ring records of VMs this process does not know
	closeOnce sync.Once
	closeErr  error
}

// New loads the programs (re-using the maps pinned under cfg.PinDir by a
// previous run), creates the tunnel device if missing, attaches the uplink
// and tunnel hooks (updating pinned links in place) and starts reading the
// ring. Call Close to stop; the pins and links stay, so traffic keeps being
// handled while no process runs.
func New(ctx context.Context, cfg Config) (*Dataplane, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkBPFFS(cfg.PinDir); err != nil {
		return nil, err
	}
	d := &Dataplane{cfg: cfg, log: cfg.Logger}
	if err := d.load(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			d.closeAll()
		}
	}()
	var err error
	if d.maps, err = newBPFMaps(&d.objs); err != nil {
		return nil, err
	}
	if d.tunIndex, err = ensureTunnel(cfg.TunnelDev, cfg.TunnelPort); err != nil {
		return nil, err
	}
	h, err := tchook.Attach(d.hookSpec(cfg.TunnelDev, d.tunIndex, HookTunnelIngress), d.objs.TunnelIngress, d.log)
	if err != nil {
		return nil, err
	}
	d.hooks = append(d.hooks, h)
	if cfg.Uplink != "" {
		ifi, err := ifindexOf(cfg.Uplink)
		if err != nil {
			return nil, err
		}
		h, err := tchook.Attach(d.hookSpec(cfg.Uplink, ifi, HookUplinkIngress), d.objs.UplinkIngress, d.log)
		if err != nil {
			return nil, err
		}
		d.hooks = append(d.hooks, h)
	}
	if d.rd, err = ringbuf.NewReader(d.objs.Ring); err != nil {
		return nil, fmt.Errorf("opening ring reader: %w", err)
	}
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	d.handoff = newHandoff(d)
	if err := d.handoff.adopt(); err != nil {
		return nil, err
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.readRing()
	}()
	ok = true
	d.log.Info("dataplane up", "pin_dir", cfg.PinDir, "uplink", cfg.Uplink, "tunnel", cfg.TunnelDev,
		"ring_bytes", d.objs.Ring.MaxEntries(), "queue_bytes", cfg.QueueBytes)
	return d, nil
}

// hookSpec is where the program name goes on device dev (tap_egress on a
// tap's egress, the others on ingress).
func (d *Dataplane) hookSpec(dev string, ifindex int, name string) tchook.Spec {
	return tchook.Spec{PinDir: d.cfg.PinDir, Dev: dev, Ifindex: ifindex, Name: name,
		Egress: name == HookTapEgress, ForceClsact: d.cfg.ForceClsact}
}

// load loads the objects with cfg.PinDir as the pin path of the maps. A
// pinned ring of another size is re-used as it is.
func (d *Dataplane) load() error {
	spec, err := handoffSpec()
	if err != nil {
		return err
	}
	ring := spec.Maps["ring"]
	ring.MaxEntries = uint32(d.cfg.RingBytes)
	if m, err := ebpf.LoadPinnedMap(filepath.Join(d.cfg.PinDir, "ring"), nil); err == nil {
		if m.MaxEntries() != ring.MaxEntries {
			d.log.Warn("re-using the pinned ring with its size", "ring_bytes", m.MaxEntries(), "configured", ring.MaxEntries)
			ring.MaxEntries = m.MaxEntries()
		}
		m.Close()
	}
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: d.cfg.PinDir}}
	if err := spec.LoadAndAssign(&d.objs, opts); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			d.log.Error("verifier", "log", fmt.Sprintf("%+v", ve))
		}
		return fmt.Errorf("loading bpf objects: %w", err)
	}
	return nil
}

// handoffSpec is the programs' spec with the tunnel's VNI set (tunnel_vni:
// tunnel_ingress refuses frames with another one).
func handoffSpec() (*ebpf.CollectionSpec, error) {
	spec, err := loadHandoff()
	if err != nil {
		return nil, fmt.Errorf("loading bpf spec: %w", err)
	}
	v, ok := spec.Variables[handoffVarTunnelVni]
	if !ok {
		return nil, fmt.Errorf("loading bpf spec: no variable %s", handoffVarTunnelVni)
	}
	if err := v.Set(uint32(VNI)); err != nil {
		return nil, fmt.Errorf("setting %s: %w", handoffVarTunnelVni, err)
	}
	return spec, nil
}

// checkBPFFS makes dir (on a bpf filesystem) if needed.
func checkBPFFS(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating pin dir: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("pin dir %s: %w", dir, err)
	}
	if st.Type != unix.BPF_FS_MAGIC {
		return fmt.Errorf("pin dir %s is not on a bpf filesystem (mount -t bpf bpf DIR)", dir)
	}
	return nil
}

// Handoff returns the handoff.Handoff of this dataplane.
func (d *Dataplane) Handoff() *Handoff { return d.handoff }

// Close stops the ring reader and background work and closes every
// descriptor. Pinned maps, links and clsact filters stay: the programs go on
// handling traffic (FORWARD keeps forwarding; frames captured meanwhile wait
// in the pinned ring) until the next New.
func (d *Dataplane) Close() error {
	d.closeOnce.Do(func() {
		d.cancel()
		d.handoff.stop()
		err := d.rd.Close()
		d.wg.Wait()
		d.handoff.wg.Wait()
		d.closeErr = errors.Join(err, d.closeAll())
	})
	return d.closeErr
}

func (d *Dataplane) closeAll() error {
	var errs []error
	if d.handoff != nil {
		errs = append(errs, d.handoff.closeHooks())
	}
	for _, h := range d.hooks {
		errs = append(errs, h.Close())
	}
	if err := d.objs.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing bpf objects: %w", err))
	}
	return errors.Join(errs...)
}

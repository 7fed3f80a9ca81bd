package tchook

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// clsact filter identity of the fallback attachment.
const (
	clsactHandle   = 0x4e46
	clsactPriority = 0x4e46
)

// Spec says where a program goes.
type Spec struct {
	PinDir      string // bpffs dir: a tcx link is pinned as PinDir/links/<Dev>-<Name>
	Dev         string // device name
	Ifindex     int    // and index
	Name        string // the hook's name (the clsact filter is "nfh-<Name>")
	Egress      bool   // egress, else ingress
	ForceClsact bool   // clsact even where tcx works (tests)
}

// Hook is a program attached to one device: a tcx link pinned under
// PinDir/links, or a clsact filter (which keeps its program alive by
// itself).
type Hook struct {
	Spec
	lnk link.Link // tcx; nil with clsact
	pin string
}

// Attach attaches prog as s says. A pinned tcx link of a previous run on
// the same device is updated with prog, so the hook never goes away; a
// stale one (device recreated) is replaced. Where tcx is not supported the
// program goes into a clsact filter.
func Attach(s Spec, prog *ebpf.Program, log *slog.Logger) (*Hook, error) {
	h := &Hook{Spec: s, pin: LinkPin(s.PinDir, s.Dev, s.Name)}
	if !s.ForceClsact {
		err := h.attachTCX(prog, log)
		if err == nil {
			return h, nil
		}
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("attaching %s to %s: %w", s.Name, s.Dev, err)
		}
		log.Info("tcx not supported, attaching with clsact", "hook", s.Name, "dev", s.Dev)
	}
	if err := h.attachClsact(prog); err != nil {
		return nil, fmt.Errorf("attaching %s to %s with clsact: %w", s.Name, s.Dev, err)
	}
	return h, nil
}

// On reports whether h is attached to the device dev with index ifindex.
func (h *Hook) On(dev string, ifindex int) bool { return h.Dev == dev && h.Ifindex == ifindex }

// TCX reports whether h is a tcx link (else a clsact filter).
func (h *Hook) TCX() bool { return h.lnk != nil }

func (h *Hook) attachTCX(prog *ebpf.Program, log *slog.Logger) error {
	if l, err := link.LoadPinnedLink(h.pin, nil); err == nil {
		if h.linkOnDevice(l) {
			if err := l.Update(prog); err != nil {
				l.Close()
				return fmt.Errorf("updating pinned link %s: %w", h.pin, err)
			}
			h.lnk = l
			log.Debug("re-used pinned link", "pin", h.pin)
			return nil
		}
		log.Info("replacing stale pinned link", "pin", h.pin)
		l.Unpin()
		l.Close()
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Warn("pinned link unusable, replacing it", "pin", h.pin, "err", err)
		os.Remove(h.pin)
	}
	attach := ebpf.AttachTCXIngress
	if h.Egress {
		attach = ebpf.AttachTCXEgress
	}
	l, err := link.AttachTCX(link.TCXOptions{Interface: h.Ifindex, Program: prog, Attach: attach})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(h.pin), 0o700); err != nil {
		l.Close()
		return fmt.Errorf("creating link pin dir: %w", err)
	}
	if err := l.Pin(h.pin); err != nil {
		l.Close()
		return fmt.Errorf("pinning link: %w", err)
	}
	h.lnk = l
	return nil
}

// linkOnDevice reports whether l is a live tcx link on h's device and
// direction.
func (h *Hook) linkOnDevice(l link.Link) bool {
	info, err := l.Info()
	if err != nil {
		return false
	}
	tcx := info.TCX()
	if tcx == nil {
		return false
	}
	want := ebpf.AttachTCXIngress
	if h.Egress {
		want = ebpf.AttachTCXEgress
	}
	return int(tcx.Ifindex) == h.Ifindex && ebpf.AttachType(tcx.AttachType) == want
}

func (h *Hook) clsactFilter(fd int) *netlink.BpfFilter {
	parent := uint32(netlink.HANDLE_MIN_INGRESS)
	if h.Egress {
		parent = netlink.HANDLE_MIN_EGRESS
	}
	return &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: h.Ifindex, Parent: parent, Handle: clsactHandle,
			Priority: clsactPriority, Protocol: unix.ETH_P_ALL,
		},
		Fd: fd, Name: "nfh-" + h.Name, DirectAction: true,
	}
}

func (h *Hook) attachClsact(prog *ebpf.Program) error {
	qdisc := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: h.Ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	}
	if err := netlink.QdiscReplace(qdisc); err != nil {
		return fmt.Errorf("adding clsact qdisc: %w", err)
	}
	if err := netlink.FilterReplace(h.clsactFilter(prog.FD())); err != nil {
		return fmt.Errorf("adding bpf filter: %w", err)
	}
	return nil
}

// Close lets go of the hook's descriptor; the attachment stays (pinned or
// held by its clsact filter).
func (h *Hook) Close() error {
	if h == nil || h.lnk == nil {
		return nil
	}
	err := h.lnk.Close()
	h.lnk = nil
	if err != nil {
		return fmt.Errorf("closing %s link on %s: %w", h.Name, h.Dev, err)
	}
	return nil
}

// Detach removes the attachment (unpins the link or deletes the filter).
// A device that is already gone is not an error.
func (h *Hook) Detach() error {
	if h == nil {
		return nil
	}
	if h.lnk != nil {
		errs := []error{h.lnk.Unpin()}
		if err := h.lnk.Close(); err != nil {
			errs = append(errs, err)
		}
		h.lnk = nil
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("detaching %s from %s: %w", h.Name, h.Dev, err)
		}
		return nil
	}
	if err := netlink.FilterDel(h.clsactFilter(0)); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return nil // the device is gone, and its qdiscs with it
		}
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("deleting %s filter from %s: %w", h.Name, h.Dev, err)
		}
	}
	if err := h.removeEmptyClsact(); err != nil {
		return fmt.Errorf("detaching %s from %s: %w", h.Name, h.Dev, err)
	}
	return nil
}

// removeEmptyClsact deletes the device's clsact qdisc once it holds no
// filter in either direction (ours was the last), so a detach leaves the
// device as it found it. A clsact with other filters stays.
func (h *Hook) removeEmptyClsact() error {
	l, err := netlink.LinkByIndex(h.Ifindex)
	if err != nil {
		return nil // gone
	}
	qdiscs, err := netlink.QdiscList(l)
	if err != nil {
		return fmt.Errorf("listing qdiscs: %w", err)
	}
	var clsact netlink.Qdisc
	for _, q := range qdiscs {
		if q.Type() == "clsact" {
			clsact = q
		}
	}
	if clsact == nil {
		return nil
	}
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		fs, err := netlink.FilterList(l, parent)
		if err != nil {
			return fmt.Errorf("listing filters: %w", err)
		}
		if len(fs) > 0 {
			return nil
		}
	}
	if err := netlink.QdiscDel(clsact); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("deleting the empty clsact qdisc: %w", err)
	}
	return nil
}

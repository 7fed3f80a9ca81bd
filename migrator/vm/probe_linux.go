package vm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// ProbeMarker is what the image's /init prints on the serial console when
// booted with nfh.probe=1, before powering off.
const ProbeMarker = "NFH-PROBE-OK"

// probeArgs is the command line of the KVM boot test.
func probeArgs(kernel, initrd, serial string) []string {
	return []string{
		"-machine", MachineType,
		"-accel", AccelKVM,
		"-cpu", cpuModel(AccelKVM),
		"-m", "128", "-smp", "1",
		"-nodefaults", "-no-user-config",
		"-display", "none", "-vga", "none",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 nfh.probe=1",
		"-serial", "file:" + serial,
		"-no-reboot",
	}
}

// probe boots the image under KVM and reports "kvm" if the probe marker
// shows up on the serial console within the probe timeout, else "tcg",
// with the reason. The probe QEMU is always killed.
func (l *Launcher) probe(ctx context.Context, kernel, initrd string) (accel, reason string) {
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err != nil {
		return AccelTCG, fmt.Sprintf("cannot open /dev/kvm: %v", err)
	} else {
		f.Close()
	}
	dir, err := os.MkdirTemp("", "nfh-accel-probe-")
	if err != nil {
		return AccelTCG, fmt.Sprintf("probe temp dir: %v", err)
	}
	defer os.RemoveAll(dir)
	serial := filepath.Join(dir, "serial.log")
	var stderr bytes.Buffer
	cmd := exec.Command(l.cfg.QEMU, probeArgs(kernel, initrd, serial)...)
	cmd.Stderr = &stderr
	// Dies with the agent; its own process group so a kill gets it all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return AccelTCG, fmt.Sprintf("starting probe: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(ctx, l.probeTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	seen := func() bool {
		b, _ := os.ReadFile(serial)
		return bytes.Contains(b, []byte(ProbeMarker))
	}
	kill := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	for {
		select {
		case err := <-exited:
			if seen() {
				return AccelKVM, fmt.Sprintf("kvm boot test passed in %v", time.Since(start).Round(time.Millisecond))
			}
			return AccelTCG, fmt.Sprintf("kvm boot test: qemu exited (%v) without %s: %s",
				err, ProbeMarker, lastLineOf(stderr.String()))
		case <-ctx.Done():
			kill()
			if seen() {
				return AccelKVM, "kvm boot test passed (probe killed after the marker)"
			}
			return AccelTCG, fmt.Sprintf("kvm boot test: no %s within %v", ProbeMarker, l.probeTimeout)
		case <-tick.C:
			if seen() {
				kill()
				return AccelKVM, fmt.Sprintf("kvm boot test passed in %v", time.Since(start).Round(time.Millisecond))
			}
		}
	}
}

func lastLineOf(s string) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	return string(lines[len(lines)-1])
}

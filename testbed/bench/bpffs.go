package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The nfhandoff agents' eBPF dataplane pins its maps and links in a bpffs.
// The bench mounts one at runDir/bpffs in its own (the root) mount
// namespace before it starts the agents: `ip netns exec` gives every agent
// a fresh /sys, so /sys/fs/bpf would not be shared or outlive an agent.

// hasDataplane reports whether bin is a migratord with the eBPF hand-off.
func hasDataplane(bin string) bool {
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	return bytes.Contains(out, []byte("-bpf-pin-dir"))
}

func bpffsDir(runDir string) string { return filepath.Join(runDir, "bpffs") }

// mountBPFFS mounts a bpffs at runDir/bpffs unless one is there.
func mountBPFFS(runDir string) error {
	dir := bpffsDir(runDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.BPF_FS_MAGIC {
		return nil
	}
	if err := unix.Mount("nfbbpf", dir, "bpf", 0, "mode=0700"); err != nil {
		return fmt.Errorf("mounting a bpffs at %s: %w", dir, err)
	}
	return nil
}

// unmountBPFFS removes the agents' pins and unmounts runDir/bpffs (every
// mount of it); nothing there is not an error.
func unmountBPFFS(runDir string) {
	dir := bpffsDir(runDir)
	for range 10 {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil || st.Type != unix.BPF_FS_MAGIC {
			return
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.IsDir() { // one per host; the preloaded *.debug files stay
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
		if err := unix.Unmount(dir, 0); err != nil {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	}
}

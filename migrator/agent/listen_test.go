package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func sockDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "nfh-listen")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestListenUnix(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(sockDir(t), "run", "hostA", "api.sock")
	ln, err := ListenUnix(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode %v, %v: want a 0660 socket", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o750 {
		t.Fatalf("socket dir mode %v, want 0750", di.Mode().Perm())
	}

	// A live listener is not taken over.
	if _, err := ListenUnix(ctx, path); !errors.Is(err, ErrSocketInUse) {
		t.Fatalf("second listen: %v, want ErrSocketInUse", err)
	}
	if _, err := net.Dial("unix", path); err != nil {
		t.Fatalf("first listener broken by the refused second: %v", err)
	}

	// A stale socket (nobody listening) is replaced.
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	ul.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left for the test: %v", err)
	}
	ln, err = ListenUnix(ctx, path)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	ln.Close()
}

func TestListenUnixNotASocket(t *testing.T) {
	path := filepath.Join(sockDir(t), "api.sock")
	os.WriteFile(path, []byte("keep me"), 0o600)
	if _, err := ListenUnix(context.Background(), path); err == nil {
		t.Fatal("listened over a regular file")
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatal("regular file removed")
	}
}

package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/pki"
)

// runWithCerts runs netctl like run, with the certs command added to the
// root if it is not wired in yet.
func runWithCerts(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globals{env: Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}}
	root := newRoot(g)
	wired := false
	for _, c := range root.Commands() {
		wired = wired || c.Name() == "certs"
	}
	if !wired {
		root.AddCommand(newCertsCmd(g))
	}
	root.SetArgs(args)
	root.SetOut(g.env.Stdout)
	root.SetErr(g.env.Stderr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		err = report(g.env.Stderr, cmd, err)
	}
	r := result{stdout: out.String(), stderr: errb.String(), code: ExitCode(err)}
	t.Logf("netctl %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	return r
}

func TestCertsInitAndIssue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	r := runWithCerts(t, nil, "certs", "init", "--dir", dir, "--name", "lab CA", "--days", "30")
	check(t, r, 0, "wrote "+filepath.Join(dir, "ca.pem")+" (CN=lab CA, valid until ",
		"wrote "+filepath.Join(dir, "ca-key.pem")+" (private key, mode 0600)")
	r = runWithCerts(t, nil, "certs", "issue", "--dir", dir, "hostA", "--ip", "198.18.0.11", "--ip", "127.0.0.1")
	check(t, r, 0, "wrote "+filepath.Join(dir, "hostA.pem")+" (CN=hostA, DNS:hostA, IP:198.18.0.11, IP:127.0.0.1, valid until ",
		"hostA-key.pem (private key, mode 0600)")
	id, err := pki.LoadIdentity(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "hostA.pem"), filepath.Join(dir, "hostA-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "hostA" {
		t.Errorf("identity name %q", id.Name)
	}
	if left := time.Until(id.Cert.Leaf.NotAfter); left > 30*certDay {
		t.Errorf("host certificate outlives the 30-day CA: %v left", left)
	}
}

func TestCertsDefaultDirAndJSON(t *testing.T) {
	env := map[string]string{"NFH_RUN_DIR": t.TempDir()}
	dir := filepath.Join(env["NFH_RUN_DIR"], "pki")
	check(t, runWithCerts(t, env, "certs", "init"), 0, "wrote "+filepath.Join(dir, "ca.pem"))
	r := runWithCerts(t, env, "-o", "json", "certs", "issue", "hostB", "--days", "2")
	check(t, r, 0)
	var res CertsResult
	decodeOne(t, r.stdout, &res)
	if res.Subject != "hostB" || strings.Join(res.Names, " ") != "DNS:hostB" || len(res.Files) != 2 ||
		res.Files[1] != filepath.Join(dir, "hostB-key.pem") || time.Until(res.NotAfter) > 2*certDay {
		t.Errorf("json result %+v", res)
	}
}

func TestCertsRefuseOverwrite(t *testing.T) {
	dir := t.TempDir()
	check(t, runWithCerts(t, nil, "certs", "init", "--dir", dir), 0)
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	check(t, runWithCerts(t, nil, "certs", "init", "--dir", dir), ExitFailure,
		"err:netctl: creating CA: "+filepath.Join(dir, "ca.pem")+" already exists: refusing to overwrite it",
		"err:Remove the old files first")
	if now, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); !bytes.Equal(ca, now) {
		t.Error("ca.pem was replaced")
	}
	check(t, runWithCerts(t, nil, "certs", "issue", "--dir", dir, "hostA"), 0)
	check(t, runWithCerts(t, nil, "certs", "issue", "--dir", dir, "hostA"), ExitFailure,
		"err:hostA.pem already exists: refusing to overwrite it")
}

func TestCertsErrors(t *testing.T) {
	dir := t.TempDir()
	check(t, runWithCerts(t, nil, "certs", "issue", "--dir", dir, "hostA"), ExitFailure,
		"err:issuing hostA: reading certificates:", "err:ca.pem: no such file", "err:Create the CA first: netctl certs init --dir "+dir)
	check(t, runWithCerts(t, nil, "certs", "issue", "--dir", dir, "host/A"), ExitUsage, "err:not allowed")
	check(t, runWithCerts(t, nil, "certs", "issue", "--dir", dir), ExitUsage, "err:accepts 1 arg")
	check(t, runWithCerts(t, nil, "certs", "issue", "--dir", dir, "hostA", "--ip", "nope"), ExitUsage, "err:invalid argument")
	check(t, runWithCerts(t, nil, "certs", "init", "--dir", dir, "--days", "0"), ExitUsage, "err:--days 0")
	check(t, runWithCerts(t, nil, "certs", "init", "--dir", dir, "extra"), ExitUsage, "err:unknown command")
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed commands left %d files", len(ents))
	}
}

func TestCertsHelp(t *testing.T) {
	check(t, runWithCerts(t, nil, "certs"), 0, "init", "issue", "$NFH_RUN_DIR/pki", "never")
	cmd := newCertsCmd(&globals{})
	for _, c := range append(cmd.Commands(), cmd) {
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("%s: want Short, Long and Example", c.Name())
		}
	}
}

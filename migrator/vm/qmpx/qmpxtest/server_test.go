package qmpxtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestServer(t *testing.T) {
	s, err := NewServer(filepath.Join(t.TempDir(), "q.sock"), func(cmd string, _ json.RawMessage) (any, error) {
		if cmd == "fail" {
			return nil, errors.New("nope")
		}
		return map[string]string{"cmd": cmd}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("unix", s.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	line := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := line(); !strings.Contains(l, `"QMP"`) {
		t.Fatalf("greeting %q", l)
	}
	for _, tc := range []struct{ send, want string }{
		{`{"execute":"qmp_capabilities"}`, `{"return":{}}`},
		{`{"execute":"x"}`, `{"return":{"cmd":"x"}}`},
		{`{"execute":"fail"}`, `"desc":"nope"`},
	} {
		c.Write([]byte(tc.send + "\n"))
		if l := line(); !strings.Contains(l, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.send, l, tc.want)
		}
	}
	if err := s.Emit("STOP", nil); err != nil {
		t.Fatal(err)
	}
	if l := line(); !strings.Contains(l, `"event":"STOP"`) {
		t.Errorf("event %q", l)
	}
}

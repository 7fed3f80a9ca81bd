package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b}
	p.update("hidden")
	p.clear()
	if b.Len() != 0 {
		t.Errorf("progress off a terminal wrote %q", b.String())
	}
	p.on = true
	p.update("%s", strings.Repeat("x", 200))
	line := strings.TrimPrefix(b.String(), "\r\x1b[K")
	if n := len([]rune(line)); n != progressWidth || !strings.HasSuffix(line, "…") {
		t.Errorf("long line drawn as %d runes %q, want %d ending in …", n, line, progressWidth)
	}
	p.clear()
	if !strings.HasSuffix(b.String(), "\r\x1b[K") {
		t.Error("clear did not erase the line")
	}
}

func TestProgressWidth(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, on: true, cols: 120}
	if p.width() != 119 {
		t.Errorf("width on a 120-column terminal: %d, want 119", p.width())
	}
	p.update("%s", strings.Repeat("x", 200))
	if n := len([]rune(strings.TrimPrefix(b.String(), "\r\x1b[K"))); n != 119 {
		t.Errorf("long line drawn as %d runes, want 119", n)
	}
}

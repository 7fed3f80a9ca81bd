package handoff

import (
	"bytes"
	"context"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// stream is an in-memory flush stream.
type stream struct{ bytes.Buffer }

func (*stream) Close() error      { return nil }
func (*stream) CloseWrite() error { return nil }

func TestNopFlushedDrains(t *testing.T) {
	var h Handoff = Nop{}
	s := &stream{}
	s.WriteString("frames nobody wants")
	if err := h.Flushed(context.Background(), api.VMSpec{Name: "vm1"}, s); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 {
		t.Errorf("%d bytes left in the flush stream", s.Len())
	}
	if err := h.Flushed(context.Background(), api.VMSpec{Name: "vm1"}, nil); err != nil {
		t.Errorf("nil flush: %v", err)
	}
	if _, ok := h.(Quiescer); ok {
		t.Error("Nop must not be a Quiescer: the agent would stop the guest itself")
	}
}

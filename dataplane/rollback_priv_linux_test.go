package dataplane

import (
	"context"
	"net"
	"testing"
)

// A destination rolled back while it held unicast frames for the guest
// and flooded ones (broadcast, IPv4 and IPv6 multicast): only the unicast
// ones are dropped "rollback_dest"; the flooded ones, which the source's
// guest had too, are counted apart. The rollback comes as soon as the
// program has captured them, some perhaps still in the ring.
func TestPrivRollbackDestFlooded(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, _, r, h, s := childHandoff(t, Config{})
	if err := h.Prepare(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		dst string
		n   int
	}{
		{vmMAC.String(), 4},
		{"ff:ff:ff:ff:ff:ff", 3},
		{"01:00:5e:00:00:fb", 2},
		{"33:33:00:00:00:01", 2},
		{vmMAC.String(), 3},
	} {
		mac, err := net.ParseMAC(b.dst)
		if err != nil {
			t.Fatal(err)
		}
		s.dst = mac
		s.mustSend(t, b.n)
	}
	waitCaptured(t, d, 14)
	if err := h.Rollback(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	st := h.Stats(testSpec)
	t.Logf("stats: %+v", st)
	if st.Held != 14 || st.Dropped[dropRollbackDest] != 7 || st.RollbackFlooded != 7 || st.DroppedTotal() != 7 {
		t.Fatalf("stats: %+v, want 14 held: 7 unicast dropped rollback_dest, 7 flooded", st)
	}
	if got := r.frames(); len(got) != 0 {
		t.Fatalf("held frames reached the tap: %v", got)
	}
}

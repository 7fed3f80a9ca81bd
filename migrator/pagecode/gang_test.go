package pagecode

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// Several channels share one gang store: the destination's decoders run
// at their own paces and acknowledge what they processed; every channel
// arrives byte for byte, content one VM sent goes as a reference for the
// others, and a store too small for the gang evicts without a stream ever
// finding its content gone.
func TestGangSharesContent(t *testing.T) {
	for _, slots := range []int{minSlots, 4096} {
		t.Run(fmt.Sprint(slots), func(t *testing.T) {
			const vms = 4
			g, err := NewGang(NewKey(), slots)
			if err != nil {
				t.Fatal(err)
			}
			// The store outlives a stream that ended (StoreLinger): a
			// stream whose decoder starts later still finds it.
			stores := NewStores(0)
			var ins [vms][]byte
			for v := range vms {
				var pass [][]byte
				for i := range 300 {
					switch i % 3 {
					case 0:
						pass = append(pass, textPage(uint64(i))) // shared by every VM
					case 1:
						pass = append(pass, testPage(uint64(v*1000+i))) // this VM's own
					default:
						pass = append(pass, testPage(uint64(i%7))) // shared, repeated
					}
				}
				ins[v] = qemuStream(pass, pass[:50])
			}
			var wg sync.WaitGroup
			outs := make([]bytes.Buffer, vms)
			encs := make([]*Encoder, vms)
			decs := make([]*Decoder, vms)
			errs := make(chan error, 2*vms)
			for v := range vms {
				pr, pw := io.Pipe()
				e, err := NewEncoder(pw, EncoderConfig{Gang: g, Mode: ModeAlways}, nil)
				if err != nil {
					t.Fatal(err)
				}
				encs[v], decs[v] = e, NewDecoder(pr, DecoderConfig{Stores: stores}, nil)
				wg.Add(2)
				go func() {
					defer wg.Done()
					for b := ins[v]; len(b) > 0; b = b[min(len(b), 5000):] {
						if _, err := e.Write(b[:min(len(b), 5000)]); err != nil {
							errs <- err
							return
						}
					}
					errs <- e.Close()
					pw.Close()
				}()
				go func() {
					defer wg.Done()
					_, err := decs[v].WriteTo(&outs[v])
					if err != nil {
						pr.CloseWithError(err) // the encoder stops too
					}
					errs <- err
				}()
			}
			stop := make(chan struct{})
			go func() { // the destination's acknowledgements
				for {
					for _, d := range decs {
						g.Ack(d.Progress())
					}
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
				}
			}()
			wg.Wait()
			close(stop)
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			var refs int64
			for v := range vms {
				if !bytes.Equal(outs[v].Bytes(), ins[v]) {
					t.Fatalf("vm %d: the destination got other bytes", v)
				}
				refs += encs[v].Stats().Refs
				t.Logf("vm %d: %+v", v, encs[v].Stats())
			}
			if slots > minSlots && refs < 3*100 {
				t.Errorf("%d references across the gang", refs)
			}
			if len(stores.gangs) != 1 {
				t.Errorf("%d destination stores, want the gang's, lingering", len(stores.gangs))
			}
			if g.Stale() {
				t.Error("a gang stale as soon as its streams ended")
			}
		})
	}
}

// A gang's store at the destination outlives its last stream by linger,
// is kept if a stream joins again meanwhile, then goes.
func TestStoresLinger(t *testing.T) {
	s := NewStores(0)
	s.linger = 20 * time.Millisecond
	id := GangID{1}
	_, leave1, err := s.join(id, minSlots)
	if err != nil {
		t.Fatal(err)
	}
	leave1()
	g2, leave2, _ := s.join(id, minSlots) // within linger: the same store
	time.Sleep(50 * time.Millisecond)
	s.mu.Lock()
	kept := s.gangs[id] == g2
	s.mu.Unlock()
	if !kept {
		t.Fatal("the store went while a stream used it")
	}
	leave2()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n, total := len(s.gangs), s.total
		s.mu.Unlock()
		if n == 0 && total == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d stores, %d slots left", n, total)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

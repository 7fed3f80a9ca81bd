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
			stores := NewStores(0)
			stores.linger = 10 * time.Millisecond
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
			// The store outlives its streams by linger, then goes.
			deadline := time.Now().Add(5 * time.Second)
			for {
				stores.mu.Lock()
				n, total := len(stores.gangs), stores.total
				stores.mu.Unlock()
				if n == 0 && total == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("destination stores left: %d gangs, %d slots", n, total)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if g.Stale() {
				t.Error("a gang stale as soon as its streams ended")
			}
		})
	}
}

package stream

import (
	"crypto/sha256"
	"hash"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy is a test's migration relay: it accepts the source QEMU's TCP
// connections and carries each to the destination's unix socket through
// a reader, the first (the main channel) through a Writer, the others
// (multifd) through MultifdWriters, the way an agent's relay would wrap
// its destination. It hashes what the source wrote and what the
// destination received, per connection.
type proxy struct {
	ln   net.Listener
	dst  string
	v    Visitor
	log  *slog.Logger
	wg   sync.WaitGroup
	mu   sync.Mutex
	legs []*leg
}

// leg is one proxied connection.
type leg struct {
	src, dst     hashCount
	r            fuzzWriter // the reader wrapping dst
	readErr      error      // reading the source
	writeErr     error      // the reader or the destination
	done         chan struct{}
	srcC         net.Conn
	dstC         net.Conn
	returnedPath int64 // bytes the destination sent back (return path)
}

type hashCount struct {
	h hash.Hash
	n int64
}

func (h *hashCount) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	return h.h.Write(p)
}

func startProxy(t *testing.T, dst string, v Visitor, log *slog.Logger) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, dst: dst, v: v, log: log}
	p.wg.Add(1)
	go p.accept(t)
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, l := range p.legs {
			l.srcC.Close()
			l.dstC.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) uri() string { return "tcp:" + p.ln.Addr().String() }

// accept dials the destination for each connection in accept order: the
// destination takes its first connection as the main channel.
func (p *proxy) accept(t *testing.T) {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		d, err := net.Dial("unix", p.dst)
		if err != nil {
			t.Errorf("proxy: dialing the destination: %v", err)
			c.Close()
			continue
		}
		l := &leg{src: hashCount{h: sha256.New()}, dst: hashCount{h: sha256.New()}, done: make(chan struct{}), srcC: c, dstC: d}
		out := io.MultiWriter(d, &l.dst)
		p.mu.Lock()
		if len(p.legs) == 0 {
			l.r = NewWriter(out, p.v, p.log)
		} else {
			l.r = NewMultifdWriter(out, p.v, p.log)
		}
		p.legs = append(p.legs, l)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.forward(l)
		go func() { // the return path, blind
			defer p.wg.Done()
			l.returnedPath, _ = io.Copy(c, d)
			c.(*net.TCPConn).CloseWrite()
		}()
	}
}

// forward carries the source's bytes in QEMU-sized reads.
func (p *proxy) forward(l *leg) {
	defer p.wg.Done()
	defer close(l.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := l.srcC.Read(buf)
		if n > 0 {
			l.src.Write(buf[:n])
			if _, werr := l.r.Write(buf[:n]); werr != nil {
				l.writeErr = werr
				break
			}
		}
		if err != nil {
			if err != io.EOF {
				l.readErr = err
			}
			break
		}
	}
	if err := l.r.Close(); err != nil && l.writeErr == nil {
		l.writeErr = err
	}
	l.dstC.(*net.UnixConn).CloseWrite()
}

// wait waits for every leg to have carried its source's last byte.
func (p *proxy) wait(t *testing.T, timeout time.Duration) []*leg {
	p.mu.Lock()
	legs := append([]*leg(nil), p.legs...)
	p.mu.Unlock()
	deadline := time.After(timeout)
	for i, l := range legs {
		select {
		case <-l.done:
		case <-deadline:
			t.Fatalf("proxy: connection %d still open", i)
		}
	}
	return legs
}

package qmpx

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// OOB is a QMP connection negotiated with out-of-band execution, on QEMU's
// second QMP socket. QEMU runs an exec-oob command in its monitor thread,
// so the command answers while QEMU's main thread is blocked: on the
// destination of a paused post-copy it is, as soon as device emulation
// touches a page that has not arrived (a frame for the guest does), and
// only migrate-recover can unblock it. Few commands allow OOB
// (migrate-recover and migrate-pause do; query-migrate does not); the
// connection's events tell the rest.
//
// The negotiation itself (qmp_capabilities) runs in QEMU's main thread:
// open the connection while QEMU is healthy and keep it.
type OOB struct {
	conn net.Conn
	wmu  sync.Mutex // one writer at a time

	mu      sync.Mutex
	next    int
	pending map[string]chan oobReply
	events  chan Event
	closed  chan struct{}
	err     error // why the connection ended, set before closed closes
}

type oobReply struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

// oobEvents bounds the events queued for a reader that does not keep up:
// the oldest are dropped (a waiter re-checks with its own means).
const oobEvents = 256

// DialOOB connects to the QMP socket at path and negotiates OOB.
func DialOOB(ctx context.Context, path string) (*OOB, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("qmp oob: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReaderSize(conn, 64<<10)
	var greeting struct {
		QMP struct {
			Capabilities []string `json:"capabilities"`
		} `json:"QMP"`
	}
	line, err := r.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &greeting)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("qmp oob: reading the greeting: %w", err)
	}
	oob := false
	for _, c := range greeting.QMP.Capabilities {
		oob = oob || c == "oob"
	}
	if !oob {
		conn.Close()
		return nil, fmt.Errorf("qmp oob: %s offers no out-of-band execution", path)
	}
	if _, err := conn.Write([]byte(`{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}` + "\n")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("qmp oob: negotiating: %w", err)
	}
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("qmp oob: negotiating: %w", err)
		}
		var rep oobReply
		if json.Unmarshal(line, &rep) == nil && (rep.Return != nil || rep.Error != nil) {
			if rep.Error != nil {
				conn.Close()
				return nil, fmt.Errorf("qmp oob: negotiating: %s", rep.Error.Desc)
			}
			break
		}
	}
	conn.SetDeadline(time.Time{})
	o := &OOB{conn: conn, pending: map[string]chan oobReply{}, events: make(chan Event, oobEvents), closed: make(chan struct{})}
	go o.read(r)
	return o, nil
}

// Exec runs cmd out of band and decodes its return into out (if not nil).
func (o *OOB) Exec(ctx context.Context, cmd string, args, out any) error {
	o.mu.Lock()
	o.next++
	id := "oob" + strconv.Itoa(o.next)
	ch := make(chan oobReply, 1)
	o.pending[id] = ch
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		delete(o.pending, id)
		o.mu.Unlock()
	}()
	req := map[string]any{"exec-oob": cmd, "id": id}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	o.wmu.Lock()
	_, err = o.conn.Write(append(b, '\n'))
	o.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("%s (oob): %w", cmd, err)
	}
	select {
	case rep := <-ch:
		if rep.Error != nil {
			return fmt.Errorf("%s (oob): %s: %s", cmd, rep.Error.Class, rep.Error.Desc)
		}
		if out != nil && rep.Return != nil {
			return json.Unmarshal(rep.Return, out)
		}
		return nil
	case <-o.closed:
		return fmt.Errorf("%s (oob): %w", cmd, o.err)
	case <-ctx.Done():
		return fmt.Errorf("%s (oob): %w", cmd, ctx.Err())
	}
}

// Events is the connection's event stream; it closes when the connection
// ends. One reader.
func (o *OOB) Events() <-chan Event { return o.events }

// Done is closed when the connection has ended.
func (o *OOB) Done() <-chan struct{} { return o.closed }

// Close ends the connection.
func (o *OOB) Close() error { return o.conn.Close() }

func (o *OOB) read(r *bufio.Reader) {
	var err error
	defer func() {
		o.mu.Lock()
		o.err = err
		o.mu.Unlock()
		close(o.closed)
		close(o.events)
	}()
	for {
		var line []byte
		if line, err = r.ReadBytes('\n'); err != nil {
			if errors.Is(err, net.ErrClosed) {
				err = errors.New("connection closed")
			}
			return
		}
		var msg struct {
			oobReply
			ID        string         `json:"id"`
			Event     string         `json:"event"`
			Data      map[string]any `json:"data"`
			Timestamp struct {
				Seconds      int64 `json:"seconds"`
				Microseconds int64 `json:"microseconds"`
			} `json:"timestamp"`
		}
		if json.Unmarshal(line, &msg) != nil {
			continue // not ours to judge: QEMU wrote it
		}
		if msg.Event != "" {
			ev := Event{Name: msg.Event, Data: msg.Data, Time: time.Unix(msg.Timestamp.Seconds, msg.Timestamp.Microseconds*1000)}
			select {
			case o.events <- ev:
			default:
				select { // full: drop the oldest
				case <-o.events:
				default:
				}
				o.events <- ev
			}
			continue
		}
		o.mu.Lock()
		ch := o.pending[msg.ID]
		o.mu.Unlock()
		if ch != nil {
			ch <- msg.oobReply
		}
	}
}

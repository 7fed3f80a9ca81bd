package qmpx

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
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

	prefix  string // of request ids: this process's
	mu      sync.Mutex
	kept    string // QEMU keeps a descriptor of our end under this name (NegotiateOOB)
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
	return NegotiateOOB(ctx, conn, "")
}

// NegotiateOOB reads QEMU's greeting on a fresh connection to a QMP socket
// and negotiates OOB. It takes conn (closed on error).
//
// With keep set, QEMU is then handed a descriptor of the connection's own
// client end (getfd keep): the connection outlives this process, and a
// successor takes QEMU's copy back (pidfd_getfd) to ResumeOOB it; Release
// ends that. Kept says whether QEMU took it. Negotiation and getfd run in
// QEMU's main thread: call this while it is free (at launch).
func NegotiateOOB(ctx context.Context, conn net.Conn, keep string) (*OOB, error) {
	r, err := negotiate(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	o := newOOB(conn, "")
	if keep != "" {
		if err := o.keep(ctx, r, keep); err != nil {
			conn.Close()
			return nil, err
		}
	}
	go o.read(r)
	return o, nil
}

func negotiate(ctx context.Context, conn net.Conn) (*bufio.Reader, error) {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	defer conn.SetDeadline(time.Time{})
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
		return nil, fmt.Errorf("qmp oob: reading the greeting: %w", err)
	}
	oob := false
	for _, c := range greeting.QMP.Capabilities {
		oob = oob || c == "oob"
	}
	if !oob {
		return nil, fmt.Errorf("qmp oob: %s offers no out-of-band execution", conn.RemoteAddr())
	}
	if _, err := conn.Write([]byte(`{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}` + "\n")); err != nil {
		return nil, fmt.Errorf("qmp oob: negotiating: %w", err)
	}
	refused, err := readReply(r, "negotiating")
	if err == nil && refused != "" {
		err = fmt.Errorf("qmp oob: negotiating: %s", refused)
	}
	return r, err
}

// readReply reads up to the reply to the one command in flight: QEMU's
// refusal as refused, a broken connection as err.
func readReply(r *bufio.Reader, what string) (refused string, err error) {
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return "", fmt.Errorf("qmp oob: %s: %w", what, err)
		}
		var rep oobReply
		if json.Unmarshal(line, &rep) == nil && (rep.Return != nil || rep.Error != nil) {
			if rep.Error != nil {
				return rep.Error.Desc, nil
			}
			return "", nil
		}
	}
}

// keep hands QEMU our end (getfd name), before the reader runs: QEMU makes
// a descriptor it receives blocking, and the flag belongs to the socket's
// open file, ours too. So the reply is read on a blocking socket (ctx's end
// shuts the socket down to wake the read), and the flag reset after it.
// QEMU refusing is not an error: the connection serves, unkept.
func (o *OOB) keep(ctx context.Context, r *bufio.Reader, name string) error {
	uc, ok := o.conn.(*net.UnixConn)
	if !ok {
		return errors.New("qmp oob: keep: not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("qmp oob: keep: %w", err)
	}
	b, _ := json.Marshal(map[string]any{"execute": "getfd", "arguments": map[string]any{"fdname": name}})
	var werr error
	if err := raw.Control(func(fd uintptr) {
		_, _, werr = uc.WriteMsgUnix(append(b, '\n'), unix.UnixRights(int(fd)), nil)
	}); err != nil || werr != nil {
		return fmt.Errorf("qmp oob: keep: %w", errors.Join(err, werr))
	}
	stop := context.AfterFunc(ctx, func() {
		raw.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	})
	refused, rerr := readReply(r, "keep")
	stopped := stop()
	var nerr error
	raw.Control(func(fd uintptr) { nerr = unix.SetNonblock(int(fd), true) })
	switch {
	case !stopped:
		return fmt.Errorf("qmp oob: keep: %w", ctx.Err())
	case rerr != nil:
		return rerr
	case nerr != nil:
		return fmt.Errorf("qmp oob: keep: %w", nerr)
	case refused == "":
		o.kept = name
	}
	return nil
}

// Kept says whether QEMU keeps a descriptor of the connection.
func (o *OOB) Kept() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.kept != ""
}

// ResumeOOB takes over a connection negotiated by an earlier process and
// kept by QEMU under name (NegotiateOOB): no greeting, no negotiation, so
// it works while QEMU's main thread is blocked. What that process left
// unread is skipped up to the next whole message; its requests' ids cannot
// match ours (ids carry the pid).
func ResumeOOB(conn net.Conn, name string) *OOB {
	o := newOOB(conn, name)
	go o.read(bufio.NewReaderSize(conn, 64<<10))
	return o
}

// newOOB is an OOB on conn, kept under kept ("" not), its reader not yet
// started.
func newOOB(conn net.Conn, kept string) *OOB {
	return &OOB{conn: conn, prefix: fmt.Sprintf("nfh%d-", os.Getpid()), kept: kept,
		pending: map[string]chan oobReply{}, events: make(chan Event, oobEvents), closed: make(chan struct{})}
}

// Release undoes the keeping (closefd, in band: bound ctx) and closes the
// connection: QEMU's end then closes too, and its OOB socket takes a new
// client. Close alone leaves the connection kept, for the next run.
func (o *OOB) Release(ctx context.Context) error {
	o.mu.Lock()
	name := o.kept
	o.mu.Unlock()
	var err error
	select {
	case <-o.closed: // QEMU's end is gone: nothing kept
	default:
		if name != "" {
			err = o.exec(ctx, "execute", "closefd", map[string]any{"fdname": name}, nil)
		}
	}
	o.Close()
	return err
}

// Exec runs cmd out of band and decodes its return into out (if not nil).
func (o *OOB) Exec(ctx context.Context, cmd string, args, out any) error {
	return o.exec(ctx, "exec-oob", cmd, args, out)
}

// exec sends cmd under key ("exec-oob", or "execute" for in band) and
// waits for its reply.
func (o *OOB) exec(ctx context.Context, key, cmd string, args, out any) error {
	o.mu.Lock()
	o.next++
	id := o.prefix + strconv.Itoa(o.next)
	ch := make(chan oobReply, 1)
	o.pending[id] = ch
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		delete(o.pending, id)
		o.mu.Unlock()
	}()
	req := map[string]any{key: cmd, "id": id}
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
		return fmt.Errorf("%s (%s): %w", cmd, key, err)
	}
	select {
	case rep := <-ch:
		if rep.Error != nil {
			return fmt.Errorf("%s (%s): %s: %s", cmd, key, rep.Error.Class, rep.Error.Desc)
		}
		if out != nil && rep.Return != nil {
			return json.Unmarshal(rep.Return, out)
		}
		return nil
	case <-o.closed:
		return fmt.Errorf("%s (%s): %w", cmd, key, o.err)
	case <-ctx.Done():
		return fmt.Errorf("%s (%s): %w", cmd, key, ctx.Err())
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

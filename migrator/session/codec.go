package session

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/pagecode"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// codecSet is a source session's page coders, one per QEMU channel,
// sharing one store (a gang of one VM's channels).
type codecSet struct {
	mu   sync.Mutex
	gang *pagecode.Gang
	encs []*pagecode.Encoder
}

// qemuHeader is the header of QEMU channel i's stream: coded if the
// request says codec auto.
func (s *source) qemuHeader(i int) wire.StreamHeader {
	kind := uint8(wire.KindQEMU)
	if s.cfg.Request.Codec == api.CodecAuto {
		kind = wire.KindQEMUCoded
	}
	return wire.StreamHeader{Kind: kind, Session: s.cfg.ID, Channel: uint16(i)}
}

// encode puts an encoder in front of st when h says the channel is coded.
func (s *source) encode(h wire.StreamHeader, st Stream) (Stream, error) {
	if h.Kind != wire.KindQEMUCoded {
		return st, nil
	}
	c := &s.codecs
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gang == nil {
		c.gang = s.cfg.Gang
	}
	if c.gang == nil {
		g, err := pagecode.NewGang(pagecode.NewKey(), 0)
		if err != nil {
			return nil, fmt.Errorf("page coder: %w", err)
		}
		c.gang = g
	}
	cfg := pagecode.EncoderConfig{Gang: c.gang, Multifd: h.Channel > 0}
	if s.cfg.Gang != nil {
		cfg.Mode = pagecode.ModeAlways // the gang's point: content the VMs share
	}
	if h.Channel == 0 {
		cfg.Tamper = s.cfg.Debug.CorruptPage
	}
	enc, err := pagecode.NewEncoder(st, cfg,
		s.log.With("channel", h.Channel))
	if err != nil {
		return nil, fmt.Errorf("page coder: %w", err)
	}
	c.encs = append(c.encs, enc)
	return &codedSource{Stream: st, enc: enc, back: pagecode.NewBackReader(st, enc.Ack)}, nil
}

// codecReport sums the channels' coders for the record; nil if none ran.
func (s *source) codecReport() *api.CodecReport {
	c := &s.codecs
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.encs) == 0 {
		return nil
	}
	r := &api.CodecReport{Codec: s.cfg.Request.Codec}
	for _, e := range c.encs {
		st := e.Stats()
		r.QEMUBytes += st.In
		r.LinkBytes += st.Out
		r.Pages += st.Pages
		r.Raw += st.Raw
		r.Refs += st.Refs
		r.Deltas += st.Deltas
		r.Lits += st.Lits
		if sum := e.Summary(); sum.Refused != "" && r.Refused == "" {
			r.Refused = sum.Refused
		}
	}
	return r
}

// recordCodec puts the coders' account in the record.
func (s *source) recordCodec() {
	if r := s.codecReport(); r != nil {
		s.rec.update(false, func(m *api.Migration) { m.Codec = r })
	}
}

// codedSource sends QEMU's bytes through a page encoder, and reads the way
// back: QEMU's return path and the destination's acknowledgements.
type codedSource struct {
	Stream
	enc  *pagecode.Encoder
	back *pagecode.BackReader
}

func (c *codedSource) Write(p []byte) (int, error) { return c.enc.Write(p) }

// Close closes the stream; an encoder not closed cleanly leaves its gang
// as broken (what the destination did not acknowledge is forgotten).
func (c *codedSource) Close() error {
	c.enc.Abandon()
	return c.Stream.Close()
}
func (c *codedSource) Read(p []byte) (int, error) { return c.back.Read(p) }

// CloseWrite ends the coded stream, then the stream's direction.
func (c *codedSource) CloseWrite() error {
	if err := c.enc.Close(); err != nil {
		c.Stream.Close()
		return err
	}
	return c.Stream.CloseWrite()
}

// codedDest rebuilds QEMU's bytes from a coded stream (pipe copies with
// WriteTo), and frames the way back: QEMU's return path and, every
// ackEvery while the decoder makes progress, its acknowledgement.
type codedDest struct {
	Stream
	dec   *pagecode.Decoder
	onErr func(error)
	back  *pagecode.BackWriter
	stop  chan struct{}
	once  sync.Once
	acks  sync.WaitGroup
}

// ackEvery paces the acknowledgements: a gang's other streams may refer
// to what this one stored once it is acknowledged.
const ackEvery = 10 * time.Millisecond

func (c *codedDest) acknowledge() {
	defer c.acks.Done()
	t := time.NewTicker(ackEvery)
	defer t.Stop()
	var sent uint64
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if _, seq := c.dec.Progress(); seq != sent {
			if c.back.Ack(seq) != nil {
				return
			}
			sent = seq
		}
	}
}

// stopAcks ends the acknowledgements and waits for the last one written.
func (c *codedDest) stopAcks() {
	c.once.Do(func() { close(c.stop) })
	c.acks.Wait()
}

func (c *codedDest) Write(p []byte) (int, error) { return c.back.Write(p) }

func (c *codedDest) CloseWrite() error {
	c.stopAcks()
	return c.Stream.CloseWrite()
}

// Close closes the stream first: an acknowledgement blocked on a peer
// that stopped reading then fails instead of holding the close.
func (c *codedDest) Close() error {
	err := c.Stream.Close()
	c.stopAcks()
	return err
}

// decode puts a decoder behind c's stream if it is coded.
func (d *dest) decode(c channel) Stream {
	if !c.coded {
		return c.st
	}
	cd := &codedDest{Stream: c.st, dec: pagecode.NewDecoder(c.st, pagecode.DecoderConfig{Stores: d.srv.stores}, d.log),
		back: pagecode.NewBackWriter(c.st), stop: make(chan struct{}), onErr: func(err error) {
			if errors.Is(err, pagecode.ErrMismatch) || errors.Is(err, pagecode.ErrMalformed) {
				err = fmt.Errorf("qemu channel %d: %w", c.index, err)
				d.codecErr.CompareAndSwap(nil, &err)
				d.log.Error("coded stream refused", "err", err)
			}
		}}
	cd.acks.Add(1)
	go cd.acknowledge()
	return cd
}

// WriteTo rebuilds QEMU's bytes onto w. A refused stream is noted before
// the pipe breaks QEMU's connection, so the failure it causes says why.
func (c *codedDest) WriteTo(w io.Writer) (int64, error) {
	n, err := c.dec.WriteTo(w)
	if err != nil {
		c.onErr(err)
	}
	return n, err
}

func (c *codedDest) Read([]byte) (int, error) {
	return 0, errors.New("a coded stream is read by WriteTo")
}

package stream

import "fmt"

// command reads a COMMAND's header.
func (w *Writer) command(cmd, n uint16) error {
	m := &w.m
	m.sum.Commands++
	w.cmd = cmd
	switch cmd {
	case cmdPackaged:
		if n != 4 {
			return malformedf("PACKAGED with %d bytes of arguments", n)
		}
		return m.expect(4, stPackaged)
	case cmdPostcopyAdvise:
		m.v.Event(Event{Kind: EventCommand, Offset: w.elemAt, Cmd: cmd, Len: uint32(n)})
		switch n {
		case 0: // post-copy for dirty bitmaps only
			return m.expect(1, stTop)
		case 16:
			return m.expect(16, stAdvise)
		}
		return malformedf("POSTCOPY_ADVISE with %d bytes", n)
	case cmdEnableColo:
		return w.opaque("COLO", true)
	case cmdRAMDiscard:
		m.v.Event(Event{Kind: EventCommand, Offset: w.elemAt, Cmd: cmd, Len: uint32(n)})
		return m.expect(int(n), stDiscard)
	case cmdOpenReturnPath, cmdPing, cmdPostcopyListen, cmdPostcopyRun,
		cmdRecvBitmap, cmdPostcopyResume:
		m.v.Event(Event{Kind: EventCommand, Offset: w.elemAt, Cmd: cmd, Len: uint32(n)})
		return m.pass(int64(n), stCmdDone)
	}
	return malformedf("command %d", cmd)
}

// advise checks POSTCOPY_ADVISE's page sizes: MEM_SIZE carries a block's
// page size only when it differs from the host's, which only the two QEMUs
// know; with every block on 4 KiB pages there is none to expect.
func (w *Writer) advise(summary, target uint64) error {
	if summary != hostPageSize || target != PageSize {
		return w.opaque(fmt.Sprintf("post-copy with RAM page sizes %#x (target %#x)", summary, target), true)
	}
	return w.m.expect(1, stTop)
}

// discard reads RAM_DISCARD's data (savevm.c,
// qemu_savevm_send_postcopy_ram_discard): u8 version 0, u8 name length,
// the block name, a NUL, then be64 start and be64 length pairs, in bytes
// of the block. They are the pages dirty when post-copy started (ram.c
// sends the dirty bitmap after its last sync), which the source sends
// again: reported as one EventDiscard.
func (w *Writer) discard(b []byte) error {
	if len(b) < 3 || b[0] != 0 || len(b) < 3+int(b[1]) || b[2+int(b[1])] != 0 {
		return malformedf("RAM_DISCARD of %d bytes without its version 0 and a block name", len(b))
	}
	name, rest := string(b[2:2+int(b[1])]), b[3+int(b[1]):]
	if len(rest)%16 != 0 {
		return malformedf("RAM_DISCARD for %q with %d bytes of ranges", name, len(rest))
	}
	e := Event{Kind: EventDiscard, Offset: w.elemAt, Cmd: cmdRAMDiscard, Name: name, Len: uint32(len(rest) / 16)}
	for ; len(rest) > 0; rest = rest[16:] {
		e.Extents = append(e.Extents, Extent{Start: be64(rest), Len: be64(rest[8:])})
	}
	w.m.v.Event(e)
	return w.m.expect(1, stTop)
}

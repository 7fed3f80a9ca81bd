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
	case cmdOpenReturnPath, cmdPing, cmdPostcopyListen, cmdPostcopyRun, cmdRAMDiscard,
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
